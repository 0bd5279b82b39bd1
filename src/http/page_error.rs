//! HTML error pages: for citizens, in their language, never with internal details.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::authn::passkey::PasskeyError;
use crate::authn::second_factor::FactorError;
use crate::authn::second_factor::pending::PendingError;
use crate::consent::ConsentError;
use crate::http::lang::{Lang, Texts};
use crate::metrics::InternalError;
use crate::protocol::error::{ErrorCode, OAuthError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageMessage {
    UnknownClient,
    BadRedirectUri,
    BadRequest,
    LoginExpired,
    CsrfFailed,
    Unavailable,
    Internal,
    NotFound,
    BadLogoutHint,
    BadPostLogoutRedirectUri,
    TooManyRequests,
    RequestTooLarge,
    /// A page the account may not see (the officer console without the role or level).
    Forbidden,
}

#[derive(Debug, Clone)]
pub struct PageError {
    pub status: StatusCode,
    pub message: PageMessage,
    pub lang: Lang,
    /// What an internal error hid, for the metrics; never shown.
    pub internal: Option<InternalError>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    message: &'a str,
}

impl PageError {
    fn new(status: StatusCode, message: PageMessage) -> Self {
        PageError {
            status,
            message,
            lang: Lang::Vi,
            internal: None,
        }
    }

    /// A page for a refusal made outside the handlers (the request limits).
    pub fn with_status(status: StatusCode, message: PageMessage) -> Self {
        Self::new(status, message)
    }

    pub fn unknown_client() -> Self {
        Self::new(StatusCode::BAD_REQUEST, PageMessage::UnknownClient)
    }

    pub fn bad_redirect_uri() -> Self {
        Self::new(StatusCode::BAD_REQUEST, PageMessage::BadRedirectUri)
    }

    pub fn bad_request() -> Self {
        Self::new(StatusCode::BAD_REQUEST, PageMessage::BadRequest)
    }

    pub fn login_expired() -> Self {
        Self::new(StatusCode::BAD_REQUEST, PageMessage::LoginExpired)
    }

    pub fn csrf_failed() -> Self {
        Self::new(StatusCode::FORBIDDEN, PageMessage::CsrfFailed)
    }

    pub fn bad_logout_hint() -> Self {
        Self::new(StatusCode::BAD_REQUEST, PageMessage::BadLogoutHint)
    }

    pub fn bad_post_logout_redirect_uri() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            PageMessage::BadPostLogoutRedirectUri,
        )
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, PageMessage::Forbidden)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, PageMessage::NotFound)
    }

    /// Logs an internal cause and shows a generic page.
    pub fn internal(cause: &dyn std::fmt::Display, unavailable: bool) -> Self {
        Self::internal_from(InternalError::OTHER, cause, unavailable)
    }

    /// The same log line and the same choice of status as the protocol error's.
    pub(crate) fn internal_from(
        source: InternalError,
        cause: &dyn std::fmt::Display,
        unavailable: bool,
    ) -> Self {
        Self::from_oauth(OAuthError::internal_from(source, cause, unavailable))
    }

    /// A protocol-level internal error met on a page (already logged where it arose).
    pub fn from_oauth(e: OAuthError) -> Self {
        let unavailable = e.code == ErrorCode::TemporarilyUnavailable;
        let mut error = if unavailable {
            Self::new(StatusCode::SERVICE_UNAVAILABLE, PageMessage::Unavailable)
        } else {
            Self::new(StatusCode::INTERNAL_SERVER_ERROR, PageMessage::Internal)
        };
        error.internal = e.internal;
        error
    }

    pub fn in_lang(mut self, lang: Lang) -> Self {
        self.lang = lang;
        self
    }

    fn text(&self, t: &'static Texts) -> &'static str {
        match self.message {
            PageMessage::UnknownClient => t.unknown_client,
            PageMessage::BadRedirectUri => t.bad_redirect_uri,
            PageMessage::BadRequest => t.bad_request,
            PageMessage::LoginExpired => t.login_expired,
            PageMessage::CsrfFailed => t.csrf_failed,
            PageMessage::Unavailable => t.unavailable,
            PageMessage::Internal => t.internal,
            PageMessage::NotFound => t.not_found,
            PageMessage::BadLogoutHint => t.bad_logout_hint,
            PageMessage::BadPostLogoutRedirectUri => t.bad_post_logout_redirect_uri,
            PageMessage::TooManyRequests => t.too_many_requests,
            PageMessage::RequestTooLarge => t.request_too_large,
            PageMessage::Forbidden => t.forbidden,
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.message)
    }
}

/// A page the authorization endpoint or the interaction shows instead of redirecting.
impl From<crate::protocol::authorize::Refused> for PageError {
    fn from(refused: crate::protocol::authorize::Refused) -> Self {
        use crate::protocol::authorize::Refused;
        match refused {
            Refused::BadRequest => PageError::bad_request(),
            Refused::UnknownClient => PageError::unknown_client(),
            Refused::BadRedirectUri => PageError::bad_redirect_uri(),
            Refused::LoginExpired => PageError::login_expired(),
            // The citizen can only go back to the service, which pushes a new request.
            Refused::RequestUri => PageError::login_expired(),
            Refused::Request(e) => match e.code {
                ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable => {
                    PageError::from_oauth(e)
                }
                _ => {
                    tracing::info!(error = %e, description = e.description.as_deref().unwrap_or(""), "an authorization request refused with a page");
                    PageError::bad_request()
                }
            },
            Refused::Internal(e) => PageError::from_oauth(e),
        }
    }
}

impl From<crate::storage::StorageError> for PageError {
    fn from(e: crate::storage::StorageError) -> Self {
        let unavailable = matches!(e, crate::storage::StorageError::Unavailable(_));
        PageError::internal_from(InternalError::database(&e), &e, unavailable)
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::from_oauth(e.into())
    }
}

// The authentication services' errors, as pages show them: their causes are ours (a
// database, the store, a sealed secret that does not open), never the citizen's.
impl From<FactorError> for PageError {
    fn from(e: FactorError) -> Self {
        match e {
            FactorError::Storage(e) => e.into(),
            FactorError::Totp(e) => PageError::internal(&e, false),
        }
    }
}

impl From<PendingError> for PageError {
    fn from(e: PendingError) -> Self {
        match e {
            PendingError::Store(e) => e.into(),
            PendingError::Totp(e) => PageError::internal(&e, false),
        }
    }
}

impl From<ConsentError> for PageError {
    fn from(e: ConsentError) -> Self {
        match e {
            ConsentError::Storage(e) => e.into(),
            ConsentError::Store(e) => e.into(),
        }
    }
}

impl From<PasskeyError> for PageError {
    fn from(e: PasskeyError) -> Self {
        match e {
            PasskeyError::Storage(e) => e.into(),
            PasskeyError::Store(e) => e.into(),
            PasskeyError::Internal(_) => PageError::internal(&e, false),
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let t = self.lang.texts();
        let page = ErrorPage {
            t,
            lang: self.lang.code(),
            message: self.text(t),
        };
        let mut response = html(self.status, page.render());
        if let Some(internal) = self.internal {
            response.extensions_mut().insert(internal);
        }
        response
    }
}

/// A rendered page as a response, with caching off: pages carry per-user state.
pub fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> HttpResponse {
    match rendered {
        Ok(body) => HttpResponse::build(status)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("internal error")
        }
    }
}
