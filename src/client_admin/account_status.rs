//! `POST /admin/accounts/{national_id}/status`: an officer's tool suspends, reinstates,
//! locks or unlocks an account (see `registry::lifecycle`), with the admin token of
//! [`super::api`]. Who decided and why go to the audit trail with the change.
//!
//! Suspending or locking ends every session of the account: the change queues the
//! request in its transaction, and this server's logout worker is woken to end the
//! sessions and send the relying parties their back-channel logout tokens.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::account_level::invalid;
use super::api::{authorize, body_bytes, json, not_found};
use crate::domain::national_id::NationalId;
use crate::domain::officer::Role;
use crate::http::oauth_error::AdminApiError;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::registry::assurance::Decision;
use crate::registry::lifecycle::{self, AccountAction, Actor, LifecycleError};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    action: String,
    officer: String,
    reason: String,
}

/// The admin API's answers to an account change it cannot make (the level's too).
impl From<LifecycleError> for OAuthError {
    fn from(e: LifecycleError) -> Self {
        match e {
            LifecycleError::Storage(e) => e.into(),
            LifecycleError::WrongState(..) => {
                OAuthError::with_description(ErrorCode::Conflict, e.to_string())
            }
            LifecycleError::UnknownCitizen | LifecycleError::NoAccount => not_found(),
        }
    }
}

fn parse_action(action: &str) -> Option<AccountAction> {
    match action {
        "suspend" => Some(AccountAction::Suspend),
        "reinstate" => Some(AccountAction::Reinstate),
        "lock" => Some(AccountAction::Lock),
        "unlock" => Some(AccountAction::Unlock),
        _ => None,
    }
}

pub async fn set_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, AdminApiError> {
    let actor = authorize(&req, &state, Some(Role::Support)).await?.actor();
    let id = NationalId::parse(&path.into_inner())
        .map_err(|_| invalid("the personal identification number must be 12 digits"))?;
    let change: StatusChange = serde_json::from_slice(&body_bytes(body)?).map_err(|_| {
        invalid("the body must be {\"action\": \"suspend\"|\"reinstate\"|\"lock\"|\"unlock\", \"officer\": …, \"reason\": …}")
    })?;
    let action = parse_action(&change.action)
        .ok_or_else(|| invalid("action must be suspend, reinstate, lock or unlock"))?;
    Decision {
        officer: &change.officer,
        reason: &change.reason,
    }
    .check()
    .map_err(|e| OAuthError::with_description(ErrorCode::InvalidRequest, e.to_string()))?;
    let now = state.clock.now().naive_utc();
    let (officer, reason) = (change.officer, change.reason);
    let (before, after) = state
        .db
        .run(move |conn| {
            let decision = Decision {
                officer: &officer,
                reason: &reason,
            };
            lifecycle::change_account(conn, &id, action, Actor(&actor), Some(&decision), now)
        })
        .await?;
    state.identities.clear();
    state.logout_wakeup.notify_one();
    Ok(json(
        StatusCode::OK,
        &json!({
            "status": after.as_str(),
            "previous_status": before.as_str(),
        }),
    ))
}
