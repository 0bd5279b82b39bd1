//! A pending login: the checked authorization request, kept in the store while the
//! citizen fills in the login page.
//!
//! The flow is bound to the browser that started it by a cookie whose SHA-256 the flow
//! keeps, and the login form carries a CSRF token. A login form posted from another
//! site, or with another browser's flow id, is refused (no login CSRF). The cookie is
//! one per browser, not one per flow, so that logins started in two tabs both work.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::request::AuthorizationRequest;
use crate::domain::acr::AssuranceLevel;
use crate::store::{Store, StoreError};
use crate::tokens::random;

pub const COOKIE: &str = "cidp_browser";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginFlow {
    pub request: AuthorizationRequest,
    pub csrf_token: String,
    pub browser_binding: String,
    pub expires_at: i64,
    /// Who the citizen proved to be so far, and how, while a login needs more steps
    /// (a second factor) before a session is made. `None` before the password, and
    /// for steps taken with a live session (consent, step-up start from the session).
    #[serde(default)]
    pub progress: Option<Progress>,
}

/// Methods presented in this flow and not yet turned into a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    pub account_id: String,
    /// The account's level when the password was checked.
    pub account_level: AssuranceLevel,
    /// RFC 8176 method values, in the order presented.
    pub amr: Vec<String>,
    /// When the first of them was presented (OIDC `auth_time`).
    pub auth_time: i64,
}

/// The browser's binding secret: the one its cookie already holds, or a new one
/// (`true` when the cookie must be set).
pub fn browser_secret(cookie: Option<&str>) -> (String, bool) {
    match cookie {
        // Only values this server could have made are reused.
        Some(value)
            if value.len() == 43
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            (value.to_owned(), false)
        }
        _ => (random::token(), true),
    }
}

fn key(flow_id: &str) -> String {
    format!("login:{}", random::sha256_b64(flow_id))
}

/// Stores a new flow bound to `browser_secret`; returns its id.
pub async fn start(
    store: &dyn Store,
    request: AuthorizationRequest,
    browser_secret: &str,
    progress: Option<Progress>,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let id = random::token();
    let flow = LoginFlow {
        request,
        csrf_token: random::token(),
        browser_binding: random::sha256_b64(browser_secret),
        expires_at: now.timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
        progress,
    };
    let value = serde_json::to_vec(&flow).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    store.put(&key(&id), value, ttl).await?;
    Ok(id)
}

/// Saves a flow that moved on a step, for the rest of its original lifetime.
pub async fn save(
    store: &dyn Store,
    flow_id: &str,
    flow: &LoginFlow,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let left = u64::try_from(flow.expires_at - now.timestamp()).unwrap_or(0);
    let value = serde_json::to_vec(flow).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    store
        .put(&key(flow_id), value, Duration::from_secs(left.max(1)))
        .await
}

pub async fn find(
    store: &dyn Store,
    flow_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<LoginFlow>, StoreError> {
    let Some(bytes) = store.get(&key(flow_id)).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<LoginFlow>(&bytes)
        .ok()
        .filter(|flow| flow.expires_at > now.timestamp()))
}

pub async fn finish(store: &dyn Store, flow_id: &str) -> Result<(), StoreError> {
    store.delete(&key(flow_id)).await
}

impl LoginFlow {
    /// Both the browser cookie and the form's CSRF token must match, in constant time.
    pub fn accepts(&self, browser_secret: Option<&str>, csrf_token: Option<&str>) -> bool {
        let (Some(secret), Some(csrf)) = (browser_secret, csrf_token) else {
            return false;
        };
        let binding_ok = random::constant_time_eq(
            random::sha256_b64(secret).as_bytes(),
            self.browser_binding.as_bytes(),
        );
        let csrf_ok = random::constant_time_eq(csrf.as_bytes(), self.csrf_token.as_bytes());
        binding_ok & csrf_ok
    }
}
