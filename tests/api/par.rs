//! Pushed authorization requests (RFC 9126): a client pushes its request to /par,
//! authenticated as at the token endpoint, and sends the browser to /authorize with
//! only `client_id` and the `request_uri` it got; and every way that can be abused.

use chrono::Duration;
use citizen_idp::registration::NewClient;
use openidconnect::PkceCodeChallenge;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    ClientAuth, Fetch, PASSWORD, TestApp, TestClient, assert_oauth_error, assert_redirected_error,
    http_client, post_as, query_param, status_and_json, token_request,
};

pub(crate) const URN: &str = "urn:ietf:params:oauth:request_uri:";

/// An authorization request for `client`, as it would go to /authorize, with PKCE.
pub(crate) struct Pushable {
    pub(crate) params: Vec<(&'static str, String)>,
    pub(crate) verifier: String,
}

pub(crate) fn request_for(client: &TestClient, scope: &str, state: &str) -> Pushable {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    Pushable {
        params: vec![
            ("response_type", "code".into()),
            ("client_id", client.id.clone()),
            ("redirect_uri", client.redirect_uri.clone()),
            ("scope", scope.into()),
            ("state", state.into()),
            ("nonce", "n-0S6_WzA2Mj".into()),
            ("code_challenge", challenge.as_str().to_owned()),
            ("code_challenge_method", "S256".into()),
        ],
        verifier: verifier.secret().clone(),
    }
}

fn form<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// POST /par as `client` with `params`: the status and the JSON answer, which must not
/// be cached.
pub(crate) async fn push_as(
    app: &TestApp,
    auth: ClientAuth<'_>,
    params: &[(&'static str, String)],
) -> (StatusCode, Value) {
    let response = post_as(app, "/par", auth, &form(params)).await;
    crate::helpers::assert_no_store(&response);
    status_and_json(response).await
}

/// Pushes `request` as `client`, which must be accepted: the `request_uri`.
pub(crate) async fn push(app: &TestApp, client: &TestClient, request: &Pushable) -> String {
    let (status, body) = push_as(
        app,
        client.auth(),
        &without_client_id(client, &request.params),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let request_uri = body["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with(URN), "{request_uri}");
    request_uri
}

/// A public client names itself with `client_id`, which `ClientAuth::Public` adds.
fn without_client_id(
    client: &TestClient,
    params: &[(&'static str, String)],
) -> Vec<(&'static str, String)> {
    params
        .iter()
        .filter(|(k, _)| client.secret.is_some() || *k != "client_id")
        .cloned()
        .collect()
}

/// /authorize with `client_id`, `request_uri` and `extra` loose parameters.
pub(crate) fn authorize_url(
    app: &TestApp,
    client_id: &str,
    request_uri: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut query = vec![("client_id", client_id), ("request_uri", request_uri)];
    query.extend_from_slice(extra);
    format!(
        "{}?{}",
        app.url("/authorize"),
        serde_urlencoded::to_string(query).unwrap()
    )
}

/// The code flow's end: the code exchanged, which must give tokens.
async fn exchange(app: &TestApp, client: &TestClient, redirect: &str, verifier: &str) -> Value {
    let code = query_param(redirect, "code").expect("a code");
    let (status, tokens) = token_request(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

/// An error page at /authorize: 400, no redirect anywhere.
#[track_caller]
fn assert_page_refusal((status, location, _): &(StatusCode, Option<String>, String), case: &str) {
    assert_eq!(*status, StatusCode::BAD_REQUEST, "{case}");
    assert!(location.is_none(), "{case}: no redirect, got {location:?}");
}

#[tokio::test]
async fn a_pushed_request_leads_through_the_login_to_tokens() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let request = request_for(&client, "openid profile", "pushed-state");

    let (status, body) = push_as(&app, client.auth(), &request.params).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let request_uri = body["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with(URN), "{request_uri}");
    assert!(request_uri.len() > URN.len() + 30, "a random reference");
    assert_eq!(body["expires_in"], 60, "at most a minute by default");

    let redirect = app
        .log_in(
            &authorize_url(&app, &client.id, request_uri, &[]),
            &citizen.number,
            PASSWORD,
        )
        .await;
    assert!(redirect.starts_with(&client.redirect_uri), "{redirect}");
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some("pushed-state")
    );
    assert_eq!(
        query_param(&redirect, "iss").as_deref(),
        Some(app.issuer.as_str())
    );
    let tokens = exchange(&app, &client, &redirect, &request.verifier).await;
    assert_eq!(tokens["scope"], "openid profile");
    let (status, userinfo) = app.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(userinfo["sub"], citizen.subject);
}

#[tokio::test]
async fn every_client_authentication_method_pushes() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    // client_secret_basic, and a public client naming itself.
    let portal = app.confidential_client();
    let mobile = app.public_client();
    // client_secret_post.
    let post = app.register_client(NewClient {
        token_endpoint_auth_method: Some("client_secret_post".into()),
        ..TestClient::portal()
    });
    for client in [&portal, &mobile] {
        let request = request_for(client, "openid", "s");
        let request_uri = push(&app, client, &request).await;
        let redirect = app
            .log_in(
                &authorize_url(&app, &client.id, &request_uri, &[]),
                &citizen.number,
                PASSWORD,
            )
            .await;
        exchange(&app, client, &redirect, &request.verifier).await;
    }
    let mut params = request_for(&post, "openid", "s").params;
    params.push(("client_secret", post.secret.clone().unwrap()));
    let (status, body) = push_as(&app, ClientAuth::Form, &params).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The wrong secret, a method the client did not register, and nothing at all.
    let params = request_for(&portal, "openid", "s").params;
    let wrong = push_as(&app, ClientAuth::Basic(&portal.id, "wrong"), &params).await;
    assert_oauth_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_client");
    let mut as_post = params.clone();
    as_post.push(("client_secret", portal.secret.clone().unwrap()));
    let other_method = push_as(&app, ClientAuth::Form, &as_post).await;
    assert_oauth_error(&other_method, StatusCode::UNAUTHORIZED, "invalid_client");
    let anonymous = push_as(&app, ClientAuth::Form, &params).await;
    assert_oauth_error(&anonymous, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn a_pushed_request_is_checked_as_authorize_checks_it() {
    let app = TestApp::spawn().await;
    let portal = app.confidential_client();
    let mobile = app.public_client();
    let with = |client: &TestClient, name: &'static str, value: Option<&str>| {
        let mut params: Vec<_> = request_for(client, "openid", "s")
            .params
            .into_iter()
            .filter(|(k, _)| *k != name)
            .collect();
        if let Some(value) = value {
            params.push((name, value.to_owned()));
        }
        params
    };
    let cases = [
        (
            &portal,
            with(&portal, "redirect_uri", Some("https://attacker.example/cb")),
            "invalid_request",
            "an unregistered redirect_uri",
        ),
        (
            &portal,
            with(
                &portal,
                "redirect_uri",
                Some("https://portal.example.gov.vn/callback/"),
            ),
            "invalid_request",
            "a redirect_uri not exactly the registered one",
        ),
        (
            &portal,
            with(&portal, "redirect_uri", None),
            "invalid_request",
            "no redirect_uri",
        ),
        (
            &portal,
            with(&portal, "response_type", Some("token")),
            "unsupported_response_type",
            "the implicit flow",
        ),
        (
            &portal,
            with(&portal, "scope", Some("openid national_id")),
            "invalid_scope",
            "a scope the client lacks",
        ),
        (
            &portal,
            with(&portal, "code_challenge_method", Some("plain")),
            "invalid_request",
            "plain PKCE",
        ),
        (
            &portal,
            with(
                &portal,
                "request_uri",
                Some("urn:ietf:params:oauth:request_uri:x"),
            ),
            "invalid_request",
            "a request_uri pushed",
        ),
        (
            &mobile,
            with(&mobile, "code_challenge", None),
            "invalid_request",
            "a public client without PKCE",
        ),
    ];
    for (client, params, error, case) in cases {
        let params = without_client_id(client, &params);
        let (status, body) = push_as(&app, client.auth(), &params).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
        assert_eq!(body["error"], error, "{case}: {body}");
    }
}

#[tokio::test]
async fn a_request_uri_is_used_once() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let request_uri = push(&app, &client, &request_for(&client, "openid", "s")).await;
    let url = authorize_url(&app, &client.id, &request_uri, &[]);
    let first = app.browse(&url).await;
    assert_eq!(first.0, StatusCode::FOUND);
    assert!(first.1.unwrap().starts_with("/login?"));
    // The login goes on from the flow, not from the request_uri: a second use, even
    // from the same browser, finds nothing.
    assert_page_refusal(&app.browse(&url).await, "reused");
    assert_page_refusal(
        &app.browse_in(&http_client(true), &url).await,
        "reused elsewhere",
    );
}

#[tokio::test]
async fn a_request_uri_expires_with_its_lifetime() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let request_uri = push(&app, &client, &request_for(&client, "openid", "s")).await;
    app.advance_clock(Duration::seconds(61));
    assert_page_refusal(
        &app.browse(&authorize_url(&app, &client.id, &request_uri, &[]))
            .await,
        "after 61 s",
    );

    // Configured lower, it lives that long.
    let short = TestApp::spawn_with(|s| s.par.lifetime_secs = 10).await;
    let client = short.confidential_client();
    let request = request_for(&client, "openid", "s");
    let (status, body) = push_as(&short, client.auth(), &request.params).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["expires_in"], 10);
    short.advance_clock(Duration::seconds(9));
    let alive = push(&short, &client, &request_for(&client, "openid", "s")).await;
    let (status, location, _) = short
        .browse(&authorize_url(&short, &client.id, &alive, &[]))
        .await;
    assert_eq!(status, StatusCode::FOUND, "within its lifetime");
    assert!(location.unwrap().starts_with("/login?"));
    short.advance_clock(Duration::seconds(2));
    let expired = body["request_uri"].as_str().unwrap();
    assert_page_refusal(
        &short
            .browse(&authorize_url(&short, &client.id, expired, &[]))
            .await,
        "after 11 s of 10",
    );
}

#[tokio::test]
async fn another_clients_request_uri_is_refused() {
    let app = TestApp::spawn().await;
    let victim = app.confidential_client();
    let attacker = app.public_client();
    let request_uri = push(&app, &victim, &request_for(&victim, "openid", "s")).await;
    assert_page_refusal(
        &app.browse(&authorize_url(&app, &attacker.id, &request_uri, &[]))
            .await,
        "another client's request_uri",
    );
    // An unknown client with it is no better.
    assert_page_refusal(
        &app.browse(&authorize_url(&app, "nobody", &request_uri, &[]))
            .await,
        "an unknown client",
    );
    // Shown by another client, it has leaked: it is spent.
    assert_page_refusal(
        &app.browse(&authorize_url(&app, &victim.id, &request_uri, &[]))
            .await,
        "spent by the attempt",
    );
    // A reference we never issued.
    assert_page_refusal(
        &app.browse(&authorize_url(
            &app,
            &victim.id,
            &format!("{URN}made-up"),
            &[],
        ))
        .await,
        "unknown",
    );
}

#[tokio::test]
async fn loose_parameters_beside_a_request_uri_are_ignored() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let mut registration = TestClient::portal();
    registration
        .redirect_uris
        .push("https://portal.example.gov.vn/other".into());
    let client = app.register_client(registration);
    let request = request_for(&client, "openid", "pushed");
    let request_uri = push(&app, &client, &request).await;
    // RFC 9126 §4: only the pushed parameters count.
    let url = authorize_url(
        &app,
        &client.id,
        &request_uri,
        &[
            ("redirect_uri", "https://portal.example.gov.vn/other"),
            ("scope", "openid profile address"),
            ("state", "loose"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
            ("prompt", "none"),
        ],
    );
    let redirect = app.log_in(&url, &citizen.number, PASSWORD).await;
    assert!(redirect.starts_with(&client.redirect_uri), "{redirect}");
    assert!(!redirect.starts_with("https://portal.example.gov.vn/other"));
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("pushed"));
    let tokens = exchange(&app, &client, &redirect, &request.verifier).await;
    assert_eq!(
        tokens["scope"], "openid",
        "the pushed scope, not the loose one"
    );
}

#[tokio::test]
async fn a_client_that_must_push_cannot_use_plain_authorize() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let mut registration = TestClient::portal();
    registration.security.require_pushed_authorization_requests = true;
    let client = app.register_client(registration);
    let request = request_for(&client, "openid", "plain");
    let plain = format!(
        "{}?{}",
        app.url("/authorize"),
        serde_urlencoded::to_string(form(&request.params)).unwrap()
    );
    let (status, location, _) = app.browse(&plain).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_redirected_error(&location.unwrap(), "invalid_request", "plain");

    let request_uri = push(&app, &client, &request).await;
    let redirect = app
        .log_in(
            &authorize_url(&app, &client.id, &request_uri, &[]),
            &citizen.number,
            PASSWORD,
        )
        .await;
    exchange(&app, &client, &redirect, &request.verifier).await;
}

#[tokio::test]
async fn the_server_can_require_pushed_requests_of_every_client() {
    let app = TestApp::spawn_with(|s| s.par.required = true).await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let (status, location, _) = app.browse(&start.url).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_redirected_error(&location.unwrap(), "invalid_request", start.state.secret());

    let request = request_for(&client, "openid", "s");
    let request_uri = push(&app, &client, &request).await;
    let redirect = app
        .log_in(
            &authorize_url(&app, &client.id, &request_uri, &[]),
            &citizen.number,
            PASSWORD,
        )
        .await;
    exchange(&app, &client, &redirect, &request.verifier).await;

    let document: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(document["require_pushed_authorization_requests"], true);
}

#[tokio::test]
async fn two_browsers_racing_with_one_request_uri_get_one_login() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let request_uri = push(&app, &client, &request_for(&client, "openid", "s")).await;
    let url = authorize_url(&app, &client.id, &request_uri, &[]);
    let mut racing = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (browser, url) = (http_client(true), url.clone());
        racing.spawn(async move { browser.get(url).fetch().await.status() });
    }
    let statuses = racing.join_all().await;
    let won = statuses.iter().filter(|s| **s == StatusCode::FOUND).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    assert_eq!((won, refused), (1, 7), "{statuses:?}");
}

#[tokio::test]
async fn discovery_names_the_endpoint_and_whether_it_is_required() {
    let app = TestApp::spawn().await;
    let document: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        document["pushed_authorization_request_endpoint"],
        app.url("/par")
    );
    assert_eq!(document["require_pushed_authorization_requests"], false);
    // The openidconnect crate still reads it.
    app.discover().await;
}
