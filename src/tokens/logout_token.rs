//! Logout tokens (OIDC Back-Channel Logout 1.0 §2.4): a signed statement that a login
//! session has ended, sent to each relying party the session signed in to.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// §2.4: explicit typing, so that a logout token cannot be mistaken for an ID token.
pub const TYP: &str = "logout+jwt";
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token is consumed at once; two minutes absorbs clock skew and retries.
pub const TTL_SECS: i64 = 120;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    pub iss: String,
    /// The subject as this relying party knows it (pairwise or public).
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub sid: String,
    pub events: Value,
}

impl LogoutTokenClaims {
    pub fn new(iss: &str, sub: &str, aud: &str, sid: &str, jti: String, now: i64) -> Self {
        LogoutTokenClaims {
            iss: iss.to_owned(),
            sub: sub.to_owned(),
            aud: aud.to_owned(),
            iat: now,
            exp: now + TTL_SECS,
            jti,
            sid: sid.to_owned(),
            events: json!({ EVENT: {} }),
        }
    }
}
