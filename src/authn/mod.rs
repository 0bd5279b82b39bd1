//! Proving who the person is: passwords (Argon2id), second factors (TOTP, recovery
//! codes, passkeys), login sessions, and the login decision that combines the account with the
//! population register.

pub mod contact_proof;
pub mod cookies;
pub mod enrolment;
pub mod factor_lockout;
pub mod login;
pub mod new_device;
pub mod passkey;
pub mod password;
pub mod password_change;
pub mod password_policy;
pub mod recovery;
pub mod recovery_codes;
pub mod second_factor;
pub mod session;
pub mod throttle;
pub mod totp;

use std::time::Duration;

use crate::server_secret::ServerSecret;
use crate::storage::Db;
use crate::store::Store;

/// What the second-factor and passkey services need from the running server, as plain
/// parts: the edge builds it (`AppState::authn`), so that no service sees the whole
/// application state.
#[derive(Clone, Copy)]
pub struct AuthnContext<'a> {
    pub db: &'a Db,
    pub store: &'a dyn Store,
    pub secret: &'a ServerSecret,
    /// The WebAuthn relying party; `None` where passkeys are off (an issuer whose host
    /// is an IP address, where browsers refuse them).
    pub passkeys: Option<&'a webauthn_rs::Webauthn>,
    /// How long a login may take (`session.login_ttl_secs`): the life of a passkey
    /// challenge made for it.
    pub login_ttl: Duration,
}
