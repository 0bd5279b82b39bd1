//! Fixtures for the unit tests of token signing and verification.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::access_token::AccessTokenClaims;
use super::key_set::{KeySet, LoadedKey};
use super::keys::{KeyLifetime, SigningKey};

pub const ISSUER: &str = "https://id.example";

/// An access token's claims from [`ISSUER`], issued at 1,900,000,000 (2030).
pub fn access_claims(jti: &str, exp: i64) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "s".into(),
        aud: "a".into(),
        client_id: "c".into(),
        scope: "openid".into(),
        jti: jti.into(),
        exp,
        iat: 1_900_000_000,
        auth_time: None,
        acr: None,
        cnf: None,
    }
}

/// A key set of `keys`, all active and published.
pub fn key_set(keys: &[&Arc<SigningKey>]) -> KeySet {
    let activated_at = DateTime::<Utc>::from_timestamp(1_000_000_000, 0).unwrap();
    KeySet::new(
        keys.iter()
            .map(|key| LoadedKey {
                key: Arc::clone(key),
                lifetime: KeyLifetime {
                    activated_at,
                    retired_at: None,
                    published_until: None,
                },
            })
            .collect(),
    )
    .unwrap()
}
