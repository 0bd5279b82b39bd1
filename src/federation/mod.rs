//! OpenID Federation 1.0: trust between this server and other countries' providers and
//! services, established through signed statements up to shared trust anchors instead
//! of one bilateral configuration per partner.
//!
//! - [`statement`]: entity statements, signed and verified.
//! - [`entity`]: what this server publishes about itself (its entity configuration)
//!   and, as a trust anchor or intermediate, about its subordinates.
//! - [`subordinates`]: the operator's register of those subordinates.
//! - [`resolve`]: trust chains of other entities, fetched within bounds and checked up
//!   to a configured trust anchor, with the metadata policies applied.
//! - [`policy`]: the metadata policy operators (§6.1).
//! - [`trust_mark`]: trust marks, issued and checked (§7).
//! - [`registration`]: relying parties of a trusted federation registered
//!   automatically from their resolved metadata (§12.1).
//!
//! Federation statements are signed with their own keys (`tokens::keys::KeyPurpose`):
//! a token key never signs one, and a federation key never signs a token.

pub mod entity;
pub mod policy;
pub mod registration;
pub mod resolve;
pub mod statement;
pub mod subordinates;
pub mod trust_mark;

/// The path of an entity's configuration under its identifier (§9).
pub const CONFIGURATION_PATH: &str = "/.well-known/openid-federation";
/// This server's federation endpoints, under its issuer.
pub const FETCH_PATH: &str = "/federation/fetch";
pub const LIST_PATH: &str = "/federation/list";
pub const RESOLVE_PATH: &str = "/federation/resolve";

/// Where an entity publishes its configuration: its identifier, then the well-known
/// path (an identifier with a path keeps it, §9).
pub fn configuration_url(entity_id: &str) -> String {
    format!("{}{CONFIGURATION_PATH}", entity_id.trim_end_matches('/'))
}
