//! Withdrawing a compromised signing key over the admin API
//! (`POST /admin/keys/{kid}/revoke`), as `citizen-idp keys revoke KID` does on the
//! command line. The instance that answers serves the set without the key at once; the
//! others drop it at their next reload (`keys.reload_interval_secs`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::api::{authorize, not_found};
use crate::http::oauth_error::AdminApiError;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::state::AppState;
use crate::tokens::keyring::{self, WithdrawError};

/// Longer than any kid we make (a base64url SHA-256 thumbprint is 43 characters).
const MAX_KID_LEN: usize = 128;

/// The admin API's answers to a withdrawal it cannot make.
impl From<WithdrawError> for OAuthError {
    fn from(e: WithdrawError) -> Self {
        match e {
            WithdrawError::NotPublished => not_found(),
            WithdrawError::StillSigning { .. } => {
                OAuthError::with_description(ErrorCode::Conflict, e.to_string())
            }
            WithdrawError::Storage(e) => e.into(),
        }
    }
}

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    authorize(&req, &state, None).await?;
    let kid = path.into_inner();
    if kid.is_empty()
        || kid.len() > MAX_KID_LEN
        || !kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(not_found().into());
    }
    let now = state.clock.now();
    let withdrawn = kid.clone();
    state
        .db
        .run(move |conn| keyring::withdraw(conn, &withdrawn, "api", now))
        .await?;
    tracing::warn!(target: "security", %kid, "signing key withdrawn over the admin API");
    // This instance serves the new set at once (with any key rotated in since its last
    // reload); the others at their next reload.
    let rings = keyring::Rings {
        token: state.keys.clone(),
        federation: state.federation_keys.clone(),
    };
    keyring::reload(&state.db, &rings, &state.key_sealer, now)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not reload the keys after a withdrawal");
            OAuthError::new(
                ErrorCode::ServerError,
                "the key is withdrawn; this instance drops it at its next reload",
            )
        })?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(json!({ "kid": kid, "revoked": true })))
}
