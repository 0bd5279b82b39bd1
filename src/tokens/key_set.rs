//! The signing keys one instance holds in memory: every published key, parsed once
//! (parsing a key costs as much as using it), and the JWKS answer made from them.
//!
//! A [`KeySet`] never changes; [`KeyRing`] swaps in a new one when the keys are
//! reloaded, so a request sees one consistent set from start to end without a lock.
//! Which key signs is decided at signing time from `now`, so all instances switch to a
//! pre-published key at the same instant, whenever they last reloaded.

use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::TokenError;
use super::keys::{KeyLifetime, KeyState, SigningAlg, SigningKey};
use super::random::sha256;

/// A published key with the instants of its life.
#[derive(Debug, Clone)]
pub struct LoadedKey {
    pub key: Arc<SigningKey>,
    pub lifetime: KeyLifetime,
}

#[derive(Debug)]
pub struct KeySet {
    /// Oldest activation first (ties broken by kid), so "newest" is well defined.
    keys: Vec<LoadedKey>,
    jwks_json: String,
    etag: String,
}

impl KeySet {
    pub fn new(mut keys: Vec<LoadedKey>) -> Result<Self, TokenError> {
        keys.sort_by(|a, b| {
            (a.lifetime.activated_at, a.key.kid()).cmp(&(b.lifetime.activated_at, b.key.kid()))
        });
        // RFC 7517 §5: public parts only, newest first (the order carries no meaning).
        let jwks = json!({
            "keys": keys.iter().rev().map(|k| k.key.public_jwk().clone()).collect::<Vec<_>>()
        });
        let jwks_json =
            serde_json::to_string(&jwks).map_err(|e| TokenError::Encoding(e.to_string()))?;
        let etag = format!(
            "\"{}\"",
            URL_SAFE_NO_PAD.encode(&sha256(jwks_json.as_bytes())[..16])
        );
        Ok(KeySet {
            keys,
            jwks_json,
            etag,
        })
    }

    /// The key that signs new tokens with `alg` at `now`: the newest active one. If none
    /// is active yet (this instance's clock is behind the one that rotated), the newest
    /// pending one, rather than no token at all.
    pub fn signing_key(
        &self,
        alg: SigningAlg,
        now: DateTime<Utc>,
    ) -> Result<&SigningKey, TokenError> {
        let of_alg = || self.keys.iter().rev().filter(move |k| k.key.alg() == alg);
        of_alg()
            .find(|k| k.lifetime.state(now) == KeyState::Active)
            .or_else(|| of_alg().find(|k| k.lifetime.state(now) == KeyState::Pending))
            .map(|k| k.key.as_ref())
            .ok_or_else(|| TokenError::Key(format!("no {} key can sign", alg.as_str())))
    }

    /// A published key, for verifying a token that names it.
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys
            .iter()
            .find(|k| k.key.kid() == kid)
            .map(|k| k.key.as_ref())
    }

    /// The parsed key of `kid`, to reuse on reload instead of decrypting it again.
    pub fn shared(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.keys
            .iter()
            .find(|k| k.key.kid() == kid)
            .map(|k| k.key.clone())
    }

    /// The JWKS document (RFC 7517 §5), serialised once per set.
    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }

    /// A strong validator of [`Self::jwks_json`] (RFC 9110 §8.8.3).
    pub fn etag(&self) -> &str {
        &self.etag
    }

    pub fn iter(&self) -> impl Iterator<Item = &LoadedKey> {
        self.keys.iter()
    }
}

/// The current key set of an instance, replaced as a whole on reload.
#[derive(Debug)]
pub struct KeyRing(ArcSwap<KeySet>);

impl KeyRing {
    pub fn new(set: KeySet) -> Self {
        KeyRing(ArcSwap::from_pointee(set))
    }

    pub fn current(&self) -> Arc<KeySet> {
        self.0.load_full()
    }

    pub fn replace(&self, set: KeySet) {
        self.0.store(Arc::new(set));
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn loaded(key: &Arc<SigningKey>, life: KeyLifetime) -> LoadedKey {
        LoadedKey {
            key: key.clone(),
            lifetime: life,
        }
    }

    #[test]
    fn the_signing_key_switches_at_the_activation_instant_and_both_stay_published() {
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let old = Arc::new(SigningKey::generate(SigningAlg::Es256).unwrap().0);
        let new = Arc::new(SigningKey::generate(SigningAlg::Es256).unwrap().0);
        let switch = t0 + Duration::seconds(600);
        let set = KeySet::new(vec![
            loaded(
                &new,
                KeyLifetime {
                    activated_at: switch,
                    retired_at: None,
                    published_until: None,
                },
            ),
            loaded(
                &old,
                KeyLifetime {
                    activated_at: t0 - Duration::days(1),
                    retired_at: Some(switch),
                    published_until: Some(switch + Duration::hours(2)),
                },
            ),
        ])
        .unwrap();
        let signer = |at| {
            set.signing_key(SigningAlg::Es256, at)
                .unwrap()
                .kid()
                .to_owned()
        };
        assert_eq!(signer(t0), old.kid());
        assert_eq!(signer(switch), new.kid());
        assert!(set.find(old.kid()).is_some() && set.find(new.kid()).is_some());
        assert!(set.signing_key(SigningAlg::Rs256, t0).is_err());
        assert!(set.jwks_json().contains(old.kid()) && set.jwks_json().contains(new.kid()));
    }
}
