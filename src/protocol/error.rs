//! The one protocol error. [`OAuthError`]'s code is the RFC string (`invalid_grant`,
//! `invalid_client`, ...); the protocol services return it, and the web layer renders it
//! (`http::oauth_error`): RFC 6749 §5.2 JSON at the token endpoint, a redirect to the
//! client's registered redirect URI at the authorization endpoint (RFC 6749 §4.1.2.1),
//! an RFC 6750 §3 Bearer challenge at userinfo. Pages for people use
//! `http::page_error::PageError` instead.
//!
//! The admin API answers the same error with three codes of its own
//! (`invalid_client_metadata`, `not_found`, `conflict`).
//!
//! Internal causes (database, store, signing) become `server_error` or
//! `temporarily_unavailable`; the cause goes to the log with the request id, never to
//! the client.

use std::borrow::Cow;

use serde::Serialize;

use crate::audit::AuditError;
use crate::authn::password::PasswordError;
use crate::metrics::InternalError;
use crate::storage::StorageError;
use crate::store::StoreError;
use crate::tokens::TokenError;
use crate::tokens::revocation::RevocationError;

/// Error codes from RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, OIDC Core §3.1.2.6,
/// RFC 7591 §3.2.2 and RFC 9449 §12.2, and the admin API's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed (unknown client, wrong secret, wrong method).
    InvalidClient,
    /// The code is invalid, expired, used, or was issued to another client or URI.
    InvalidGrant,
    /// The client may not use this grant or response type.
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    /// The scope is invalid, unknown, or more than the client may ask for.
    InvalidScope,
    /// The citizen or the server refused.
    AccessDenied,
    /// `prompt=none` but the citizen must log in (OIDC Core §3.1.2.6).
    LoginRequired,
    /// `prompt=none` but the citizen must grant consent (OIDC Core §3.1.2.6).
    ConsentRequired,
    /// `prompt=none` but a page other than login or consent is needed (OIDC Core §3.1.2.6).
    InteractionRequired,
    /// The requested `acr` cannot be met (OpenID Connect Core errata, §3.1.2.6 of the
    /// Step-up Authentication profile; also RFC 9470's error of that name).
    UnmetAuthenticationRequirements,
    /// The access token is expired, revoked, malformed or otherwise invalid (RFC 6750).
    InvalidToken,
    /// The access token lacks the scope the resource needs (RFC 6750).
    InsufficientScope,
    RequestNotSupported,
    RequestUriNotSupported,
    /// A DPoP proof (RFC 9449 §5, §7.1) is missing where one is required, malformed,
    /// replayed, or made for another request or key.
    InvalidDpopProof,
    /// The DPoP proof must carry the nonce given in the `DPoP-Nonce` header (RFC 9449 §8).
    UseDpopNonce,
    /// A request object is malformed, unsigned, badly signed, expired or replayed
    /// (OIDC Core §3.1.2.6, RFC 9101 §6.1).
    InvalidRequestObject,
    /// A `request_uri` is unknown, spent, expired or another client's (RFC 9101 §6.2).
    /// The authorization endpoint shows a page instead (no redirect URI is known good
    /// then), so this code is for other callers (a JSON answer about a request_uri).
    InvalidRequestUri,
    /// An unexpected condition; the cause is logged, not returned.
    ServerError,
    /// A dependency (database, store) is unavailable; try again later.
    TemporarilyUnavailable,
    /// A client setting is invalid (RFC 7591 §3.2.2); the admin API's answer.
    InvalidClientMetadata,
    /// The admin API has no such resource, or is off.
    NotFound,
    /// The admin API's change contradicts what is stored (the client exists already,
    /// the key still signs, the account is not in the state the action needs).
    Conflict,
    /// OpenID Federation 1.0 §8.9: the trust anchor named is not one this server trusts.
    InvalidTrustAnchor,
    /// OpenID Federation 1.0 §8.9: no valid trust chain links the subject to the trust
    /// anchor (a statement missing, expired or badly signed, a policy violated).
    InvalidTrustChain,
    /// OpenID Federation 1.0 §8.9: a parameter this server does not support.
    UnsupportedParameter,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    /// For the developer, in English; owned when it names a reason known only at run
    /// time (a registration rule, a parse error), never an internal cause.
    pub description: Option<Cow<'static, str>>,
    /// What an internal error hid, for the metrics; never shown to the client.
    pub internal: Option<InternalError>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: &'static str) -> Self {
        OAuthError {
            code,
            description: Some(Cow::Borrowed(description)),
            internal: None,
        }
    }

    /// An error whose description is made at run time.
    pub fn with_description(code: ErrorCode, description: String) -> Self {
        OAuthError {
            code,
            description: Some(Cow::Owned(description)),
            internal: None,
        }
    }

    pub fn code_str(&self) -> &'static str {
        match self.code {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::InvalidRequestObject => "invalid_request_object",
            ErrorCode::InvalidRequestUri => "invalid_request_uri",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::InvalidTrustAnchor => "invalid_trust_anchor",
            ErrorCode::InvalidTrustChain => "invalid_trust_chain",
            ErrorCode::UnsupportedParameter => "unsupported_parameter",
        }
    }

    /// Logs an internal cause and hides it behind a generic protocol error.
    pub fn internal(cause: &dyn std::fmt::Display, unavailable: bool) -> Self {
        Self::internal_from(InternalError::OTHER, cause, unavailable)
    }

    pub(crate) fn internal_from(
        source: InternalError,
        cause: &dyn std::fmt::Display,
        unavailable: bool,
    ) -> Self {
        tracing::error!(error = %cause, source = source.source, "internal error");
        Self::hidden(source, unavailable)
    }

    /// A generic protocol error hiding an internal cause already logged (or counted).
    fn hidden(source: InternalError, unavailable: bool) -> Self {
        let mut error = if unavailable {
            OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "a dependency is unavailable; try again",
            )
        } else {
            OAuthError::new(ErrorCode::ServerError, "unexpected error")
        };
        error.internal = Some(source);
        error
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code_str())
    }
}

impl From<StorageError> for OAuthError {
    fn from(e: StorageError) -> Self {
        let unavailable = matches!(e, StorageError::Unavailable(_));
        OAuthError::internal_from(InternalError::database(&e), &e, unavailable)
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            // The full store reports its refusals itself, at most once a minute: a line
            // per refused request would flood the log during the flood that filled it.
            StoreError::Full(_) => OAuthError::hidden(InternalError::STORE_FULL, true),
            StoreError::Unavailable(_) => OAuthError::internal_from(InternalError::STORE, &e, true),
        }
    }
}

impl From<TokenError> for OAuthError {
    fn from(e: TokenError) -> Self {
        OAuthError::internal_from(InternalError::SIGNING, &e, false)
    }
}

impl From<RevocationError> for OAuthError {
    fn from(e: RevocationError) -> Self {
        match e {
            RevocationError::Storage(e) => e.into(),
            RevocationError::Store(e) => e.into(),
        }
    }
}

/// A disclosure whose audit row is not committed is not made: the caller answers
/// `temporarily_unavailable`, as for a database that is away.
impl From<AuditError> for OAuthError {
    fn from(e: AuditError) -> Self {
        OAuthError::internal_from(InternalError::AUDIT, &e, true)
    }
}

impl From<PasswordError> for OAuthError {
    fn from(e: PasswordError) -> Self {
        OAuthError::internal_from(InternalError::PASSWORD, &e, false)
    }
}

/// The description of a userinfo request that carried no token, which RFC 6750 §3.1
/// answers with a bare challenge.
pub const MISSING_TOKEN: &str = "no access token in the request";
