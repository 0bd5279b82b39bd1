//! ID tokens (OIDC Core §2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::domain::acr::{Acr, Amr};

use super::random::sha256;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    /// OIDC Core §2: the party to which the token was issued.
    pub azp: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub at_hash: String,
    pub acr: Acr,
    pub amr: Amr,
    /// The login session (OIDC Back-Channel Logout 1.0 §2.1), so that a relying party
    /// can match a logout token to the sessions it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// OIDC Core §3.1.3.6: base64url of the left half of the hash of the access token,
/// with the hash of the ID token's `alg` (SHA-256 for both RS256 and ES256).
pub fn at_hash(access_token: &str) -> String {
    let digest = sha256(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

impl super::jwt::Issued for IdTokenClaims {
    fn issuer(&self) -> &str {
        &self.iss
    }
}
