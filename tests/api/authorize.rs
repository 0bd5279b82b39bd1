//! Bad authorization requests: an HTML page while the client or redirect URI is not
//! trusted, an error redirect to the registered URI after that.

use reqwest::StatusCode;

use crate::helpers::{TestApp, query_param};

fn authorize_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap();
    app.url(&format!("/authorize?{query}"))
}

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async fn assert_html_error(app: &TestApp, url: &str) {
    let (status, location, body) = app.browse(url).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
    assert!(
        location.is_none(),
        "must not redirect to an untrusted URI: {location:?}"
    );
    assert!(body.contains("<html"), "an HTML error page is expected");
}

#[tokio::test]
async fn an_unknown_client_gets_an_html_error_page_never_a_redirect() {
    let app = TestApp::spawn().await;
    let url = authorize_url(
        &app,
        &[
            ("client_id", "no-such-client"),
            ("redirect_uri", "https://attacker.example/cb"),
            ("response_type", "code"),
            ("scope", "openid"),
        ],
    );
    assert_html_error(&app, &url).await;
    assert_html_error(&app, &app.url("/authorize")).await;
}

#[tokio::test]
async fn a_redirect_uri_that_is_not_registered_exactly_gets_an_html_error_page() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let public = app.public_client();
    for (client_id, uri) in [
        (client.id.as_str(), "https://attacker.example/callback"),
        (
            client.id.as_str(),
            "https://portal.example.gov.vn/callback/",
        ),
        (
            client.id.as_str(),
            "https://portal.example.gov.vn/callback?x=1",
        ),
        (
            client.id.as_str(),
            "https://portal.example.gov.vn:8443/callback",
        ),
        (client.id.as_str(), "http://portal.example.gov.vn/callback"),
        (public.id.as_str(), "http://127.0.0.1:5000/other"),
        // Found by fuzzing: a loopback "port" past 65535 is no port.
        (public.id.as_str(), "http://127.0.0.1:65536/callback"),
        (public.id.as_str(), "http://127.0.0.1:98304/callback"),
        (public.id.as_str(), "http://localhost:5000/callback"),
        (
            public.id.as_str(),
            "http://127.0.0.1.attacker.example/callback",
        ),
    ] {
        let url = authorize_url(
            &app,
            &[
                ("client_id", client_id),
                ("redirect_uri", uri),
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        );
        assert_html_error(&app, &url).await;
    }
    let missing = authorize_url(
        &app,
        &[("client_id", client.id.as_str()), ("response_type", "code")],
    );
    assert_html_error(&app, &missing).await;
}

/// Sends an authorization request that gets past the redirect URI check and returns
/// the `error` sent back to the client.
async fn redirected_error(
    app: &TestApp,
    client_id: &str,
    redirect_uri: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut params = vec![
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("state", "xyz"),
    ];
    params.extend_from_slice(extra);
    let (status, location, _) = app.browse(&authorize_url(app, &params)).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    assert!(
        location.starts_with(redirect_uri),
        "errors go to the registered URI: {location}"
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(app.issuer.as_str())
    );
    query_param(&location, "error").expect("an error parameter")
}

#[tokio::test]
async fn protocol_errors_are_redirected_to_the_registered_uri_with_state_and_iss() {
    let app = TestApp::spawn().await;
    let portal = app.confidential_client();
    let uri = portal.redirect_uri.as_str();
    let pkce = [
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("scope", "openid")], "invalid_request"),
        (
            vec![("response_type", "token"), ("scope", "openid")],
            "unsupported_response_type",
        ),
        (vec![("response_type", "code")], "invalid_scope"),
        (
            vec![("response_type", "code"), ("scope", "profile")],
            "invalid_scope",
        ),
        (
            vec![("response_type", "code"), ("scope", "openid national_id")],
            "invalid_scope",
        ),
        (
            vec![
                ("response_type", "code"),
                ("scope", "openid"),
                ("request", "eyJ"),
            ],
            // A request object that is no signed JWT (tests/api/request_object.rs).
            "invalid_request_object",
        ),
        (
            vec![
                ("response_type", "code"),
                ("scope", "openid"),
                ("prompt", "none login"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("scope", "openid"),
                ("max_age", "-1"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("scope", "openid"),
                ("response_mode", "fragment"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", CHALLENGE),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", "short"),
                ("code_challenge_method", "S256"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("response_type", "code"),
                ("response_type", "code"),
                ("scope", "openid"),
            ],
            "invalid_request",
        ),
    ];
    for (extra, expected) in cases {
        let mut params = extra.clone();
        if !extra.iter().any(|(k, _)| k.starts_with("code_challenge")) {
            params.extend_from_slice(&pkce);
        }
        assert_eq!(
            redirected_error(&app, &portal.id, uri, &params).await,
            expected,
            "{extra:?}"
        );
    }
}

#[tokio::test]
async fn a_public_client_must_use_pkce_s256() {
    let app = TestApp::spawn().await;
    let app_client = app.public_client();
    let uri = "http://127.0.0.1:6000/callback";
    let base = [("response_type", "code"), ("scope", "openid")];
    assert_eq!(
        redirected_error(&app, &app_client.id, uri, &base).await,
        "invalid_request"
    );
    let mut plain = base.to_vec();
    plain.extend_from_slice(&[
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "plain"),
    ]);
    assert_eq!(
        redirected_error(&app, &app_client.id, uri, &plain).await,
        "invalid_request"
    );
}

#[tokio::test]
async fn an_oversized_parameter_is_refused() {
    let app = TestApp::spawn().await;
    let portal = app.confidential_client();
    let long_state = "s".repeat(5000);
    let url = authorize_url(
        &app,
        &[
            ("client_id", portal.id.as_str()),
            ("redirect_uri", portal.redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", long_state.as_str()),
        ],
    );
    let (status, location, _) = app.browse(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(
        query_param(&location, "state").is_none(),
        "an oversized state is not echoed"
    );
}
