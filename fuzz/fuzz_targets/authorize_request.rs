//! The authorization request (GET query or POST form): decoding, then the ordered
//! checks of `protocol::authorize::request`, against the fixture clients.
//!
//! Invariants: an accepted request redirects only to a registered URI (exactly, or a
//! loopback one on another port, RFC 8252 §7.3); it asks for `openid` and no scope the
//! client lacks; a public client always has an S256 challenge; no accepted value is
//! over the size bound; the stored form of the request round-trips; and the error
//! redirect built from it is a URL that keeps the registered URI.
#![no_main]

use citizen_idp::domain::client::{Client, ClientKind};
use citizen_idp::domain::scope::ScopeSet;
use citizen_idp::http::params;
use citizen_idp::protocol::authorize::grant;
use citizen_idp::protocol::authorize::request::{
    self, AuthorizationRequest, AuthorizeError, AuthorizeParams,
};
use citizen_idp::protocol::error::{ErrorCode, OAuthError};
use citizen_idp::tokens::pkce;
use citizen_idp_fuzz::{ISSUER, clients};
use libfuzzer_sys::fuzz_target;
use url::Url;

const MAX_PARAM_LEN: usize = 2048;

fuzz_target!(|data: &[u8]| {
    let Some(pairs) = params::parse(data) else {
        return;
    };
    let params = AuthorizeParams::from_pairs(pairs);
    let Ok(client_id) = request::client_id(&params) else {
        return;
    };
    let clients = clients();
    let Some(client) = clients.iter().find(|c| c.id == client_id) else {
        return;
    };
    match request::check(&params, client) {
        Ok(accepted) => check_accepted(&accepted, client),
        Err(AuthorizeError::Redirect {
            redirect_uri,
            response_mode,
            state,
            error,
        }) => {
            assert!(is_registered(client, &redirect_uri), "{redirect_uri:?}");
            check_error_url(&redirect_uri, response_mode, state.as_deref(), &error);
        }
        Err(AuthorizeError::Page(_)) => {}
    }
});

fn check_accepted(accepted: &AuthorizationRequest, client: &Client) {
    assert!(is_registered(client, &accepted.redirect_uri));
    let scope = &accepted.scope;
    assert_eq!(
        ScopeSet::parse(&scope.to_string()).as_ref(),
        Ok(scope),
        "the scope's text form reads back as the same set"
    );
    assert!(scope.contains("openid"));
    assert!(scope.is_subset(&client.scopes));
    if client.kind == ClientKind::Public {
        let challenge = accepted
            .code_challenge
            .as_deref()
            .expect("PKCE is required");
        assert!(pkce::is_valid_s256_challenge(challenge));
    }
    for value in [&accepted.state, &accepted.nonce, &accepted.ui_locales]
        .into_iter()
        .flatten()
    {
        assert!(!value.is_empty() && value.len() <= MAX_PARAM_LEN);
    }
    assert!(accepted.max_age.is_none_or(|m| m >= 0));

    // The request is stored as JSON while the citizen logs in.
    let stored = serde_json::to_string(accepted).expect("serialises");
    let back: AuthorizationRequest = serde_json::from_str(&stored).expect("deserialises");
    assert_eq!(serde_json::to_string(&back).expect("serialises"), stored);

    check_error_url(
        &accepted.redirect_uri,
        accepted.response_mode,
        accepted.state.as_deref(),
        &OAuthError::new(ErrorCode::AccessDenied, "fuzz"),
    );
}

/// Exactly a registered URI, or (RFC 8252 §7.3) a registered loopback URI with another
/// port: same scheme, host, path and query, a valid port, and nothing else.
fn is_registered(client: &Client, requested: &str) -> bool {
    client.redirect_uris.iter().any(|registered| {
        registered == requested || {
            let (Ok(r), Ok(q)) = (Url::parse(registered), Url::parse(requested)) else {
                return false;
            };
            r.scheme() == "http"
                && matches!(r.host_str(), Some("127.0.0.1" | "[::1]"))
                && q.scheme() == r.scheme()
                && q.host_str() == r.host_str()
                && q.username().is_empty()
                && q.password().is_none()
                && q.path() == r.path()
                && q.query() == r.query()
                && q.fragment().is_none()
        }
    })
}

fn check_error_url(
    redirect_uri: &str,
    mode: grant::ResponseMode,
    state: Option<&str>,
    error: &OAuthError,
) {
    let response = grant::error_response(redirect_uri, mode, state, error, ISSUER);
    assert_eq!(
        response.redirect_uri, redirect_uri,
        "only to the registered URI"
    );
    let url = response.url();
    let parsed = Url::parse(&url).expect("the error redirect is a URL");
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    assert!(pairs.contains(&("error".to_owned(), error.code_str().to_owned())));
    assert!(pairs.contains(&("iss".to_owned(), ISSUER.to_owned())));
    if let Some(state) = state {
        assert!(pairs.contains(&("state".to_owned(), state.to_owned())));
    }
}
