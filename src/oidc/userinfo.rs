//! The userinfo endpoint (OIDC Core §5.3). The handler reads the access token from the
//! request (RFC 6750 §2), `protocol::userinfo::userinfo` finds the claims it may see,
//! and its errors go back as a Bearer challenge (RFC 6750 §3).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::access_log::request_id;
use crate::http::oauth_error::BearerError;
use crate::protocol;
use crate::protocol::encryption::UserinfoAnswer;
use crate::protocol::error::{ErrorCode, MISSING_TOKEN, OAuthError};
use crate::state::AppState;

fn invalid_token(why: &'static str) -> BearerError {
    BearerError(OAuthError::new(ErrorCode::InvalidToken, why))
}

pub async fn userinfo_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, BearerError> {
    let token = bearer_token(&req, None)?;
    respond(&state, &token, request_id(&req)).await
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
    respond(&state, &token, request_id(&req)).await
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

async fn respond(
    state: &AppState,
    token: &str,
    request_id: Option<String>,
) -> Result<HttpResponse, BearerError> {
    let released = protocol::userinfo::userinfo(
        &state.protocol(),
        token,
        request_id.as_deref(),
        state.clock.now(),
    )
    .await
    .map_err(BearerError)?;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(match released {
        UserinfoAnswer::Json(claims) => response.json(claims),
        // OIDC Core §5.3.2: a signed or encrypted answer is a JWT of that type.
        UserinfoAnswer::Jwt(jwt) => response.content_type("application/jwt").body(jwt),
    })
}
