//! Login sessions: what lets a citizen sign in to a second service without typing the
//! password again (SSO). The cookie holds a random token; the store holds the session
//! under the token's SHA-256, with a TTL, so sessions expire even if never used again.
//!
//! Each account also has an index of its sessions (a store set of those SHA-256
//! values), so that the account pages can list them and end any one of them. The index
//! may name sessions that have since ended; readers drop those as they go.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::authn_facts::AuthnFacts;
use crate::domain::secret::SessionToken;
use crate::store::keys;
use crate::store::{Store, StoreError};
use crate::tokens::random;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// What the login established. Its `sid` is the session's public identifier,
    /// unlike the cookie's secret token. Flattened: a stored session keeps its shape.
    #[serde(flatten)]
    pub facts: AuthnFacts,
    pub expires_at: i64,
    /// A short description of the browser that logged in ("Chrome, Android"), for the
    /// citizen's list of sessions; never the raw User-Agent.
    #[serde(default)]
    pub device: Option<String>,
}

pub async fn create(
    store: &dyn Store,
    session: &Session,
    ttl: Duration,
) -> Result<SessionToken, StoreError> {
    let token = random::token();
    let value = serde_json::to_vec(session).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    store.put(&keys::session(&token), value, ttl).await?;
    store
        .add_member(
            &keys::account_sessions(&session.facts.account_id),
            &random::sha256_b64(&token),
            ttl,
        )
        .await?;
    Ok(SessionToken::new(token))
}

/// The live session of `token`, if any.
pub async fn find(
    store: &dyn Store,
    token: &SessionToken,
    now: DateTime<Utc>,
) -> Result<Option<Session>, StoreError> {
    let Some(bytes) = store.get(&keys::session(token.expose())).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice::<Session>(&bytes)
        .ok()
        .filter(|s| s.expires_at > now.timestamp()))
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
            &keys::session_clients(&session.facts.sid),
            client_id,
            Duration::from_secs(left.max(1)),
        )
        .await
}

/// The clients the session signed in to, forgotten as they are returned: each is told
/// of the logout once.
pub async fn take_clients(store: &dyn Store, sid: &str) -> Result<Vec<String>, StoreError> {
    store.take_members(&keys::session_clients(sid)).await
}

pub async fn end(store: &dyn Store, token: &SessionToken) -> Result<(), StoreError> {
    store.delete(&keys::session(token.expose())).await
}

/// The live sessions of an account, with the hash that keys each in the store.
///
/// The store offers sets only as add and take-all, so the index is taken and the live
/// entries are put back: a session created meanwhile is added after the take and kept.
async fn indexed(
    store: &dyn Store,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Session)>, StoreError> {
    let index = keys::account_sessions(account_id);
    let mut live = Vec::new();
    for hash in store.take_members(&index).await? {
        let Some(bytes) = store.get(&keys::session_by_hash(&hash)).await? else {
            continue;
        };
        if let Ok(session) = serde_json::from_slice::<Session>(&bytes)
            && session.expires_at > now.timestamp()
            && session.facts.account_id == account_id
        {
            live.push((hash, session));
        }
    }
    // Each add sets the whole set's TTL: use the longest-lived session's for all.
    let last_expiry = live.iter().map(|(_, s)| s.expires_at).max().unwrap_or(0);
    let ttl = Duration::from_secs(
        u64::try_from(last_expiry - now.timestamp())
            .unwrap_or(1)
            .max(1),
    );
    for (hash, _) in &live {
        store.add_member(&index, hash, ttl).await?;
    }
    live.sort_by_key(|(_, s)| std::cmp::Reverse(s.facts.auth_time));
    Ok(live)
}

/// The live sessions of an account, the most recent login first.
pub async fn list_for_account(
    store: &dyn Store,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Session>, StoreError> {
    Ok(indexed(store, account_id, now)
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect())
}

/// Ends the session `sid` if it belongs to `account_id`; returns it if it was live.
pub async fn end_by_sid(
    store: &dyn Store,
    account_id: &str,
    sid: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>, StoreError> {
    for (hash, session) in indexed(store, account_id, now).await? {
        if random::constant_time_eq(session.facts.sid.as_bytes(), sid.as_bytes()) {
            store.delete(&keys::session_by_hash(&hash)).await?;
            return Ok(Some(session));
        }
    }
    Ok(None)
}

/// Ends every session of `account_id` but `keep_sid`; returns those ended.
pub async fn end_others(
    store: &dyn Store,
    account_id: &str,
    keep_sid: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Session>, StoreError> {
    let mut ended = Vec::new();
    for (hash, session) in indexed(store, account_id, now).await? {
        if session.facts.sid != keep_sid {
            store.delete(&keys::session_by_hash(&hash)).await?;
            ended.push(session);
        }
    }
    Ok(ended)
}

/// Ends every live session of `account_id` (an officer or the register stopped the
/// account); returns those ended.
pub async fn end_all(
    store: &dyn Store,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Session>, StoreError> {
    let mut ended = Vec::new();
    for (hash, session) in indexed(store, account_id, now).await? {
        store.delete(&keys::session_by_hash(&hash)).await?;
        ended.push(session);
    }
    Ok(ended)
}

/// A short, fixed-vocabulary description of a User-Agent: browser and system. Only
/// names from the lists below can come out, so nothing the client sent is echoed.
pub fn device_hint(user_agent: Option<&str>) -> Option<String> {
    let ua = user_agent?;
    const SYSTEMS: [(&str, &str); 7] = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    // Order matters: Edge and Cốc Cốc also say Chrome, Chrome also says Safari.
    const BROWSERS: [(&str, &str); 7] = [
        ("Edg/", "Edge"),
        ("coc_coc", "Cốc Cốc"),
        ("Zalo", "Zalo"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ];
    let find = |list: &[(&str, &'static str)]| {
        list.iter()
            .find(|(needle, _)| ua.contains(needle))
            .map(|(_, name)| *name)
    };
    match (find(&BROWSERS), find(&SYSTEMS)) {
        (Some(browser), Some(system)) => Some(format!("{browser}, {system}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{AuthnFacts, Session, device_hint};

    /// Sessions live in the store across an upgrade: one written before the facts were
    /// one value reads the same, and one written now has the same members.
    #[test]
    fn a_stored_session_keeps_its_shape() {
        let stored = r#"{"sid":"s1","account_id":"a1","auth_time":1700000000,
            "acr":"urn:citizen-idp:loa:2","amr":["pwd","otp"],"expires_at":1700003600,
            "device":"Chrome, Android"}"#;
        let session: Session = serde_json::from_str(stored).unwrap();
        let facts = AuthnFacts {
            account_id: "a1".into(),
            sid: "s1".into(),
            auth_time: 1_700_000_000,
            acr: crate::domain::acr::Acr::new(crate::domain::acr::AssuranceLevel::Level2),
            amr: crate::domain::acr::Amr::from_words("pwd otp").unwrap(),
        };
        assert_eq!(session.facts, facts);
        let written: serde_json::Value = serde_json::to_value(&session).unwrap();
        let expected: serde_json::Value = serde_json::from_str(stored).unwrap();
        assert_eq!(written, expected);
    }

    #[test]
    fn the_device_hint_names_browser_and_system_from_a_fixed_list_only() {
        let android = "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 \
                       (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36";
        assert_eq!(
            device_hint(Some(android)).as_deref(),
            Some("Chrome, Android")
        );
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) \
                      AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(device_hint(Some(iphone)).as_deref(), Some("Safari, iPhone"));
        assert_eq!(device_hint(Some("<script>alert(1)</script>")), None);
        assert_eq!(device_hint(None), None);
    }
}
