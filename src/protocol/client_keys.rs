//! The keys of clients: registered inline, or fetched from the client's `jwks_uri` with
//! a timeout and a size limit, and cached. One set serves both uses: the keys that
//! verify `private_key_jwt` assertions ([`ClientKeyCache::keys`]) and the key an ID
//! token or userinfo answer is encrypted to ([`ClientKeyCache::encryption_key`]).
//!
//! Anyone can send an assertion naming a client, without knowing its key, so fetches
//! are bounded whatever the senders do: a `jwks_uri` is fetched at most once per
//! [`REFETCH_FLOOR`], successful or not, and requests that need a fetch at the same
//! time wait for one (single-flight) instead of each sending their own. A cached set
//! is used for [`FRESH`]; after that it is fetched again. An assertion naming a key the
//! cached set lacks (the client rotated its keys) fetches again at once if the last
//! fetch is older than the floor; otherwise it fails. So does an answer to encrypt when
//! the cached set has no key for the client's algorithm. The cache holds at most
//! [`MAX_URIS`] sets (the least recently fetched go first), so it stays small even if
//! many clients are registered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::jwk::JwkSet;

use crate::domain::client::Client;
use crate::domain::client_keys::{self, ClientJwks, EncryptionKey, MAX_JWKS_BYTES};
use crate::domain::client_security::KeyManagementAlg;
use crate::outbound::Outbound;

const FRESH: TimeDelta = TimeDelta::seconds(300);
/// The least time between two fetches of one `jwks_uri`.
pub const REFETCH_FLOOR: TimeDelta = TimeDelta::seconds(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_URIS: usize = 1024;

#[derive(Debug, Clone, thiserror::Error)]
pub enum KeysError {
    #[error("the client has no keys registered")]
    NoKeys,
    #[error("the client's keys are invalid: {0}")]
    Invalid(#[from] client_keys::JwksError),
    #[error("the client's jwks_uri could not be fetched: {0}")]
    Fetch(String),
    #[error("the client's keys hold none marked use=enc that {0} can encrypt to")]
    NoEncryptionKey(&'static str),
}

/// What is known of one `jwks_uri`.
#[derive(Default)]
struct Entry {
    /// The last set fetched, and when.
    keys: Option<(DateTime<Utc>, Arc<ClientJwks>)>,
    /// When the last fetch started, and why it failed if it did.
    attempt: Option<(DateTime<Utc>, Option<KeysError>)>,
    /// Held by the one request fetching; the others wait on it.
    flight: Arc<tokio::sync::Mutex<()>>,
}

enum Decision {
    Answer(Result<Arc<ClientJwks>, KeysError>),
    Fetch(Arc<tokio::sync::Mutex<()>>),
}

/// Fetched key sets, by `jwks_uri`.
#[derive(Default)]
pub struct ClientKeyCache {
    sets: Mutex<HashMap<String, Entry>>,
}

impl ClientKeyCache {
    /// Whether the cache answers for `uri` now, or a fetch is due (and whose turn to
    /// wait for). A fresh set that lacks what the caller `wants` (the key an assertion
    /// names, a key to encrypt to) is fetched again, at most once per floor.
    fn decide(
        &self,
        uri: &str,
        wants: &dyn Fn(&ClientJwks) -> bool,
        now: DateTime<Utc>,
    ) -> Decision {
        let mut sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
        if !sets.contains_key(uri) && sets.len() >= MAX_URIS {
            evict_one(&mut sets);
        }
        let entry = sets.entry(uri.to_owned()).or_default();
        let fresh = entry
            .keys
            .as_ref()
            .filter(|(fetched, _)| now - *fetched < FRESH)
            .map(|(_, keys)| keys.clone());
        if let Some(keys) = &fresh
            && wants(keys)
        {
            return Decision::Answer(Ok(keys.clone()));
        }
        match &entry.attempt {
            // Fetched (or tried) too recently to fetch again: answer with what there
            // is; the caller fails an assertion (or an encryption) whose key is not in it.
            Some((at, failure)) if now - *at < REFETCH_FLOOR => {
                Decision::Answer(match (fresh, failure) {
                    (Some(keys), _) => Ok(keys),
                    (None, Some(failure)) => Err(failure.clone()),
                    (None, None) => Err(KeysError::Fetch("fetched too recently".into())),
                })
            }
            _ => Decision::Fetch(entry.flight.clone()),
        }
    }

    fn record(
        &self,
        uri: &str,
        started: DateTime<Utc>,
        outcome: &Result<Arc<ClientJwks>, KeysError>,
    ) {
        let mut sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
        let entry = sets.entry(uri.to_owned()).or_default();
        match outcome {
            Ok(keys) => {
                entry.keys = Some((started, keys.clone()));
                entry.attempt = Some((started, None));
            }
            Err(e) => entry.attempt = Some((started, Some(e.clone()))),
        }
    }

    /// The client's key set for signatures, which must hold `kid` if one is named (else
    /// the caller fails the assertion). `now` is the request's: the cache runs on the
    /// injected clock like everything else, so tests move it rather than wait.
    pub async fn keys(
        &self,
        http: &Outbound,
        client: &Client,
        kid: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Arc<JwkSet>, KeysError> {
        let wants = |keys: &ClientJwks| kid.is_none_or(|kid| keys.signing.find(kid).is_some());
        Ok(self.sets(http, client, &wants, now).await?.signing.clone())
    }

    /// The key of `client` that `alg` encrypts to: the first key marked `use: enc` that
    /// fits it. A cached set without one is fetched again (the client may have added or
    /// rotated its key), within the same bounds as an unknown `kid`.
    pub async fn encryption_key(
        &self,
        http: &Outbound,
        client: &Client,
        alg: KeyManagementAlg,
        now: DateTime<Utc>,
    ) -> Result<EncryptionKey, KeysError> {
        let wants =
            |keys: &ClientJwks| client_keys::encryption_key_for(&keys.encryption, alg).is_some();
        let sets = self.sets(http, client, &wants, now).await?;
        client_keys::encryption_key_for(&sets.encryption, alg)
            .cloned()
            .ok_or(KeysError::NoEncryptionKey(alg.as_str()))
    }

    async fn sets(
        &self,
        http: &Outbound,
        client: &Client,
        wants: &dyn Fn(&ClientJwks) -> bool,
        now: DateTime<Utc>,
    ) -> Result<Arc<ClientJwks>, KeysError> {
        if let Some(document) = &client.jwks {
            return Ok(Arc::new(client_keys::parse_client_jwks(
                document.as_bytes(),
            )?));
        }
        let uri = client.jwks_uri.as_deref().ok_or(KeysError::NoKeys)?;
        let flight = match self.decide(uri, wants, now) {
            Decision::Answer(answer) => return answer,
            Decision::Fetch(flight) => flight,
        };
        let _turn = flight.lock().await;
        // Whoever had the turn before may have just fetched: decide again.
        if let Decision::Answer(answer) = self.decide(uri, wants, now) {
            return answer;
        }
        let outcome = fetch(http, uri).await.map(Arc::new);
        self.record(uri, now, &outcome);
        outcome
    }
}

/// Drops the entry fetched longest ago that nobody is fetching or waiting for.
fn evict_one(sets: &mut HashMap<String, Entry>) {
    let oldest = sets
        .iter()
        .filter(|(_, entry)| Arc::strong_count(&entry.flight) == 1)
        .min_by_key(|(_, entry)| entry.attempt.as_ref().map(|(at, _)| *at))
        .map(|(uri, _)| uri.clone());
    if let Some(uri) = oldest {
        sets.remove(&uri);
    }
}

async fn fetch(http: &Outbound, uri: &str) -> Result<ClientJwks, KeysError> {
    let fetch_error = |e: reqwest::Error| {
        KeysError::Fetch(match crate::outbound::refusal(&e) {
            Some(refused) => format!("address not allowed: {refused}"),
            None if e.is_timeout() => "timeout".into(),
            None => "request failed".into(),
        })
    };
    let mut response = http
        .request(reqwest::Method::GET, uri)
        .map_err(|refused| KeysError::Fetch(format!("address not allowed: {refused}")))?
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
    Ok(client_keys::parse_client_jwks(&body)?)
}
