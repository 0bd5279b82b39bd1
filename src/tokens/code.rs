//! Authorization codes (RFC 6749 §4.1.2): random, single-use, short-lived.
//!
//! The code itself is only a handle; what it grants lives in the store under the
//! code's SHA-256, and is taken (read and deleted atomically) on redemption, so a code
//! works once even when two token requests race.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::random;
use crate::domain::authn_facts::AuthnFacts;
use crate::domain::scope::ScopeSet;
use crate::domain::secret::AuthCode;
use crate::store::{Store, StoreError};

/// What a code grants, fixed at the moment the citizen was sent back to the client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: ScopeSet,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// The login's facts, flattened: a code issued before an upgrade keeps its shape.
    #[serde(flatten)]
    pub facts: AuthnFacts,
    pub expires_at: i64,
    /// The DPoP key the authorization request named (`dpop_jkt`, RFC 9449 §10): the
    /// code is redeemed only with a proof of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

pub async fn issue(
    store: &dyn Store,
    grant: &CodeGrant,
    ttl: Duration,
) -> Result<AuthCode, StoreError> {
    let code = random::token();
    let value = serde_json::to_vec(grant).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    store
        .put(&crate::store::keys::code(&code), value, ttl)
        .await?;
    Ok(AuthCode::new(code))
}

/// Takes the grant of `code` if it exists and has not expired at `now`.
pub async fn redeem(
    store: &dyn Store,
    code: &AuthCode,
    now: DateTime<Utc>,
) -> Result<Option<CodeGrant>, StoreError> {
    let Some(bytes) = store.take(&crate::store::keys::code(code.expose())).await? else {
        return Ok(None);
    };
    // A value that no longer parses (e.g. written by an older version) is treated as
    // absent: the client gets invalid_grant and starts again.
    Ok(serde_json::from_slice::<CodeGrant>(&bytes)
        .ok()
        .filter(|grant| grant.expires_at > now.timestamp()))
}

/// What was issued for a redeemed code, kept a while so that a replay of the code can
/// revoke it (RFC 6749 §4.1.2: a code used twice should revoke the tokens it gave).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpentCode {
    pub access_token_jti: String,
    pub access_token_exp: i64,
    pub refresh_family: Option<String>,
}

pub async fn mark_spent(
    store: &dyn Store,
    code: &AuthCode,
    spent: &SpentCode,
    ttl: Duration,
) -> Result<(), StoreError> {
    let value = serde_json::to_vec(spent).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    store
        .put(&crate::store::keys::spent_code(code.expose()), value, ttl)
        .await
}

/// What a replayed code had issued, if it was redeemed recently.
pub async fn take_spent(
    store: &dyn Store,
    code: &AuthCode,
) -> Result<Option<SpentCode>, StoreError> {
    Ok(store
        .take(&crate::store::keys::spent_code(code.expose()))
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}
