//! The userinfo endpoint (OIDC Core §5.3): the claims the access token's scopes allow,
//! read from the population register at the time of the call (or, if the operator
//! turned the cache on, at most `database.register_cache_ms` before it).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::audit;
use crate::domain::scope::ScopeSet;
use crate::http::access_log::request_id;
use crate::http::oauth_error::BearerError;
use crate::protocol::error::{ErrorCode, MISSING_TOKEN, OAuthError};
use crate::registry::{self, claims};
use crate::state::AppState;
use crate::tokens::revocation;

fn invalid_token(why: &'static str) -> BearerError {
    BearerError(OAuthError::new(ErrorCode::InvalidToken, why))
}

pub async fn userinfo_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, BearerError> {
    let token = bearer_token(&req, None)?;
    userinfo(&state, &token, request_id(&req)).await
}

/// RFC 6750 §2.2 also allows the token in a form body of a POST.
pub async fn userinfo_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, BearerError> {
    let form_token = body.ok().and_then(|b| {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&b)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v)
    });
    let token = bearer_token(&req, form_token)?;
    userinfo(&state, &token, request_id(&req)).await
}

fn bearer_token(req: &HttpRequest, form_token: Option<String>) -> Result<String, BearerError> {
    access_token(req.headers().get(header::AUTHORIZATION), form_token)
}

/// The access token of a request, from its `Authorization` header (RFC 6750 §2.1) or
/// its form body (§2.2). Public so that the fuzz targets (`fuzz/`) run untrusted
/// headers through it.
pub fn access_token(
    authorization: Option<&HeaderValue>,
    form_token: Option<String>,
) -> Result<String, BearerError> {
    let header_token = match authorization {
        None => None,
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| invalid_request("malformed Authorization header"))?;
            let (scheme, token) = value
                .split_once(' ')
                .ok_or_else(|| invalid_request("malformed Authorization header"))?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(invalid_request("the Bearer scheme is required"));
            }
            Some(token.trim().to_owned())
        }
    };
    match (header_token, form_token) {
        // RFC 6750 §2: a client must not use more than one method.
        (Some(_), Some(_)) => Err(invalid_request("the access token is sent more than once")),
        (Some(t), None) | (None, Some(t)) if !t.is_empty() && t.len() <= 8192 => Ok(t),
        (Some(_), None) | (None, Some(_)) => Err(invalid_token("malformed access token")),
        (None, None) => Err(BearerError(OAuthError::new(
            ErrorCode::InvalidRequest,
            MISSING_TOKEN,
        ))),
    }
}

fn invalid_request(why: &'static str) -> BearerError {
    BearerError(OAuthError::new(ErrorCode::InvalidRequest, why))
}

async fn userinfo(
    state: &AppState,
    token: &str,
    request_id: Option<String>,
) -> Result<HttpResponse, BearerError> {
    let now = state.clock.now().timestamp();
    let token_claims = state
        .verified_tokens
        .verify(&state.keys.current(), token, &state.issuer, now)
        .map_err(|_| invalid_token("the access token is invalid"))?;
    if token_claims.exp <= now {
        return Err(invalid_token("the access token has expired"));
    }
    if revocation::is_revoked(
        state.store.as_ref(),
        &state.db,
        &token_claims.jti,
        state.clock.now(),
    )
    .await
    .map_err(OAuthError::from)?
    {
        return Err(invalid_token("the access token has been revoked"));
    }
    if !token_claims.has_citizen() {
        return Err(invalid_token("the access token speaks for no citizen"));
    }
    // Only what the client is still registered for: an operator who removes a scope
    // from a client (or the client) cuts it off at the next call.
    let client = state
        .clients
        .find(&state.db, &token_claims.client_id, state.clock.now())
        .await?
        .ok_or_else(|| invalid_token("the access token's client is no longer registered"))?;
    let scopes = ScopeSet::parse(&token_claims.scope)
        .map_err(|_| invalid_token("the access token is invalid"))?
        .intersection(&client.scopes);
    if !scopes.contains("openid") {
        return Err(BearerError(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the openid scope is required",
        )));
    }
    // Read now, not at login: a correction or a death in the register shows at once (or
    // within `database.register_cache_ms`, if the operator turned the cache on).
    let identity = state
        .identities
        .by_subject(&state.db, &token_claims.sub, state.clock.now())
        .await?
        .ok_or_else(|| invalid_token("the access token is invalid"))?;
    let (account, citizen) = identity.as_ref();
    registry::check_eligible(account, citizen)
        .map_err(|_| invalid_token("the citizen can no longer sign in"))?;
    let released = claims::for_scopes(&token_claims.sub, citizen, &scopes);
    let event = audit::Event::new(
        audit::Kind::Disclosure,
        "userinfo",
        state.clock.now().naive_utc(),
    )
    .citizen(citizen.national_id.clone())
    .client(&token_claims.client_id)
    .claims(released.keys().cloned())
    .request_id(request_id.as_deref());
    state.audit.record(event).await;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(released))
}
