//! The userinfo endpoint (OIDC Core §5.3). The handler reads the access token from the
//! request (RFC 6750 §2, or RFC 9449 §7.1 with the DPoP scheme and its proof),
//! `protocol::userinfo::userinfo` finds the claims it may see, and its errors go back as
//! a Bearer or DPoP challenge.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::http::access_log::request_id;
use crate::http::dpop;
use crate::http::oauth_error::BearerError;
use crate::protocol;
use crate::protocol::dpop::{ResourceError, Scheme};
use crate::protocol::encryption::UserinfoAnswer;
use crate::protocol::error::{ErrorCode, MISSING_TOKEN, OAuthError};
use crate::protocol::userinfo::Presented;
use crate::state::AppState;

fn invalid_token(why: &'static str) -> BearerError {
    BearerError(OAuthError::new(ErrorCode::InvalidToken, why))
}

pub async fn userinfo_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(&req, &state, None).await
}

/// RFC 6750 §2.2 also allows the token in a form body of a POST.
pub async fn userinfo_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    let form_token = body.ok().and_then(|b| {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&b)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v)
    });
    respond(&req, &state, form_token).await
}

/// The access token of a request, from its `Authorization` header (RFC 6750 §2.1) or
/// its form body (§2.2), as a Bearer token only. Public so that the fuzz targets
/// (`fuzz/`) run untrusted headers through it.
pub fn access_token(
    authorization: Option<&HeaderValue>,
    form_token: Option<String>,
) -> Result<String, BearerError> {
    match presented_token(authorization, form_token)? {
        (Scheme::Bearer, token) => Ok(token),
        (Scheme::Dpop, _) => Err(invalid_request("the Bearer scheme is required")),
    }
}

/// The access token of a request and its scheme: `Bearer` in the `Authorization` header
/// or the form body, or `DPoP` in the header only (RFC 9449 §7.1).
pub fn presented_token(
    authorization: Option<&HeaderValue>,
    form_token: Option<String>,
) -> Result<(Scheme, String), BearerError> {
    let header_token = match authorization {
        None => None,
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| invalid_request("malformed Authorization header"))?;
            let (scheme, token) = value
                .split_once(' ')
                .ok_or_else(|| invalid_request("malformed Authorization header"))?;
            let scheme = if scheme.eq_ignore_ascii_case("bearer") {
                Scheme::Bearer
            } else if scheme.eq_ignore_ascii_case("dpop") {
                Scheme::Dpop
            } else {
                return Err(invalid_request("the Bearer or DPoP scheme is required"));
            };
            Some((scheme, token.trim().to_owned()))
        }
    };
    let form_token = form_token.map(|token| (Scheme::Bearer, token));
    match (header_token, form_token) {
        // RFC 6750 §2: a client must not use more than one method.
        (Some(_), Some(_)) => Err(invalid_request("the access token is sent more than once")),
        (Some((s, t)), None) | (None, Some((s, t))) if !t.is_empty() && t.len() <= 8192 => {
            Ok((s, t))
        }
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

async fn respond(req: &HttpRequest, state: &AppState, form_token: Option<String>) -> HttpResponse {
    let now = state.clock.now();
    let response = match answer(req, state, form_token, now).await {
        Ok(released) => {
            let mut response = HttpResponse::Ok();
            response.insert_header((header::CACHE_CONTROL, "no-store"));
            match released {
                UserinfoAnswer::Json(claims) => response.json(claims),
                // OIDC Core §5.3.2: a signed or encrypted answer is a JWT of that type.
                UserinfoAnswer::Jwt(jwt) => response.content_type("application/jwt").body(jwt),
            }
        }
        Err(error) => error.error_response(),
    };
    dpop::with_nonce(state, now, response)
}

async fn answer(
    req: &HttpRequest,
    state: &AppState,
    form_token: Option<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<UserinfoAnswer, ResourceError> {
    let (scheme, token) = presented_token(req.headers().get(header::AUTHORIZATION), form_token)
        .map_err(|BearerError(error)| ResourceError {
            error,
            challenge: Scheme::Bearer,
        })?;
    let proof = dpop::request(req, &state.endpoints.userinfo).map_err(|error| ResourceError {
        error,
        challenge: Scheme::Dpop,
    })?;
    protocol::userinfo::userinfo(
        &state.protocol(),
        Presented {
            scheme,
            token: &token,
        },
        &proof,
        request_id(req).as_deref(),
        now,
    )
    .await
}
