//! The protocol's services, below HTTP: how a client proves itself (`client_auth`,
//! `assertion`, with the registrations and keys it is checked against in `clients` and
//! `client_keys`), what each grant of the token endpoint does (`token`), the
//! authorization request and the login interaction behind it (`authorize`), the answers
//! of introspection, revocation and userinfo (`introspection`, `revocation`,
//! `userinfo`), and logout: ending a session and what that tells the relying parties
//! (`logout`); DPoP proofs, wherever a request carries one (`dpop`). Every function here takes plain values (the authenticated client, the
//! parsed request, `now` read once per request, and a [`Context`]) and returns its
//! result or an [`error::OAuthError`]; none sees an HTTP request. The web layer parses,
//! calls one function, and renders.

pub mod assertion;
pub mod authorize;
pub mod client_auth;
pub mod client_keys;
pub mod clients;
mod context;
pub mod dpop;
pub mod encryption;
pub mod error;
pub mod introspection;
pub mod logout;
pub mod revocation;
pub mod token;
pub mod userinfo;

pub use context::Context;
