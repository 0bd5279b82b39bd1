//! Bad token requests get RFC 6749 §5.2 JSON errors.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use citizen_idp::domain::citizen::LifeStatus;
use reqwest::StatusCode;

use crate::helpers::{
    AuthorizationStart, ClientAuth, Fetch, PASSWORD, RelyingParty, TestApp, TestCitizen,
    TestClient, assert_no_store, assert_oauth_error, post_as, query_param, status_and_json,
    token_request, token_request_as,
};

struct Issued {
    rp: RelyingParty,
    start: AuthorizationStart,
    code: String,
    citizen: TestCitizen,
}

async fn code_for(app: &TestApp, client: &TestClient) -> Issued {
    let citizen = app.citizen();
    let rp = app.relying_party(client).await;
    let start = rp.authorize_url(&["profile"]);
    let redirect = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    let code = query_param(&redirect, "code").unwrap();
    Issued {
        rp,
        start,
        code,
        citizen,
    }
}

fn verifier(issued: &Issued) -> String {
    issued.start.verifier.secret().clone()
}

fn redeem_form<'a>(
    issued: &'a Issued,
    redirect_uri: &'a str,
    verifier: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", issued.code.as_str()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ]
}

#[tokio::test]
async fn client_secret_post_is_accepted_from_a_client_registered_for_it() {
    let app = TestApp::spawn().await;
    let client = app.register_client(citizen_idp::registration::NewClient {
        token_endpoint_auth_method: Some("client_secret_post".into()),
        ..TestClient::portal()
    });
    let issued = code_for(&app, &client).await;
    let v = verifier(&issued);
    let mut form = redeem_form(&issued, &client.redirect_uri, &v);
    let secret = client.secret.clone().unwrap();
    form.extend([
        ("client_id", client.id.as_str()),
        ("client_secret", secret.as_str()),
    ]);
    let (status, body) = token_request_as(&app, ClientAuth::Form, &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["id_token"].as_str().is_some());
    assert_eq!(body["expires_in"], 300);
}

#[tokio::test]
async fn reused_authorization_code_is_rejected_with_invalid_grant() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let issued = code_for(&app, &client).await;
    let v = verifier(&issued);
    let form = redeem_form(&issued, &client.redirect_uri, &v);
    let (status, first) = token_request(&app, &client, &form).await;
    assert_eq!(status, StatusCode::OK);
    let access_token = first["access_token"].as_str().unwrap();
    assert_eq!(app.userinfo(access_token).await.0, StatusCode::OK);

    assert_oauth_error(
        &token_request(&app, &client, &form).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    // RFC 6749 §4.1.2: the replay revokes what the code had given.
    assert_eq!(app.userinfo(access_token).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_expired_code_is_rejected_with_invalid_grant() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let issued = code_for(&app, &client).await;
    app.advance_clock(Duration::seconds(61));
    let err = issued
        .rp
        .exchange(&app.http, &issued.code, issued.start.verifier)
        .await
        .unwrap_err();
    assert_eq!(err, "invalid_grant");
}

#[tokio::test]
async fn a_pkce_mismatch_or_a_missing_verifier_is_rejected_with_invalid_grant() {
    let app = TestApp::spawn().await;
    let client = app.public_client();
    let issued = code_for(&app, &client).await;
    let wrong = "x".repeat(64);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", issued.code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("client_id", client.id.as_str()),
        ("code_verifier", wrong.as_str()),
    ];
    assert_oauth_error(
        &token_request_as(&app, ClientAuth::Form, &form).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );

    let issued = code_for(&app, &client).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", issued.code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("client_id", client.id.as_str()),
    ];
    assert_oauth_error(
        &token_request_as(&app, ClientAuth::Form, &form).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
}

#[tokio::test]
async fn a_wrong_secret_or_an_unknown_client_gets_401_invalid_client_with_a_challenge() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let issued = code_for(&app, &client).await;
    let v = verifier(&issued);
    let form = redeem_form(&issued, &client.redirect_uri, &v);
    for (id, secret) in [
        (client.id.as_str(), "wrong-secret"),
        ("no-such-client", "whatever"),
    ] {
        let response = post_as(&app, "/token", ClientAuth::Basic(id, secret), &form).await;
        assert_no_store(&response);
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Basic"), "{challenge}");
        assert_oauth_error(
            &status_and_json(response).await,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        );
    }
    // A confidential client that does not authenticate at all.
    let mut form = form.clone();
    form.push(("client_id", client.id.as_str()));
    assert_oauth_error(
        &token_request_as(&app, ClientAuth::Form, &form).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    );
}

/// Found by fuzzing: a raw `&` in Basic credentials cut the secret short there, so
/// that the secret followed by anything at all authenticated the client.
#[tokio::test]
async fn a_secret_followed_by_an_ampersand_and_more_is_a_wrong_secret() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let issued = code_for(&app, &client).await;
    let v = verifier(&issued);
    let form = redeem_form(&issued, &client.redirect_uri, &v);
    let longer = format!("{}&anything", client.secret.as_deref().unwrap());
    assert_oauth_error(
        &token_request_as(&app, ClientAuth::Basic(&client.id, &longer), &form).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    );
    // The code is still good for the right secret.
    let (status, _) = token_request(&app, &client, &form).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_code_is_bound_to_its_client_and_redirect_uri() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let other = app.confidential_client();
    let issued = code_for(&app, &client).await;
    let v = verifier(&issued);
    let form = redeem_form(&issued, &client.redirect_uri, &v);
    let (_, body) = token_request(&app, &other, &form).await;
    assert_eq!(
        body["error"], "invalid_grant",
        "a code issued to another client"
    );

    let issued = code_for(&app, &client).await;
    let v = verifier(&issued);
    let form = redeem_form(&issued, "https://portal.example.gov.vn/elsewhere", &v);
    let (_, body) = token_request(&app, &client, &form).await;
    assert_eq!(body["error"], "invalid_grant", "a different redirect_uri");
}

#[tokio::test]
async fn malformed_token_requests_get_json_errors() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let secret = client.secret.clone().unwrap();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "invalid_request"),
        (
            vec![("grant_type", "password"), ("username", "x")],
            "unsupported_grant_type",
        ),
        (
            vec![("grant_type", "authorization_code")],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "garbage"),
                ("redirect_uri", "https://portal.example.gov.vn/callback"),
            ],
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("grant_type", "authorization_code"),
            ],
            "invalid_request",
        ),
    ];
    for (form, expected) in cases {
        let (status, body) = token_request(&app, &client, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(body["error"], expected, "{form:?}");
    }
    // Two authentication methods at once.
    let form = [
        ("grant_type", "authorization_code"),
        ("client_secret", secret.as_str()),
    ];
    let (_, body) = token_request(&app, &client, &form).await;
    assert_eq!(body["error"], "invalid_request");
    // Garbage Authorization header.
    let response = app
        .http
        .post(app.url("/token"))
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode("no-colon")),
        )
        .form(&[("grant_type", "authorization_code")])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Not a form, and an oversized body.
    let huge = "a".repeat(64 * 1024);
    let token = app.url("/token");
    for request in [
        app.http
            .post(&token)
            .json(&serde_json::json!({"grant_type": "x"})),
        app.http.post(&token).form(&[
            ("grant_type", "authorization_code"),
            ("code", huge.as_str()),
        ]),
    ] {
        assert_oauth_error(
            &status_and_json(request.fetch().await).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        );
    }
}

#[tokio::test]
async fn a_citizen_recorded_deceased_after_login_gets_no_tokens() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let issued = code_for(&app, &client).await;
    app.set_life_status(&issued.citizen, LifeStatus::Deceased);
    let err = issued
        .rp
        .exchange(&app.http, &issued.code, issued.start.verifier)
        .await
        .unwrap_err();
    assert_eq!(err, "invalid_grant");
}

#[tokio::test]
async fn a_client_may_have_its_own_access_token_lifetime() {
    let app = TestApp::spawn().await;
    let mut registration = crate::helpers::TestClient::portal();
    registration.access_token_ttl_secs = Some(60);
    let client = app.register_client(registration);
    let issued = code_for(&app, &client).await;
    let v = verifier(&issued);
    let form = redeem_form(&issued, &client.redirect_uri, &v);
    let (status, body) = token_request(&app, &client, &form).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["expires_in"], 60);
    let token = body["access_token"].as_str().unwrap();
    app.advance_clock(Duration::seconds(59));
    assert_eq!(app.userinfo(token).await.0, StatusCode::OK);
    app.advance_clock(Duration::seconds(2));
    assert_eq!(app.userinfo(token).await.0, StatusCode::UNAUTHORIZED);

    let mut too_long = crate::helpers::TestClient::portal();
    too_long.access_token_ttl_secs = Some(86_400);
    assert!(citizen_idp::registration::register(too_long).is_err());
}
