//! Login sessions: what lets a citizen sign in to a second service without typing the
//! password again (SSO). The cookie holds a random token; the store holds the session
//! under the token's SHA-256, with a TTL, so sessions expire even if never used again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::secret::SessionToken;
use crate::store::{Store, StoreError};
use crate::tokens::random;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The session's public identifier (OIDC `sid`), unlike the cookie's secret token.
    pub sid: String,
    pub account_id: String,
    /// When the citizen last authenticated (OIDC `auth_time`), in seconds since the epoch.
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    pub expires_at: i64,
}

fn key(token: &str) -> String {
    format!("session:{}", random::sha256_b64(token))
}

pub async fn create(
    store: &dyn Store,
    session: &Session,
    ttl: Duration,
) -> Result<SessionToken, StoreError> {
    let token = random::token();
    let value = serde_json::to_vec(session).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    store.put(&key(&token), value, ttl).await?;
    Ok(SessionToken::new(token))
}

/// The live session of `token`, if any.
pub async fn find(
    store: &dyn Store,
    token: &SessionToken,
    now: DateTime<Utc>,
) -> Result<Option<Session>, StoreError> {
    let Some(bytes) = store.get(&key(token.expose())).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<Session>(&bytes)
        .ok()
        .filter(|s| s.expires_at > now.timestamp()))
}

fn clients_key(sid: &str) -> String {
    format!("session_clients:{sid}")
}

/// Records that `client_id` received a code from this session, until it expires.
pub async fn record_client(
    store: &dyn Store,
    session: &Session,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let left = u64::try_from(session.expires_at - now.timestamp()).unwrap_or(0);
    store
        .add_member(
            &clients_key(&session.sid),
            client_id,
            Duration::from_secs(left.max(1)),
        )
        .await
}

/// The clients the session signed in to, forgotten as they are returned: each is told
/// of the logout once.
pub async fn take_clients(store: &dyn Store, sid: &str) -> Result<Vec<String>, StoreError> {
    store.take_members(&clients_key(sid)).await
}

pub async fn end(store: &dyn Store, token: &SessionToken) -> Result<(), StoreError> {
    store.delete(&key(token.expose())).await
}
