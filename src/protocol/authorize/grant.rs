//! Ending an authorization request: a code for the client, or an error, sent to the
//! client's registered redirect URI (RFC 6749 §4.1.2, RFC 9207 `iss`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use super::request::AuthorizationRequest;
use crate::authn::session::{self, Session};
use crate::protocol::error::OAuthError;
use crate::store::{Store, StoreError};
use crate::tokens::code::{self, CodeGrant};

/// Issues a code for `session` and returns the URL that delivers it.
pub async fn issue_code(
    store: &dyn Store,
    issuer: &str,
    request: &AuthorizationRequest,
    session: &Session,
    code_ttl: Duration,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let grant = CodeGrant {
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        facts: session.facts.clone(),
        expires_at: now.timestamp() + i64::try_from(code_ttl.as_secs()).unwrap_or(60),
    };
    let code = code::issue(store, &grant, code_ttl).await?;
    // Remembered for logout: every client this session signed in to is told.
    session::record_client(store, session, &request.client_id, now).await?;
    Ok(response_url(
        &request.redirect_uri,
        &[
            ("code", Some(code.expose())),
            ("state", request.state.as_deref()),
            ("iss", Some(issuer)),
        ],
    ))
}

/// The error response URL (RFC 6749 §4.1.2.1), for a redirect URI already verified.
pub fn error_url(
    redirect_uri: &str,
    state: Option<&str>,
    error: &OAuthError,
    issuer: &str,
) -> String {
    response_url(
        redirect_uri,
        &[
            ("error", Some(error.code_str())),
            ("error_description", error.description.as_deref()),
            ("state", state),
            ("iss", Some(issuer)),
        ],
    )
}

/// Appends parameters to the redirect URI, keeping any query it already has
/// (RFC 6749 §3.1.2).
fn response_url(redirect_uri: &str, params: &[(&str, Option<&str>)]) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    if let Some(value) = value {
                        query.append_pair(name, value);
                    }
                }
            }
            url.to_string()
        }
        // Registered URIs were validated as absolute URLs, so this is unreachable in
        // practice; fall back to plain concatenation rather than failing the login.
        Err(_) => {
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter().filter_map(|(n, v)| v.map(|v| (*n, v))))
                .finish();
            let separator = if redirect_uri.contains('?') { '&' } else { '?' };
            format!("{redirect_uri}{separator}{encoded}")
        }
    }
}
