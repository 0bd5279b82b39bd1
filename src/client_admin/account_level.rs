//! `POST /admin/accounts/{national_id}/level`: an officer's tool sets an account's
//! assurance level (see `registry::assurance`), with the admin token of [`super::api`].
//! A lowered level ends the account's sessions: the change queues the request in its
//! transaction and this server's logout worker is woken to act on it at once.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::api::{authorize, body_bytes, json};
use crate::domain::acr::AssuranceLevel;
use crate::domain::national_id::NationalId;
use crate::domain::officer::Role;
use crate::http::oauth_error::AdminApiError;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::registry::assurance::{self, Decision};
use crate::registry::lifecycle::Actor;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelChange {
    level: i32,
    officer: String,
    reason: String,
}

pub(super) fn invalid(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, description)
}

pub async fn set_level(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, AdminApiError> {
    let actor = authorize(&req, &state, Some(Role::Registrar))
        .await?
        .actor();
    let id = NationalId::parse(&path.into_inner())
        .map_err(|_| invalid("the personal identification number must be 12 digits"))?;
    let change: LevelChange = serde_json::from_slice(&body_bytes(body)?)
        .map_err(|_| invalid("the body must be {\"level\": 1|2, \"officer\": …, \"reason\": …}"))?;
    let level =
        AssuranceLevel::from_number(change.level).ok_or_else(|| invalid("level must be 1 or 2"))?;
    let decision = Decision {
        officer: &change.officer,
        reason: &change.reason,
    };
    decision
        .check()
        .map_err(|e| OAuthError::with_description(ErrorCode::InvalidRequest, e.to_string()))?;
    let now = state.clock.now().naive_utc();
    let (officer, reason) = (change.officer.clone(), change.reason.clone());
    let (before, after) = state
        .db
        .run(move |conn| {
            let decision = Decision {
                officer: &officer,
                reason: &reason,
            };
            assurance::set_level(conn, &id, level, &decision, Actor(&actor), now)
        })
        .await?;
    state.identities.clear();
    state.logout_wakeup.notify_one();
    Ok(json(
        StatusCode::OK,
        &json!({
            "level": after.number(),
            "acr": after.acr(),
            "previous_level": before.number(),
        }),
    ))
}
