//! The protocol error over HTTP: [`OAuthError`] (`protocol::error`) rendered as RFC
//! 6749 §5.2 JSON, [`BearerError`], the same error as an RFC 6750 §3 Bearer
//! challenge for userinfo (or a DPoP one, for a [`ResourceError`]), and [`AdminApiError`], the same error as the admin API
//! answers it. Pages for people use [`crate::http::page_error::PageError`].

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use serde::Serialize;

use crate::protocol::dpop::{ResourceError, Scheme};
use crate::protocol::error::{ErrorCode, MISSING_TOKEN, OAuthError};

/// The error's JSON body (RFC 6749 §5.2), the response marked with its internal cause
/// for the access log.
fn json_response(error: &OAuthError, response: &mut HttpResponseBuilder) -> HttpResponse {
    let mut response = response.json(ErrorBody {
        error: error.code_str(),
        error_description: error.description.as_deref(),
    });
    if let Some(internal) = error.internal {
        response.extensions_mut().insert(internal);
    }
    response
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

/// RFC 6749 §5.2 rendering, used by the token endpoint.
impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self.code {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::NotFound | ErrorCode::InvalidTrustAnchor => StatusCode::NOT_FOUND,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.response_with_status(self.status_code())
    }
}

impl OAuthError {
    /// The RFC 6749 §5.2 body under `status`. The request limits answer their own
    /// statuses (414, 431, 429) with the same body as the endpoints.
    pub fn response_with_status(&self, status: StatusCode) -> HttpResponse {
        let mut response = HttpResponse::build(status);
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if self.code == ErrorCode::InvalidClient {
            // RFC 6749 §5.2: a 401 must carry the challenge of the scheme the client used.
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"citizen-idp\""),
            ));
        }
        json_response(self, &mut response)
    }
}

/// An [`OAuthError`] rendered as an RFC 6750 §3 Bearer challenge (userinfo).
#[derive(Debug)]
pub struct BearerError(pub OAuthError);

impl std::fmt::Display for BearerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for BearerError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let error = &self.0;
        let challenge = match error.code {
            // RFC 6750 §3.1: a request without any token gets a bare challenge.
            ErrorCode::InvalidRequest if error.description.as_deref() == Some(MISSING_TOKEN) => {
                "Bearer realm=\"citizen-idp\"".to_owned()
            }
            _ => format!(
                "Bearer realm=\"citizen-idp\", error=\"{}\"{}",
                error.code_str(),
                error
                    .description
                    .as_deref()
                    .map(|d| format!(", error_description=\"{d}\""))
                    .unwrap_or_default()
            ),
        };
        let status = if error.description.as_deref() == Some(MISSING_TOKEN) {
            StatusCode::UNAUTHORIZED
        } else {
            error.status_code()
        };
        json_response(
            error,
            HttpResponse::build(status)
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::WWW_AUTHENTICATE, challenge)),
        )
    }
}

impl<E: Into<OAuthError>> From<E> for BearerError {
    fn from(e: E) -> Self {
        BearerError(e.into())
    }
}

/// A resource's refusal (userinfo) under the challenge of its scheme: a Bearer challenge
/// (RFC 6750 §3), or a DPoP one (RFC 9449 §7.1) for a request that used DPoP or a
/// token bound to a key. A DPoP proof's own errors are 401 there, as the token's are.
impl ResponseError for ResourceError {
    fn status_code(&self) -> StatusCode {
        match self.error.code {
            ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce => StatusCode::UNAUTHORIZED,
            _ => self.error.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let error = &self.error;
        match self.challenge {
            Scheme::Bearer => BearerError(error.clone()).error_response(),
            Scheme::Dpop => {
                let challenge = format!(
                    "DPoP error=\"{}\"{}",
                    error.code_str(),
                    error
                        .description
                        .as_deref()
                        .map(|d| format!(", error_description=\"{d}\""))
                        .unwrap_or_default()
                );
                json_response(
                    error,
                    HttpResponse::build(self.status_code())
                        .insert_header((header::CACHE_CONTROL, "no-store"))
                        .insert_header((header::WWW_AUTHENTICATE, challenge)),
                )
            }
        }
    }
}

/// An [`OAuthError`] as the admin API answers it: the RFC 7591 §3.2.2 JSON body, under
/// the status of its code unless a refusal outside the protocol sets another (413), and
/// with a Bearer challenge of the realm `admin` on a 401 (RFC 6750 §3).
#[derive(Debug)]
pub struct AdminApiError {
    pub error: OAuthError,
    status: StatusCode,
}

impl AdminApiError {
    /// The error under a status its code does not say, such as 413 for a body too large.
    pub fn with_status(status: StatusCode, error: OAuthError) -> Self {
        AdminApiError { error, status }
    }
}

impl std::fmt::Display for AdminApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for AdminApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let error = &self.error;
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"admin\""),
            ));
        }
        json_response(error, &mut response)
    }
}

impl<E: Into<OAuthError>> From<E> for AdminApiError {
    fn from(e: E) -> Self {
        let error = e.into();
        AdminApiError {
            status: error.status_code(),
            error,
        }
    }
}
