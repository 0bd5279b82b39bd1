//! JWT access tokens (RFC 9068): resource servers verify them offline against the JWKS.

use serde::{Deserialize, Serialize};

use crate::domain::acr::Acr;

/// RFC 9068 §2.2 claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub jti: String,
    pub exp: i64,
    pub iat: i64,
    /// Absent when no citizen is involved (client credentials): then `sub` is the
    /// client's id (RFC 9068 §2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<Acr>,
    /// The key the token is bound to (RFC 9449 §6.1): only a request with a DPoP proof
    /// signed by it may use the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800 §3.1 `cnf`, with the JWK thumbprint of RFC 9449 §6.1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

impl AccessTokenClaims {
    /// Whether the token speaks for a citizen, rather than for a client acting as itself.
    pub fn has_citizen(&self) -> bool {
        self.auth_time.is_some()
    }

    /// The thumbprint of the key the token is bound to, if it is DPoP-bound.
    pub fn jkt(&self) -> Option<&str> {
        self.cnf.as_ref().map(|cnf| cnf.jkt.as_str())
    }
}

impl super::jwt::Issued for AccessTokenClaims {
    fn issuer(&self) -> &str {
        &self.iss
    }
}

/// RFC 9068 §2.1: the `typ` header of a JWT access token.
pub const TYP: &str = "at+jwt";
