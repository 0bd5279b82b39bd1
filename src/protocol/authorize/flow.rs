//! A pending login: the checked authorization request, kept in the store while the
//! citizen fills in the login page.
//!
//! The flow is bound to the browser that started it by a cookie whose SHA-256 the flow
//! keeps (see `http::cookies`), and the login form carries a CSRF token. A login form posted from another
//! site, or with another browser's flow id, is refused (no login CSRF). The cookie is
//! one per browser, not one per flow, so that logins started in two tabs both work.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::request::AuthorizationRequest;
use crate::domain::acr::{Amr, AssuranceLevel};
use crate::domain::interaction::Step;
use crate::store::keys;
use crate::store::{Store, StoreError};
use crate::tokens::random;

/// No `Debug`: the CSRF token and the browser binding must not reach a log.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginFlow {
    pub request: AuthorizationRequest,
    pub csrf_token: String,
    pub browser_binding: String,
    pub expires_at: i64,
    /// The step the flow is at, set only by the server (`interaction::advance`): each
    /// page acts only on a flow at its own step.
    pub step: Step,
    /// Who the citizen proved to be so far, and how, while a login needs more steps
    /// (a second factor) before a session is made. `None` before the password, and
    /// once a session is made.
    #[serde(default)]
    pub progress: Option<Progress>,
    /// The browser session the flow goes on with, once there is one (a step-up or
    /// consent started from a live session, or the session a login in this flow made).
    /// Another session of the same browser, even of the same citizen, cannot finish it.
    #[serde(default)]
    pub sid: Option<String>,
    /// The session `sid` was made by a password presented in this flow (what
    /// `prompt=login` demands).
    #[serde(default)]
    pub reauthenticated: bool,
}

/// Methods presented in this flow and not yet turned into a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    pub account_id: String,
    /// The account's level when the password was checked.
    pub account_level: AssuranceLevel,
    /// RFC 8176 method values, in the order presented.
    pub amr: Amr,
    /// When the first of them was presented (OIDC `auth_time`).
    pub auth_time: i64,
    /// The level these methods established (capped by the account's level when read).
    pub level: AssuranceLevel,
    /// The password was presented in this flow, not only in the session it started from.
    pub password_in_flow: bool,
}

/// Where a new flow starts.
#[derive(Debug, Clone)]
pub struct Entry {
    pub step: Step,
    pub progress: Option<Progress>,
    pub sid: Option<String>,
}

/// Stores a new flow bound to `browser_secret`; returns its id.
pub async fn start(
    store: &dyn Store,
    request: AuthorizationRequest,
    browser_secret: &str,
    entry: Entry,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let id = random::token();
    let flow = LoginFlow {
        request,
        csrf_token: random::token(),
        browser_binding: random::sha256_b64(browser_secret),
        expires_at: now.timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
        step: entry.step,
        progress: entry.progress,
        sid: entry.sid,
        reauthenticated: false,
    };
    let value = serde_json::to_vec(&flow).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    store.put(&keys::login_flow(&id), value, ttl).await?;
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
        .put(
            &keys::login_flow(flow_id),
            value,
            Duration::from_secs(left.max(1)),
        )
        .await
}

pub async fn find(
    store: &dyn Store,
    flow_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<LoginFlow>, StoreError> {
    let Some(bytes) = store.get(&keys::login_flow(flow_id)).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<LoginFlow>(&bytes)
        .ok()
        .filter(|flow| flow.expires_at > now.timestamp()))
}

/// Ends the flow; `true` only for the one caller that ended it, so two requests racing
/// to finish the same flow cannot both issue a code.
pub async fn finish(store: &dyn Store, flow_id: &str) -> Result<bool, StoreError> {
    Ok(store.take(&keys::login_flow(flow_id)).await?.is_some())
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
