//! JWT access tokens (RFC 9068): resource servers verify them offline against the JWKS.

use serde::{Deserialize, Serialize};

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
    pub auth_time: i64,
    pub acr: String,
}

/// RFC 9068 §2.1: the `typ` header of a JWT access token.
pub const TYP: &str = "at+jwt";
