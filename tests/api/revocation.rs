//! Revocation (RFC 7009) and introspection (RFC 7662), and the revocation list that
//! survives the store losing its data.

use chrono::Duration;
use reqwest::StatusCode;

use crate::helpers::{
    TestApp, TestClient, assert_oauth_error, client_post, introspect, revoke, token_request,
};

#[tokio::test]
async fn introspection_describes_a_live_token_to_its_client_only() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let other = app.confidential_client();
    let token = app.access_token(&citizen, &client, &["profile"]).await;

    let body = introspect(&app, &client, &token).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], citizen.subject);
    assert_eq!(body["client_id"], client.id);
    assert_eq!(body["scope"], "openid profile");
    assert_eq!(
        introspect(&app, &other, &token).await,
        serde_json::json!({"active": false})
    );
    for garbage in ["garbage", "a.b.c", ""] {
        let answer = client_post(&app, "/introspect", &client, &[("token", garbage)]).await;
        if garbage.is_empty() {
            assert_oauth_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
        } else {
            assert_eq!(answer.1, serde_json::json!({"active": false}));
        }
    }
    app.advance_clock(Duration::seconds(301));
    assert_eq!(
        introspect(&app, &client, &token).await["active"],
        false,
        "expired"
    );
}

#[tokio::test]
async fn introspection_needs_an_authenticated_confidential_client() {
    let app = TestApp::spawn().await;
    let public = app.public_client();
    assert_oauth_error(
        &client_post(&app, "/introspect", &public, &[("token", "x")]).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    );
    let mut impostor = app.confidential_client();
    impostor.secret = Some("wrong".into());
    let (status, _) = client_post(&app, "/introspect", &impostor, &[("token", "x")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_revoked_access_token_stops_working_everywhere() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let other = app.confidential_client();
    let token = app.access_token(&citizen, &client, &["profile"]).await;

    // Another client cannot revoke it (and is not told so).
    revoke(&app, &other, &token).await;
    assert_eq!(app.userinfo(&token).await.0, StatusCode::OK);

    revoke(&app, &client, &token).await;
    assert_eq!(app.userinfo(&token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(introspect(&app, &client, &token).await["active"], false);
    // Unknown tokens are "revoked" too, without an error.
    revoke(&app, &client, "not-a-token").await;
}

#[tokio::test]
async fn a_revoked_refresh_token_revokes_its_family() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let mut registration = TestClient::portal();
    registration.scopes = "openid offline_access".into();
    let client = app.register_client(registration);
    let tokens = app.tokens(&citizen, &client, &["offline_access"]).await;
    let refresh = openidconnect::OAuth2TokenResponse::refresh_token(&tokens)
        .unwrap()
        .secret()
        .clone();

    let body = introspect(&app, &client, &refresh).await;
    assert_eq!(
        (body["active"].as_bool(), body["token_type"].as_str()),
        (Some(true), Some("refresh_token"))
    );
    let access_token = openidconnect::OAuth2TokenResponse::access_token(&tokens)
        .secret()
        .clone();
    assert_eq!(
        introspect(&app, &client, &access_token).await["active"],
        true
    );
    revoke(&app, &client, &refresh).await;
    assert_eq!(introspect(&app, &client, &refresh).await["active"], false);
    assert_eq!(
        introspect(&app, &client, &access_token).await["active"],
        false,
        "RFC 7009 §2.1: the access token of the same grant goes with it"
    );
    assert_oauth_error(
        &token_request(
            &app,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
}

/// Redis restarted without persistence: the revocation list comes back from the
/// database before anyone relies on it.
#[tokio::test]
async fn a_revoked_token_stays_revoked_when_redis_loses_its_data() {
    let app = TestApp::spawn().await;
    // Only Redis can lose its data under a running server (the in-process store goes
    // with the process). CI runs this suite a second time on Redis, where it applies.
    let Some(prefix) = app.redis_prefix.clone() else {
        return;
    };
    let citizen = app.citizen();
    let client = app.confidential_client();
    let token = app.access_token(&citizen, &client, &["profile"]).await;
    revoke(&app, &client, &token).await;
    assert_eq!(app.userinfo(&token).await.0, StatusCode::UNAUTHORIZED);

    // Lose every key of this app, as a restart of a Redis without persistence would.
    let redis = redis::Client::open(std::env::var("TEST_REDIS_URL").unwrap()).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut conn)
        .await
        .unwrap();

    assert_eq!(
        app.userinfo(&token).await.0,
        StatusCode::UNAUTHORIZED,
        "revoked before, revoked after"
    );
    assert_eq!(introspect(&app, &client, &token).await["active"], false);
}
