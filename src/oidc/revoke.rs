//! Token revocation (RFC 7009): a client revokes one of its access tokens (added to the
//! revocation list until it would have expired) or refresh tokens (the whole family).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};

use crate::http::client_request::ClientRequest;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::state::AppState;
use crate::tokens::access_token::{self, AccessTokenClaims};
use crate::tokens::revocation::{self, RevocationError};
use crate::tokens::{jwt, refresh};

impl From<RevocationError> for OAuthError {
    fn from(e: RevocationError) -> Self {
        match e {
            RevocationError::Storage(e) => e.into(),
            RevocationError::Store(e) => e.into(),
        }
    }
}

pub async fn revoke_post(
    state: web::Data<AppState>,
    ClientRequest { client, form, now }: ClientRequest,
) -> Result<HttpResponse, OAuthError> {
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidRequest, "token is required"))?;
    // RFC 7009 §2.1: `token_type_hint` only speeds the search; both kinds are tried.
    match jwt::verify::<AccessTokenClaims>(
        &state.keys.current(),
        token,
        access_token::TYP,
        &state.issuer,
    ) {
        Ok(claims) => {
            let expires_at = DateTime::<Utc>::from_timestamp(claims.exp, 0).unwrap_or(now);
            if claims.client_id == client.id && expires_at > now {
                revocation::revoke(
                    state.store.as_ref(),
                    &state.db,
                    &claims.jti,
                    expires_at,
                    now,
                )
                .await?;
                tracing::info!(target: "security", "access token revoked");
            }
        }
        Err(_) => {
            let (presented, client_id, at) = (token.to_owned(), client.id.clone(), now.naive_utc());
            let revoked = state
                .db
                .run(move |conn| refresh::revoke_presented(conn, &presented, &client_id, at))
                .await?;
            if let Some(access_tokens) = revoked {
                revocation::remember(state.store.as_ref(), &access_tokens, now).await?;
                tracing::info!(target: "security", "refresh token family revoked");
            }
        }
    }
    // RFC 7009 §2.2: the answer is the same whether or not the token was valid, so that
    // it reveals nothing about tokens of other clients.
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
