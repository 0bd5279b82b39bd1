//! The whole code flow, as relying parties run it.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Fetch, PASSWORD, TestApp, assert_redirected_error, query_param};

#[tokio::test]
async fn a_portal_logs_a_citizen_in_and_verifies_the_id_token_against_the_jwks() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&["profile", "address"]);

    let redirect = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    assert!(redirect.starts_with(&client.redirect_uri), "{redirect}");
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some(start.state.secret().as_str())
    );
    assert_eq!(
        query_param(&redirect, "iss").as_deref(),
        Some(app.issuer.as_str())
    );
    let code = query_param(&redirect, "code").unwrap();

    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &start.nonce);
    assert_eq!(claims.subject().as_str(), citizen.subject);
    assert_eq!(
        claims.auth_context_ref().unwrap().as_str(),
        "urn:citizen-idp:loa:1"
    );
    assert_eq!(claims.auth_method_refs().unwrap()[0].as_str(), "pwd");
    assert!(claims.auth_time().is_some());

    let access_token = openidconnect::OAuth2TokenResponse::access_token(&tokens)
        .secret()
        .clone();
    let userinfo: Value = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&access_token)
        .fetch_json()
        .await;
    assert_eq!(userinfo["sub"], citizen.subject);
    assert_eq!(userinfo["name"], citizen.record.full_name);
    assert_eq!(userinfo["family_name"], citizen.record.family_name);
    assert_eq!(
        userinfo["birthdate"],
        citizen.record.birth_date.format("%Y-%m-%d").to_string()
    );
    assert_eq!(
        userinfo["address"]["province"],
        citizen.record.address.province
    );
    assert!(
        userinfo.get("national_id").is_none(),
        "national_id needs its own scope"
    );
}

#[tokio::test]
async fn a_mobile_app_logs_in_with_pkce_on_a_loopback_port_and_es256() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let mut client = app.public_client();
    // RFC 8252 §7.3: the app listens on an ephemeral port of the registered loopback URI.
    client.redirect_uri = "http://127.0.0.1:49152/callback".into();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&["profile"]);

    let redirect = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    assert!(
        redirect.starts_with("http://127.0.0.1:49152/callback?"),
        "{redirect}"
    );
    let code = query_param(&redirect, "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &start.nonce);
    assert_eq!(claims.subject().as_str(), citizen.subject);
    let header = tokens.extra_fields().id_token().unwrap().to_string();
    assert!(header.starts_with("eyJ"), "compact JWS");
}

#[tokio::test]
async fn a_private_use_scheme_redirect_uri_receives_the_code() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let mut client = app.public_client();
    client.redirect_uri = "vn.gov.portal.app:/callback".into();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let redirect = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    assert!(
        redirect.starts_with("vn.gov.portal.app:/callback?code="),
        "{redirect}"
    );
}

#[tokio::test]
async fn a_citizen_with_a_live_session_is_not_asked_for_the_password_again() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let first = app.confidential_client();
    let second = app.public_client();
    let rp1 = app.relying_party(&first).await;
    app.log_in(&rp1.authorize_url(&[]).url, &citizen.number, PASSWORD)
        .await;

    let rp2 = app.relying_party(&second).await;
    let start = rp2.authorize_url(&["profile"]);
    let (status, location, _) = app.browse(&start.url).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    assert!(
        location.starts_with(&second.redirect_uri),
        "SSO should answer at once: {location}"
    );
    let tokens = rp2
        .exchange(
            &app.http,
            &query_param(&location, "code").unwrap(),
            start.verifier,
        )
        .await
        .unwrap();
    assert_eq!(
        rp2.verify(&tokens, &start.nonce).subject().as_str(),
        citizen.subject
    );
}

#[tokio::test]
async fn prompt_login_and_max_age_force_a_fresh_login_despite_a_session() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    app.log_in(&rp.authorize_url(&[]).url, &citizen.number, PASSWORD)
        .await;

    let url = format!("{}&prompt=login", rp.authorize_url(&[]).url);
    let (_, location, _) = app.browse(&url).await;
    assert!(
        location.unwrap().starts_with("/login?"),
        "prompt=login must show the login page"
    );

    app.advance_clock(Duration::seconds(120));
    let url = format!("{}&max_age=60", rp.authorize_url(&[]).url);
    let (_, location, _) = app.browse(&url).await;
    assert!(
        location.unwrap().starts_with("/login?"),
        "an old login must not satisfy max_age=60"
    );
    let url = format!("{}&max_age=3600", rp.authorize_url(&[]).url);
    let (_, location, _) = app.browse(&url).await;
    assert!(location.unwrap().starts_with(&client.redirect_uri));
}

#[tokio::test]
async fn prompt_none_without_a_session_returns_login_required_to_the_client() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let (status, location, _) = app.browse(&format!("{}&prompt=none", start.url)).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    assert!(location.starts_with(&client.redirect_uri));
    assert_redirected_error(&location, "login_required", start.state.secret());
}

#[tokio::test]
async fn the_national_id_scope_is_only_for_clients_registered_for_it() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let plain = app.confidential_client();
    let rp = app.relying_party(&plain).await;
    let (_, location, _) = app.browse(&rp.authorize_url(&["national_id"]).url).await;
    assert_eq!(
        query_param(&location.unwrap(), "error").as_deref(),
        Some("invalid_scope")
    );

    let mut registration = crate::helpers::TestClient::portal();
    registration.scopes = "openid profile national_id".into();
    let tax = app.register_client(registration);
    let token = app.access_token(&citizen, &tax, &["national_id"]).await;
    let (_, userinfo) = app.userinfo(&token).await;
    assert_eq!(userinfo["national_id"], citizen.number);
    assert_eq!(userinfo["id_card"]["number"], citizen.record.id_card_number);
}

#[tokio::test]
async fn the_demo_relying_party_completes_a_real_login() {
    let app = TestApp::spawn_with(|s| {
        s.demo.enabled = true;
        // On PostgreSQL too, when the suite runs there.
        s.demo.allow_in_production = true;
        s.demo.population = 20;
        s.server.workers = 2;
    })
    .await;
    let (status, location, _) = app.browse(&app.url("/demo/login?lang=en")).await;
    assert_eq!(status, StatusCode::FOUND);
    let authorize = location.unwrap();
    assert!(
        authorize.starts_with(&app.url("/authorize?")),
        "{authorize}"
    );
    let callback = app
        .log_in(&authorize, "001090000001", "demo-password-2026")
        .await;
    assert!(
        callback.starts_with(&app.url("/demo/callback?")),
        "{callback}"
    );
    let (status, _, html) = app.browse(&callback).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("Nguyễn Văn An"),
        "the verified claims should show: {html}"
    );
    assert!(html.contains("urn:citizen-idp:loa:1"));
}
