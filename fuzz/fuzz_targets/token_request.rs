//! The token request form: decoding and shape checks (`TokenForm::from_body`), the
//! typed grant (`TokenForm::grant`), and reading the client's credentials from it
//! (`client_auth::credentials`) the way the token endpoint does.
//!
//! Invariants: an accepted form repeats no parameter and holds no value over the size
//! bound; a grant's required values are present; the credentials name a client, and
//! never come from two methods at once.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use citizen_idp::protocol::client_auth::{self, AssertionParams};
use citizen_idp::protocol::token::request::{TokenForm, TokenRequest};
use libfuzzer_sys::fuzz_target;

const MAX_VALUE_LEN: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Ok(form) = TokenForm::from_body(data) else {
        return;
    };
    let pairs: Vec<(String, String)> =
        citizen_idp::http::params::parse(data).expect("an accepted form decodes");
    let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    assert!(
        names.windows(2).all(|w| w[0] != w[1]),
        "a repeated parameter"
    );
    assert!(pairs.iter().all(|(_, v)| v.len() <= MAX_VALUE_LEN));

    if let Ok(grant) = form.grant() {
        match &grant {
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                assert_eq!(form.get("grant_type"), Some("authorization_code"));
                assert!(!code.expose().is_empty() && !redirect_uri.is_empty());
                assert!(
                    code_verifier
                        .as_ref()
                        .is_none_or(|v| !v.expose().is_empty())
                );
            }
            TokenRequest::RefreshToken { refresh_token, .. } => {
                assert_eq!(form.get("grant_type"), Some("refresh_token"));
                assert!(!refresh_token.expose().is_empty());
            }
            TokenRequest::ClientCredentials { .. } => {
                assert_eq!(form.get("grant_type"), Some("client_credentials"));
            }
        }
        let _ = grant.grant_type();
    }

    let assertion = AssertionParams {
        assertion_type: form.get("client_assertion_type"),
        assertion: form.get("client_assertion"),
    };
    let uses_assertion = assertion.assertion.is_some() || assertion.assertion_type.is_some();
    let from_form = client_auth::credentials(
        None,
        form.get("client_id"),
        form.get("client_secret"),
        assertion,
    );
    if let Ok(credentials) = &from_form {
        assert!(!credentials.client_id.is_empty());
        assert_eq!(credentials.assertion.is_some(), uses_assertion);
        if uses_assertion {
            assert!(credentials.secret.is_none());
        }
    }
    // The same form with a valid Basic header: one method at most.
    let basic = format!("Basic {}", STANDARD.encode("portal:s3cret"));
    if let Ok(credentials) = client_auth::credentials(
        Some(&basic),
        form.get("client_id"),
        form.get("client_secret"),
        assertion,
    ) {
        assert!(form.get("client_secret").is_none() && !uses_assertion);
        assert_eq!(credentials.client_id, "portal");
    }
});
