//! The keys of `private_key_jwt` clients: registered inline, or fetched from the
//! client's `jwks_uri` with a timeout and a size limit, and cached.
//!
//! A cached set is used for [`FRESH`]; after that it is fetched again. When an
//! assertion names a key the cached set lacks (the client rotated its keys), the set is
//! fetched again at once, but at most every [`REFETCH_FLOOR`], so that assertions with
//! made-up key ids cannot make us hammer the client's server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;

use crate::domain::client::Client;
use crate::domain::client_keys::{self, MAX_JWKS_BYTES};

const FRESH: Duration = Duration::from_secs(300);
const REFETCH_FLOOR: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("the client has no keys registered")]
    NoKeys,
    #[error("the client's keys are invalid: {0}")]
    Invalid(#[from] client_keys::JwksError),
    #[error("the client's jwks_uri could not be fetched: {0}")]
    Fetch(String),
}

struct Cached {
    fetched: Instant,
    keys: Arc<JwkSet>,
}

/// Fetched key sets, by `jwks_uri`.
#[derive(Default)]
pub struct ClientKeyCache {
    sets: Mutex<HashMap<String, Cached>>,
}

impl ClientKeyCache {
    fn cached(&self, uri: &str) -> Option<(Duration, Arc<JwkSet>)> {
        let sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
        sets.get(uri).map(|c| (c.fetched.elapsed(), c.keys.clone()))
    }

    fn store(&self, uri: &str, keys: Arc<JwkSet>) {
        let mut sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
        sets.insert(
            uri.to_owned(),
            Cached {
                fetched: Instant::now(),
                keys,
            },
        );
    }

    /// The client's key set, which must hold `kid` if one is named (else the caller
    /// fails the assertion).
    pub async fn keys(
        &self,
        http: &reqwest::Client,
        client: &Client,
        kid: Option<&str>,
    ) -> Result<Arc<JwkSet>, KeysError> {
        if let Some(document) = &client.jwks {
            return Ok(Arc::new(client_keys::parse_jwks(document.as_bytes())?));
        }
        let uri = client.jwks_uri.as_deref().ok_or(KeysError::NoKeys)?;
        if let Some((age, keys)) = self.cached(uri) {
            let has_kid = kid.is_none_or(|kid| keys.find(kid).is_some());
            if age < FRESH && (has_kid || age < REFETCH_FLOOR) {
                return Ok(keys);
            }
        }
        let keys = Arc::new(fetch(http, uri).await?);
        self.store(uri, keys.clone());
        Ok(keys)
    }
}

async fn fetch(http: &reqwest::Client, uri: &str) -> Result<JwkSet, KeysError> {
    let fetch_error = |e: reqwest::Error| {
        KeysError::Fetch(if e.is_timeout() {
            "timeout".into()
        } else {
            "request failed".into()
        })
    };
    let mut response = http
        .get(uri)
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(fetch_error)?;
    if !response.status().is_success() {
        return Err(KeysError::Fetch(format!(
            "status {}",
            response.status().as_u16()
        )));
    }
    // Read at most the limit, whatever Content-Length claims.
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(fetch_error)? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(client_keys::JwksError::TooLarge.into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(client_keys::parse_jwks(&body)?)
}
