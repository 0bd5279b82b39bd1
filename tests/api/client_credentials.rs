//! The client credentials grant (RFC 6749 §4.4) for back-office systems.

use citizen_idp::registration::NewClient;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    Fetch, TestApp, TestClient, assert_oauth_error, assert_succeeded, introspect, token_request,
};

fn back_office(app: &TestApp) -> TestClient {
    app.register_client(NewClient {
        name: "Hệ thống hộ tịch".into(),
        redirect_uris: Vec::new(),
        grant_types: vec!["client_credentials".into()],
        scopes: "population.read population.events".into(),
        ..NewClient::default()
    })
}

async fn token(app: &TestApp, client: &TestClient, scope: Option<&str>) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    token_request(app, client, &form).await
}

#[tokio::test]
async fn a_back_office_system_gets_an_access_token_for_its_registered_scopes() {
    let app = TestApp::spawn().await;
    let client = back_office(&app);

    let (status, body) = token(&app, &client, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "population.events population.read");
    assert!(body.get("id_token").is_none(), "no citizen, no ID token");
    assert!(body.get("refresh_token").is_none(), "RFC 6749 §4.4.3");
    let access_token = body["access_token"].as_str().unwrap();

    let description = introspect(&app, &client, access_token).await;
    assert_eq!(description["active"], true, "{description}");
    assert_eq!(description["sub"], client.id.as_str(), "RFC 9068 §2.2");
    assert_eq!(description["client_id"], client.id.as_str());
    assert!(description.get("auth_time").is_none());
    assert!(description.get("acr").is_none());

    let (status, body) = token(&app, &client, Some("population.read")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "population.read");

    // A token that speaks for no citizen opens no citizen's data.
    let (status, _) = app.userinfo(access_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn scopes_beyond_the_registration_or_citizen_scopes_are_refused() {
    let app = TestApp::spawn().await;
    let client = back_office(&app);
    for scope in [
        "population.write",
        "population.read population.write",
        "openid",
        "profile",
    ] {
        let (status, body) = token(&app, &client, Some(scope)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{scope}");
        assert_eq!(body["error"], "invalid_scope", "{scope}");
    }
}

#[tokio::test]
async fn only_clients_registered_for_the_grant_may_use_it() {
    let app = TestApp::spawn().await;
    let portal = app.confidential_client();
    let refused = token(&app, &portal, None).await;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "unauthorized_client");

    let mut wrong_secret = back_office(&app);
    wrong_secret.secret = Some("not-the-secret".into());
    let (status, body) = token(&app, &wrong_secret, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");

    // And a back-office client cannot start a citizen's login.
    let back_office = back_office(&app);
    let code_flow = app
        .http
        .post(app.url("/token"))
        .basic_auth(&back_office.id, back_office.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", "https://x.example/cb"),
        ])
        .fetch()
        .await;
    assert_eq!(code_flow.status(), StatusCode::BAD_REQUEST);
    let body: Value = code_flow.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");
}

#[tokio::test]
async fn an_operator_registers_a_back_office_client_from_the_command_line() {
    let app = TestApp::spawn().await;
    let output = app
        .cli(
            &[
                "clients",
                "create",
                "--confidential",
                "--name",
                "Cổng liên thông hộ tịch",
                "--grant-type",
                "client_credentials",
                "--scope",
                "civil-status.read",
            ],
            None,
        )
        .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_succeeded(&output);
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap()
            .to_owned()
    };
    let client = TestClient {
        id: field("client_id"),
        secret: Some(field("client_secret")),
        redirect_uri: String::new(),
        alg: "RS256".into(),
    };
    let (status, body) = token(&app, &client, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "civil-status.read");

    // A public client cannot hold client credentials.
    let refused = app
        .cli(
            &[
                "clients",
                "create",
                "--public",
                "--name",
                "App",
                "--grant-type",
                "client_credentials",
                "--scope",
                "x.read",
            ],
            None,
        )
        .await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("public client"));
}
