//! Ending an authorization request: a code for the client, or an error, sent to the
//! client's registered redirect URI (RFC 6749 §4.1.2, RFC 9207 `iss`) in the response
//! mode the client asked for.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::request::AuthorizationRequest;
use crate::authn::session::{self, Session};
use crate::protocol::error::OAuthError;
use crate::store::{Store, StoreError};
use crate::tokens::code::{self, CodeGrant};

/// How the response parameters travel to the redirect URI (OAuth 2.0 Multiple Response
/// Type Encoding Practices §2.1, OAuth 2.0 Form Post Response Mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseMode {
    /// In the query of a redirect: the default of the code flow.
    #[default]
    Query,
    /// In the body of a POST the browser sends from an auto-submitting page, so that the
    /// code never appears in a URL (browser history, logs, `Referer`).
    FormPost,
}

impl ResponseMode {
    pub const SUPPORTED: [&'static str; 2] = ["query", "form_post"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "query" => Some(ResponseMode::Query),
            "form_post" => Some(ResponseMode::FormPost),
            _ => None,
        }
    }
}

/// An authorization response for a redirect URI already verified: a code or an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(&'static str, String)>,
}

impl AuthorizationResponse {
    fn new(
        redirect_uri: &str,
        mode: ResponseMode,
        params: &[(&'static str, Option<&str>)],
    ) -> Self {
        AuthorizationResponse {
            redirect_uri: redirect_uri.to_owned(),
            mode,
            params: params
                .iter()
                .filter_map(|(name, value)| value.map(|v| (*name, v.to_owned())))
                .collect(),
        }
    }

    /// The redirect URI with the parameters appended to its query, keeping any query it
    /// already has (RFC 6749 §3.1.2): the response in query mode.
    pub fn url(&self) -> String {
        response_url(&self.redirect_uri, &self.params)
    }
}

/// Issues a code for `session` and returns the response that delivers it.
pub async fn issue_code(
    store: &dyn Store,
    issuer: &str,
    request: &AuthorizationRequest,
    session: &Session,
    code_ttl: Duration,
    now: DateTime<Utc>,
) -> Result<AuthorizationResponse, StoreError> {
    let grant = CodeGrant {
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        facts: session.facts.clone(),
        expires_at: now.timestamp() + i64::try_from(code_ttl.as_secs()).unwrap_or(60),
        dpop_jkt: request.dpop_jkt.clone(),
    };
    let code = code::issue(store, &grant, code_ttl).await?;
    // Remembered for logout: every client this session signed in to is told.
    session::record_client(store, session, &request.client_id, now).await?;
    Ok(AuthorizationResponse::new(
        &request.redirect_uri,
        request.response_mode,
        &[
            ("code", Some(code.expose())),
            ("state", request.state.as_deref()),
            ("iss", Some(issuer)),
        ],
    ))
}

/// The error response (RFC 6749 §4.1.2.1), for a redirect URI already verified.
pub fn error_response(
    redirect_uri: &str,
    mode: ResponseMode,
    state: Option<&str>,
    error: &OAuthError,
    issuer: &str,
) -> AuthorizationResponse {
    AuthorizationResponse::new(
        redirect_uri,
        mode,
        &[
            ("error", Some(error.code_str())),
            ("error_description", error.description.as_deref()),
            ("state", state),
            ("iss", Some(issuer)),
        ],
    )
}

fn response_url(redirect_uri: &str, params: &[(&'static str, String)]) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params);
            url.to_string()
        }
        // Registered URIs were validated as absolute URLs, so this is unreachable in
        // practice; fall back to plain concatenation rather than failing the login.
        Err(_) => {
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish();
            let separator = if redirect_uri.contains('?') { '&' } else { '?' };
            format!("{redirect_uri}{separator}{encoded}")
        }
    }
}
