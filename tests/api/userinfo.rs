//! Userinfo: Bearer tokens checked, claims read from the register at call time.

use chrono::Duration;
use citizen_idp::domain::citizen::LifeStatus;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Fetch, TestApp, TestCitizen};

async fn access_token_for(app: &TestApp) -> (String, TestCitizen) {
    let citizen = app.citizen();
    let client = app.confidential_client();
    (
        app.access_token(&citizen, &client, &["profile"]).await,
        citizen,
    )
}

async fn challenge_for(app: &TestApp, request: reqwest::RequestBuilder) -> (StatusCode, String) {
    let _ = app;
    let response = request.fetch().await;
    let status = response.status();
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, challenge)
}

#[tokio::test]
async fn userinfo_answers_get_and_post_with_a_valid_token() {
    let app = TestApp::spawn().await;
    let (token, citizen) = access_token_for(&app).await;
    let by_post: Value = app
        .http
        .post(app.url("/userinfo"))
        .form(&[("access_token", token.as_str())])
        .fetch_json()
        .await;
    assert_eq!(by_post["sub"], citizen.subject);
    assert_eq!(by_post["given_name"], citizen.record.given_name);
    assert!(by_post.get("address").is_none(), "address was not granted");
}

#[tokio::test]
async fn garbage_missing_or_expired_tokens_get_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let (token, _) = access_token_for(&app).await;

    let (status, challenge) = challenge_for(&app, app.http.get(app.url("/userinfo"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge, "Bearer realm=\"citizen-idp\"");

    for garbage in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        let (status, challenge) = challenge_for(
            &app,
            app.http.get(app.url("/userinfo")).bearer_auth(garbage),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{garbage}");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
    // The genuine token works, and the instance now remembers it as verified: a
    // tampered copy is still checked in full below, and the remembered one still expires.
    assert_eq!(app.userinfo(&token).await.0, StatusCode::OK);
    // A token whose signature does not match its content.
    let payload_at = token.find('.').unwrap() + 10;
    let flipped = if &token[payload_at..=payload_at] == "A" {
        "B"
    } else {
        "A"
    };
    let mut tampered = token.clone();
    tampered.replace_range(payload_at..=payload_at, flipped);
    let (status, _) = challenge_for(
        &app,
        app.http.get(app.url("/userinfo")).bearer_auth(&tampered),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _) = challenge_for(
        &app,
        app.http
            .get(app.url("/userinfo"))
            .header("authorization", format!("Basic {token}")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    app.advance_clock(Duration::seconds(301));
    let (status, challenge) =
        challenge_for(&app, app.http.get(app.url("/userinfo")).bearer_auth(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("invalid_token"));
}

#[tokio::test]
async fn a_death_recorded_in_the_register_stops_userinfo_at_once() {
    let app = TestApp::spawn().await;
    let (token, citizen) = access_token_for(&app).await;
    let ok = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&token)
        .fetch()
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    app.set_life_status(&citizen, LifeStatus::Deceased);
    let refused = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&token)
        .fetch()
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}
