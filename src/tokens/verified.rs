//! Access tokens whose signature this instance has already checked.
//!
//! A resource server introspects (or calls userinfo with) the same access token on every
//! request it receives, and the ES256 verification is most of the cost of those answers
//! (about 56 µs of a core; 42 % of introspection's CPU in the profile of
//! docs/PERFORMANCE.md). A token's signature, `typ` and `iss` cannot change, so the
//! verified claims are kept under the SHA-256 of the whole token until the token
//! expires.
//!
//! What is still checked on every request, by the callers: expiry against the clock,
//! the revocation list, the client, and the register. What a hit checks here: that the
//! key which signed the token is still in this instance's key set, so that a key an
//! operator removed in an emergency stops vouching for its tokens at the next reload.
//! Only tokens that verified are kept (a forged one costs its full check every time),
//! and at most [`MAX_ENTRIES`] of them: at worst a few megabytes.

use std::sync::Arc;

use chrono::DateTime;

use super::access_token::{self, AccessTokenClaims};
use super::jwt::{self, JwtError};
use super::key_set::KeySet;
use super::random;
use crate::cache::TtlCache;

pub const MAX_ENTRIES: usize = 10_000;

#[derive(Clone)]
struct Verified {
    kid: String,
    claims: Arc<AccessTokenClaims>,
}

pub struct VerifiedTokens {
    entries: TtlCache<Vec<u8>, Verified>,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        VerifiedTokens {
            entries: TtlCache::new(MAX_ENTRIES),
        }
    }
}

impl VerifiedTokens {
    /// The claims of `token`, an access token of ours that is verified (signature,
    /// `typ`, `iss`), from the cache when this instance verified it before. `now` (Unix
    /// seconds) only decides what is worth keeping; expiry is the caller's to check.
    pub fn verify(
        &self,
        keys: &KeySet,
        token: &str,
        issuer: &str,
        now: i64,
    ) -> Result<Arc<AccessTokenClaims>, JwtError> {
        let digest = random::sha256(token.as_bytes());
        let Some(now_at) = DateTime::from_timestamp(now, 0) else {
            return Err(JwtError::Invalid);
        };
        if let Some(hit) = self.entries.get(&digest, now_at)
            && keys.find(&hit.kid).is_some()
        {
            return Ok(hit.claims);
        }
        let (claims, kid) =
            jwt::verify_with_kid::<AccessTokenClaims>(keys, token, access_token::TYP, issuer)?;
        let claims = Arc::new(claims);
        // Kept until the token expires; an expired one is not worth keeping.
        if let Some(expires) = DateTime::from_timestamp(claims.exp, 0).filter(|e| *e > now_at) {
            let verified = Verified {
                kid,
                claims: claims.clone(),
            };
            self.entries.insert(digest, verified, now_at, expires);
        }
        Ok(claims)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::jwt::sign;
    use crate::tokens::keys::{SigningAlg, SigningKey};
    use crate::tokens::test_support::{ISSUER, access_claims as claims, key_set as set};

    const NOW: i64 = 1_900_000_100;

    #[test]
    fn a_verified_token_is_kept_and_a_forged_one_never() {
        let key = Arc::new(SigningKey::generate(SigningAlg::Es256).unwrap().0);
        let keys = set(&[&key]);
        let cache = VerifiedTokens::default();
        let token = sign(&key, access_token::TYP, &claims("j", NOW + 300)).unwrap();
        assert_eq!(cache.verify(&keys, &token, ISSUER, NOW).unwrap().jti, "j");
        assert_eq!(cache.len(), 1);
        // Served again from the cache, to the same claims.
        assert_eq!(cache.verify(&keys, &token, ISSUER, NOW).unwrap().jti, "j");
        assert_eq!(cache.len(), 1);
        // One character changed is another token: checked in full, refused, not kept.
        let mut forged = token.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert!(cache.verify(&keys, &forged, ISSUER, NOW).is_err());
        assert_eq!(cache.len(), 1);
        // Another issuer's expectations are checked on a miss as before.
        let other = VerifiedTokens::default();
        assert!(
            other
                .verify(&keys, &token, "https://other.example", NOW)
                .is_err()
        );
        assert_eq!(other.len(), 0);
    }

    #[test]
    fn a_removed_key_stops_vouching_for_its_cached_tokens() {
        let key = Arc::new(SigningKey::generate(SigningAlg::Es256).unwrap().0);
        let next = Arc::new(SigningKey::generate(SigningAlg::Es256).unwrap().0);
        let cache = VerifiedTokens::default();
        let token = sign(&key, access_token::TYP, &claims("j", NOW + 300)).unwrap();
        assert!(cache.verify(&set(&[&key]), &token, ISSUER, NOW).is_ok());
        assert_eq!(
            cache
                .verify(&set(&[&next]), &token, ISSUER, NOW)
                .unwrap_err(),
            JwtError::UnknownKey
        );
    }

    #[test]
    fn expired_tokens_are_not_kept_and_the_cache_stays_bounded() {
        let key = Arc::new(SigningKey::generate(SigningAlg::Es256).unwrap().0);
        let keys = set(&[&key]);
        let cache = VerifiedTokens::default();
        let expired = sign(&key, access_token::TYP, &claims("old", NOW - 1)).unwrap();
        // Still verified (expiry is the caller's), but not worth keeping.
        assert_eq!(
            cache.verify(&keys, &expired, ISSUER, NOW).unwrap().jti,
            "old"
        );
        assert_eq!(cache.len(), 0);
        for i in 0..=MAX_ENTRIES {
            let token = sign(&key, access_token::TYP, &claims(&i.to_string(), NOW + 300)).unwrap();
            cache.verify(&keys, &token, ISSUER, NOW).unwrap();
            assert!(cache.len() <= MAX_ENTRIES);
        }
        assert_eq!(cache.len(), 1, "full of live tokens: started again");
    }
}
