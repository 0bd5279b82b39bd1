//! Refresh tokens: rotation on every use, family revocation on replay, and the register
//! asked again at each refresh.

use citizen_idp::registry::lifecycle::{self, AccountAction, Actor};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    PASSWORD, TestApp, TestCitizen, TestClient, assert_oauth_error, assert_succeeded, introspect,
    query_param, token_request,
};

fn offline_portal(app: &TestApp) -> TestClient {
    let mut registration = TestClient::portal();
    registration.scopes = "openid profile offline_access".into();
    app.register_client(registration)
}

/// Logs in with `offline_access` and returns the token response as JSON.
async fn first_tokens(
    app: &TestApp,
    citizen: &TestCitizen,
    client: &TestClient,
    scopes: &[&str],
) -> Value {
    let rp = app.relying_party(client).await;
    let start = rp.authorize_url(scopes);
    let redirect = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    let code = query_param(&redirect, "code").unwrap();
    let verifier = start.verifier.secret().clone();
    let (status, body) = token_request(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn refresh(app: &TestApp, client: &TestClient, token: &str) -> (StatusCode, Value) {
    token_request(
        app,
        client,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

fn refresh_token_of(body: &Value) -> String {
    body["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

#[tokio::test]
async fn a_refresh_token_rotates_on_every_use() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = offline_portal(&app);
    let first = first_tokens(&app, &citizen, &client, &["profile", "offline_access"]).await;
    let r1 = refresh_token_of(&first);

    let (status, second) = refresh(&app, &client, &r1).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let r2 = refresh_token_of(&second);
    assert_ne!(r1, r2, "every use returns a new refresh token");
    assert!(second["id_token"].as_str().is_some());
    let access = second["access_token"].as_str().unwrap();
    assert_eq!(app.userinfo(access).await.0, StatusCode::OK);

    let (status, third) = refresh(&app, &client, &r2).await;
    assert_eq!(status, StatusCode::OK, "{third}");
}

#[tokio::test]
async fn replaying_a_used_refresh_token_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = offline_portal(&app);
    let first = first_tokens(&app, &citizen, &client, &["offline_access"]).await;
    let r1 = refresh_token_of(&first);
    let (_, second) = refresh(&app, &client, &r1).await;
    let r2 = refresh_token_of(&second);
    let access_tokens = [&first, &second].map(|t| t["access_token"].as_str().unwrap().to_owned());
    for token in &access_tokens {
        assert_eq!(app.userinfo(token).await.0, StatusCode::OK);
    }

    assert_oauth_error(
        &refresh(&app, &client, &r1).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    // The replay must revoke the newer token too.
    assert_oauth_error(
        &refresh(&app, &client, &r2).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    for token in &access_tokens {
        assert_eq!(
            app.userinfo(token).await.0,
            StatusCode::UNAUTHORIZED,
            "the family's access tokens are revoked with it"
        );
    }
}

#[tokio::test]
async fn a_refresh_asks_the_register_again() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = offline_portal(&app);
    let r1 = refresh_token_of(&first_tokens(&app, &citizen, &client, &["offline_access"]).await);
    let id = citizen.record.national_id.clone();
    #[allow(
        clippy::disallowed_methods,
        reason = "the time of an operator's action"
    )]
    let now = chrono::Utc::now().naive_utc();
    app.db
        .run_blocking(move |conn| {
            lifecycle::change_account(conn, &id, AccountAction::Suspend, Actor("test"), None, now)
                .map(|_| ())
        })
        .unwrap();
    assert_oauth_error(
        &refresh(&app, &client, &r1).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
}

#[tokio::test]
async fn no_refresh_token_without_offline_access() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = offline_portal(&app);
    let body = first_tokens(&app, &citizen, &client, &["profile"]).await;
    assert!(body.get("refresh_token").is_none(), "{body}");

    // A client not registered for offline_access cannot ask for it.
    let plain = app.confidential_client();
    let rp = app.relying_party(&plain).await;
    let (_, location, _) = app.browse(&rp.authorize_url(&["offline_access"]).url).await;
    assert_eq!(
        query_param(&location.unwrap(), "error").as_deref(),
        Some("invalid_scope")
    );
}

#[tokio::test]
async fn a_refresh_token_is_bound_to_its_client_and_scope() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = offline_portal(&app);
    let other = offline_portal(&app);
    let r1 = refresh_token_of(
        &first_tokens(&app, &citizen, &client, &["profile", "offline_access"]).await,
    );

    let (_, body) = refresh(&app, &other, &r1).await;
    assert_eq!(body["error"], "invalid_grant", "another client's token");
    let (_, body) = refresh(&app, &client, "garbage").await;
    assert_eq!(body["error"], "invalid_grant");
    let (_, body) = token_request(
        &app,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r1),
            ("scope", "openid address"),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_scope", "more than was granted");
    let (status, body) = token_request(
        &app,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r1),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "openid");
    // The rotated token keeps the original grant.
    let (status, body) = refresh(&app, &client, &refresh_token_of(&body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["scope"], "offline_access openid profile");
}

#[tokio::test]
async fn a_mobile_app_refreshes_without_a_secret() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.register_client(citizen_idp::registration::NewClient {
        id: None,
        name: "Ứng dụng".into(),
        kind: citizen_idp::domain::client::ClientKind::Public,
        redirect_uris: vec!["vn.gov.portal.app:/callback".into()],
        scopes: "openid offline_access".into(),
        id_token_alg: "ES256".into(),
        ..Default::default()
    });
    let r1 = refresh_token_of(&first_tokens(&app, &citizen, &client, &["offline_access"]).await);
    let (status, body) = refresh(&app, &client, &r1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The operator's `clients update --scope`, as run on the server.
async fn set_scopes(app: &TestApp, client: &TestClient, scopes: &str) {
    let mut args = vec!["clients", "update", client.id.as_str()];
    for scope in scopes.split(' ') {
        args.extend(["--scope", scope]);
    }
    let output = app.cli(&args, None).await;
    assert_succeeded(&output);
    // Past the few seconds for which a server may keep a client's registration.
    app.advance_clock(chrono::Duration::seconds(6));
}

fn national_portal(app: &TestApp) -> TestClient {
    let mut registration = TestClient::portal();
    registration.scopes = "openid profile national_id offline_access".into();
    app.register_client(registration)
}

#[tokio::test]
async fn a_scope_removed_from_the_client_is_cut_off_at_the_next_refresh_userinfo_and_introspection()
{
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = national_portal(&app);
    let first = first_tokens(&app, &citizen, &client, &["national_id", "offline_access"]).await;
    let access = first["access_token"].as_str().unwrap().to_owned();
    let (status, claims) = app.userinfo(&access).await;
    assert_eq!(status, StatusCode::OK);
    assert!(claims.get("national_id").is_some(), "{claims}");

    set_scopes(&app, &client, "openid profile offline_access").await;

    // The access token issued before: userinfo and introspection drop the scope.
    let (status, claims) = app.userinfo(&access).await;
    assert_eq!(status, StatusCode::OK);
    assert!(claims.get("national_id").is_none(), "{claims}");
    let answer = introspect(&app, &client, &access).await;
    assert_eq!(answer["active"], true);
    assert!(
        !answer["scope"].as_str().unwrap().contains("national_id"),
        "{answer}"
    );
    // The refresh: the new tokens, and the family from now on, carry no national_id.
    let (status, body) = refresh(&app, &client, &refresh_token_of(&first)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "offline_access openid", "{body}");
    let answer = introspect(&app, &client, &refresh_token_of(&body)).await;
    assert_eq!(answer["scope"], "offline_access openid", "{answer}");
    // Asking for it back explicitly is refused.
    assert_oauth_error(
        &token_request(
            &app,
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token_of(&body)),
                ("scope", "openid national_id offline_access"),
            ],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
    );
}

#[tokio::test]
async fn a_client_no_longer_registered_for_offline_access_loses_its_refresh_family() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = offline_portal(&app);
    let first = first_tokens(&app, &citizen, &client, &["offline_access"]).await;
    let access = first["access_token"].as_str().unwrap().to_owned();
    set_scopes(&app, &client, "openid profile").await;
    assert_oauth_error(
        &refresh(&app, &client, &refresh_token_of(&first)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    // Registering it again does not bring the family back, nor its access token.
    set_scopes(&app, &client, "openid profile offline_access").await;
    let (status, _) = refresh(&app, &client, &refresh_token_of(&first)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.userinfo(&access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rotation_never_extends_a_family_past_its_absolute_lifetime() {
    let app = TestApp::spawn_with(|s| s.tokens.refresh_family_max_secs = 1000).await;
    let citizen = app.citizen();
    let client = offline_portal(&app);
    let login_at = {
        use citizen_idp::clock::Clock;
        app.clock.now().timestamp()
    };
    let first = first_tokens(&app, &citizen, &client, &["offline_access"]).await;
    let mut token = refresh_token_of(&first);
    for _ in 0..3 {
        app.advance_clock(chrono::Duration::seconds(300));
        let (status, body) = refresh(&app, &client, &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        token = refresh_token_of(&body);
        let answer = introspect(&app, &client, &token).await;
        // Each new token ends with the family, not 30 days after its rotation.
        let exp = answer["exp"].as_i64().unwrap();
        assert!(
            (login_at + 999..=login_at + 1001).contains(&exp),
            "{answer}"
        );
    }
    app.advance_clock(chrono::Duration::seconds(150));
    assert_oauth_error(
        &refresh(&app, &client, &token).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
}
