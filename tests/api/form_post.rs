//! OAuth 2.0 Form Post Response Mode: the code (or the error) reaches the client in the
//! body of a POST sent by an auto-submitting page, never in a URL, and only to the
//! registered redirect URI.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, hidden_field, http_client, location_of, query_param};

/// The hidden fields and the action of a form-post page.
struct PostedResponse {
    action: String,
    html: String,
}

impl PostedResponse {
    fn field(&self, name: &str) -> String {
        hidden_field(&self.html, name)
    }

    fn has_field(&self, name: &str) -> bool {
        self.html.contains(&format!("name=\"{name}\""))
    }
}

/// Checks that `response` is the form-post page with every header that keeps it safe,
/// and reads it.
async fn form_post_page(response: reqwest::Response) -> PostedResponse {
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("location").is_none(),
        "form_post never redirects with the response in a URL"
    );
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("x-frame-options"), "DENY");
    let csp = header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header("referrer-policy"), "no-referrer");
    let html = response.text().await.unwrap();
    assert!(html.contains("<script src=\"/static/form_post.js\"></script>"));
    assert!(
        html.contains("<button type=\"submit\""),
        "a no-script button"
    );
    let start = html.find("action=\"").expect("a form action") + "action=\"".len();
    let end = start + html[start..].find('"').unwrap();
    PostedResponse {
        action: html[start..end].to_owned(),
        html,
    }
}

#[tokio::test]
async fn a_code_is_posted_to_the_registered_redirect_uri_and_redeemed_once() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let citizen = app.citizen();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let url = format!("{}&response_mode=form_post", start.url);
    let browser = http_client(true);
    let response = app
        .submit_login_from(&browser, &url, &citizen.number, PASSWORD)
        .await;
    let posted = form_post_page(response).await;
    assert_eq!(posted.action, client.redirect_uri);
    assert_eq!(posted.field("state"), *start.state.secret());
    assert_eq!(posted.field("iss"), app.issuer);
    let code = posted.field("code");
    let tokens = rp
        .exchange(&app.http, &code, start.verifier)
        .await
        .expect("the posted code is redeemed");
    rp.verify(&tokens, &start.nonce);

    // The same code a second time: refused, as in query mode.
    let (_, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
    let again = rp.exchange(&app.http, &code, verifier).await;
    assert_eq!(again.unwrap_err(), "invalid_grant");
}

#[tokio::test]
async fn with_a_session_authorize_answers_with_the_form_post_page_at_once() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let citizen = app.citizen();
    let rp = app.relying_party(&client).await;
    // First login in query mode, which leaves a session in the browser.
    let first = rp.authorize_url(&[]);
    let location = app.log_in(&first.url, &citizen.number, PASSWORD).await;
    assert!(query_param(&location, "code").is_some(), "{location}");

    let second = rp.authorize_url(&[]);
    let url = format!("{}&response_mode=form_post", second.url);
    let response = app.browser.get(&url).send().await.unwrap();
    let posted = form_post_page(response).await;
    assert_eq!(posted.action, client.redirect_uri);
    assert_eq!(posted.field("state"), *second.state.secret());
    rp.exchange(&app.http, &posted.field("code"), second.verifier)
        .await
        .expect("the SSO code is redeemed");
}

#[tokio::test]
async fn errors_are_posted_too_and_only_to_the_registered_redirect_uri() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);

    // prompt=none without a session: login_required, posted, not in a URL.
    let url = format!("{}&response_mode=form_post&prompt=none", start.url);
    let response = http_client(true).get(&url).send().await.unwrap();
    let posted = form_post_page(response).await;
    assert_eq!(posted.action, client.redirect_uri);
    assert_eq!(posted.field("error"), "login_required");
    assert_eq!(posted.field("state"), *start.state.secret());
    assert!(!posted.has_field("code"));

    // An unregistered redirect URI: an HTML error page, no form aimed anywhere.
    let url = format!("{}&response_mode=form_post", start.url).replace(
        &urlencode(&client.redirect_uri),
        &urlencode("https://attacker.example/cb"),
    );
    assert!(url.contains("attacker.example"));
    let (status, location, body) = app.browse_in(&http_client(true), &url).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(location.is_none());
    assert!(!body.contains("<form id=\"form-post\""), "{body}");
    assert!(!body.contains("attacker.example"), "{body}");
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn an_unknown_response_mode_is_an_error_in_the_query() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    for mode in ["fragment", "jwt", "form_post.jwt", "FORM_POST"] {
        let start = rp.authorize_url(&[]);
        let url = format!("{}&response_mode={mode}", start.url);
        let response = http_client(true).get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FOUND, "{mode}");
        let location = location_of(&response);
        assert!(location.starts_with(&client.redirect_uri), "{location}");
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some("invalid_request")
        );
        assert_eq!(
            query_param(&location, "state").as_deref(),
            Some(start.state.secret().as_str())
        );
    }
    // Twice is a repeated parameter (RFC 6749 §3.1), whatever the values.
    let start = rp.authorize_url(&[]);
    let url = format!("{}&response_mode=form_post&response_mode=query", start.url);
    let response = http_client(true).get(&url).send().await.unwrap();
    let location = location_of(&response);
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn what_the_client_sent_is_escaped_in_the_page() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let state = "\"><script>alert(1)</script>";
    let url = format!(
        "{}&response_mode=form_post&prompt=none",
        start.url.replace(
            &format!("state={}", start.state.secret()),
            &format!("state={}", urlencode(state))
        )
    );
    let response = http_client(true).get(&url).send().await.unwrap();
    let posted = form_post_page(response).await;
    assert!(!posted.html.contains("<script>alert(1)</script>"));
    assert!(
        posted.html.contains("&#34;&#62;&#60;script&#62;")
            || posted.html.contains("&quot;&gt;&lt;script&gt;"),
        "{}",
        posted.html
    );
}

#[tokio::test]
async fn the_form_post_script_is_served_as_script_and_discovery_lists_the_mode() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(app.url("/static/form_post.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(response.text().await.unwrap().contains(".submit()"));
    let discovery = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["response_modes_supported"],
        serde_json::json!(["query", "form_post"])
    );
}
