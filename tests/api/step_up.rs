//! Assurance levels over HTTP: the officer's level change (admin API and CLI, audited),
//! `acr`/`amr` in the ID token from the real token endpoint, `acr_values` and an
//! essential `acr` claim (step-up, or unmet_authentication_requirements), `prompt=none`
//! with a step-up pending, and discovery.

use chrono::Duration;

use citizen_idp::clock::Clock;
use citizen_idp::registration::NewClient;
use citizen_idp::storage::audit_events;
use openidconnect::OAuth2TokenResponse;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{
    Fetch, TestApp, TestCitizen, TestClient, assert_redirected_error, assert_succeeded,
    location_of, query_param,
};
use crate::logout::payload;
use crate::second_factor::{code_now, enrol_totp, password_step, submit_code};

const LOA1: &str = "urn:citizen-idp:loa:1";
const LOA2: &str = "urn:citizen-idp:loa:2";

async fn app_with_admin() -> TestApp {
    TestApp::spawn_with_admin(|_| {}).await
}

/// An officer's change of the account's level: the status and the answer.
async fn set_level(
    app: &TestApp,
    number: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let path = format!("/admin/accounts/{number}/level");
    app.admin(Method::POST, &path, Some(&body)).await
}

async fn raise(app: &TestApp, citizen: &TestCitizen) {
    let body =
        json!({ "level": 2, "officer": "cb-042", "reason": "ID card checked at the ward office" });
    let (status, answer) = set_level(app, &citizen.number, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

fn audit_of(app: &TestApp, citizen: &TestCitizen) -> Vec<audit_events::AuditEvent> {
    let number = citizen.number.clone();
    app.db
        .run_blocking(move |conn| audit_events::for_citizen(conn, &number))
        .unwrap()
}

fn amr_of(claims: &openidconnect::core::CoreIdTokenClaims) -> Vec<String> {
    claims
        .auth_method_refs()
        .map(|m| m.iter().map(|m| m.to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn discovery_advertises_both_acr_values_and_the_claims_parameter() {
    let app = TestApp::spawn().await;
    let document = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(document["acr_values_supported"], json!([LOA1, LOA2]));
    assert_eq!(document["claims_parameter_supported"], json!(true));
    let claims = document["claims_supported"].as_array().unwrap();
    assert!(claims.contains(&json!("acr")) && claims.contains(&json!("amr")));
}

#[tokio::test]
async fn the_admin_api_raises_and_lowers_the_level_and_each_change_is_audited() {
    let app = app_with_admin().await;
    let citizen = app.citizen();
    let (status, body) = set_level(
        &app,
        &citizen.number,
        json!({ "level": 2, "officer": "cb-042", "reason": "ID card checked" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({ "level": 2, "acr": LOA2, "previous_level": 1 })
    );
    let (status, _) = set_level(
        &app,
        &citizen.number,
        json!({ "level": 1, "officer": "cb-042", "reason": "card reported stolen" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let changes: Vec<_> = audit_of(&app, &citizen)
        .into_iter()
        .filter(|e| e.kind == "admin" && e.outcome == "assurance_level_changed")
        .collect();
    assert_eq!(changes.len(), 2);
    let detail = changes[0].detail.as_deref().unwrap();
    assert!(detail.contains("level=1->2") && detail.contains("officer=cb-042"));
    assert!(detail.contains("by=api") && detail.contains("ID card checked"));
    assert!(changes[1].detail.as_deref().unwrap().contains("level=2->1"));
}

#[tokio::test]
async fn the_admin_api_refuses_bad_level_changes() {
    let app = app_with_admin().await;
    let citizen = app.citizen();
    let good = json!({ "level": 2, "officer": "cb-042", "reason": "checked" });
    for (number, body, status) in [
        (
            citizen.number.as_str(),
            json!({ "level": 3, "officer": "cb-042", "reason": "x" }),
            400,
        ),
        (
            citizen.number.as_str(),
            json!({ "level": 2, "officer": "", "reason": "x" }),
            400,
        ),
        (
            citizen.number.as_str(),
            json!({ "level": 2, "officer": "cb-042" }),
            400,
        ),
        (
            citizen.number.as_str(),
            json!({ "level": 2, "officer": "a", "reason": "x".repeat(501) }),
            400,
        ),
        (
            citizen.number.as_str(),
            json!({ "level": 2, "officer": "a", "reason": "x", "extra": 1 }),
            400,
        ),
        // A NUL (refused by PostgreSQL in text) or a line break (a forged audit line).
        (
            citizen.number.as_str(),
            json!({ "level": 2, "officer": "a", "reason": "x\u{0}y" }),
            400,
        ),
        (
            citizen.number.as_str(),
            json!({ "level": 2, "officer": "a\nb", "reason": "x" }),
            400,
        ),
        ("12345", good.clone(), 400),
        // A well-formed number with no account.
        ("001099999999", good.clone(), 404),
    ] {
        let (answered, error) = set_level(&app, number, body.clone()).await;
        assert_eq!(answered.as_u16(), status, "{number} {body}");
        assert!(error["error"].is_string());
    }
    let response = app
        .http
        .post(app.url(&format!("/admin/accounts/{}/level", citizen.number)))
        .bearer_auth("wrong-token-wrong-token-wrong-token!")
        .json(&good)
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        audit_of(&app, &citizen)
            .iter()
            .all(|e| e.outcome != "assurance_level_changed")
    );
}

#[tokio::test]
async fn the_cli_sets_the_level_with_the_officer_and_reason_in_the_audit() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let output = app
        .cli(
            &[
                "accounts",
                "set-level",
                &citizen.number,
                "2",
                "--officer",
                "cb-007",
                "--reason",
                "verified in person",
            ],
            None,
        )
        .await;
    assert_succeeded(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("1 -> 2") && stdout.contains(LOA2),
        "{stdout}"
    );
    assert!(!stdout.contains(&citizen.number), "the number is masked");
    let event = audit_of(&app, &citizen)
        .into_iter()
        .find(|e| e.outcome == "assurance_level_changed")
        .unwrap();
    let detail = event.detail.unwrap();
    assert!(detail.contains("by=cli") && detail.contains("officer=cb-007"));

    let output = app
        .cli(
            &[
                "accounts",
                "set-level",
                &citizen.number,
                "5",
                "--officer",
                "x",
                "--reason",
                "y",
            ],
            None,
        )
        .await;
    assert!(!output.status.success());
}

#[tokio::test]
async fn a_level_2_account_gets_loa_2_and_pwd_otp_mfa_in_the_id_token() {
    let app = app_with_admin().await;
    let citizen = app.citizen();
    raise(&app, &citizen).await;
    let enrolled = enrol_totp(&app, &citizen).await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let login_at = app.clock.now().timestamp();
    let next = password_step(&app, &start.url, &citizen).await;
    let response = submit_code(&app, &next, "totp", &code_now(&app, &enrolled.secret)).await;
    let code = query_param(&location_of(&response), "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &start.nonce);
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), LOA2);
    assert_eq!(amr_of(&claims), ["pwd", "otp", "mfa"]);
    assert_eq!(claims.auth_time().unwrap().timestamp(), login_at);
}

#[tokio::test]
async fn lowering_the_level_lowers_what_live_sessions_and_refresh_tokens_vouch_for() {
    let app = app_with_admin().await;
    let citizen = app.citizen();
    raise(&app, &citizen).await;
    let enrolled = enrol_totp(&app, &citizen).await;
    let client = app.register_client(NewClient {
        scopes: "openid profile offline_access".into(),
        ..TestClient::portal()
    });
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&["offline_access"]);
    let next = password_step(&app, &start.url, &citizen).await;
    let response = submit_code(&app, &next, "totp", &code_now(&app, &enrolled.secret)).await;
    let code = query_param(&location_of(&response), "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    assert_eq!(
        rp.verify(&tokens, &start.nonce)
            .auth_context_ref()
            .unwrap()
            .as_str(),
        LOA2
    );
    let refresh_token = tokens.refresh_token().unwrap().secret().clone();

    // The citizen reports the ID card stolen; an officer lowers the account.
    let body = json!({ "level": 1, "officer": "cb-042", "reason": "ID card reported stolen" });
    assert_eq!(
        set_level(&app, &citizen.number, body).await.0,
        StatusCode::OK
    );
    // Its sessions end (see tests/api/backchannel_outbox.rs): the next login, with the
    // factor again, reaches level 1 only.
    let mut ended = false;
    for _ in 0..100 {
        let silent = format!("{}&prompt=none", rp.authorize_url(&[]).url);
        let (_, location, _) = app.browse(&silent).await;
        if query_param(&location.unwrap(), "error").as_deref() == Some("login_required") {
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ended, "lowering the level ends the session");
    app.advance_clock(Duration::seconds(30));
    let again = rp.authorize_url(&[]);
    let next = password_step(&app, &again.url, &citizen).await;
    let response = submit_code(&app, &next, "totp", &code_now(&app, &enrolled.secret)).await;
    let code = query_param(&location_of(&response), "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, again.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &again.nonce);
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), LOA1);
    // The refresh token of the level-2 login vouches for no more than the account now.
    let refreshed: serde_json::Value = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
        ])
        .fetch_json()
        .await;
    for token in ["id_token", "access_token"] {
        let jws = refreshed[token].as_str().expect(token);
        assert_eq!(payload(jws)["acr"], LOA1, "{token}");
    }
    // And a client that needs level 2 is told it cannot have it.
    let demanding = rp.authorize_url(&[]);
    let (_, location, _) = app
        .browse(&format!("{}&acr_values={LOA2}", demanding.url))
        .await;
    assert_eq!(
        query_param(&location.unwrap(), "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
}

#[tokio::test]
async fn a_level_2_account_without_a_factor_logs_in_at_level_1() {
    let app = app_with_admin().await;
    let citizen = app.citizen();
    raise(&app, &citizen).await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let redirect = password_step(&app, &start.url, &citizen).await;
    let code = query_param(&redirect, "code").expect("no second step without a factor");
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &start.nonce);
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), LOA1);
    assert_eq!(amr_of(&claims), ["pwd"]);
}

#[tokio::test]
async fn acr_values_loa_2_for_a_level_1_account_is_unmet_authentication_requirements() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    enrol_totp(&app, &citizen).await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let url = format!("{}&acr_values={}", start.url, LOA2);
    // The live account-page session does not meet it either: step-up cannot help.
    let (status, location, _) = app.browse(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    assert!(location.starts_with(&client.redirect_uri), "{location}");
    assert_redirected_error(
        &location,
        "unmet_authentication_requirements",
        start.state.secret(),
    );
}

#[tokio::test]
async fn a_fresh_login_that_cannot_reach_the_level_ends_with_unmet_at_the_client() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let url = format!("{}&acr_values={}", rp.authorize_url(&[]).url, LOA2);
    let redirect = password_step(&app, &url, &citizen).await;
    assert!(redirect.starts_with(&client.redirect_uri));
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
}

#[tokio::test]
async fn an_essential_acr_claim_is_mandatory_and_a_malformed_claims_parameter_is_refused() {
    let app = app_with_admin().await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let with_claims = |claims: &str| {
        let encoded: String = url::form_urlencoded::byte_serialize(claims.as_bytes()).collect();
        format!("{}&claims={encoded}", rp.authorize_url(&[]).url)
    };
    for (claims, error) in [
        ("{not json", "invalid_request"),
        ("[1,2]", "invalid_request"),
        (
            r#"{"id_token":{"acr":{"essential":true,"values":[7]}}}"#,
            "invalid_request",
        ),
        (
            r#"{"id_token":{"acr":{"essential":true,"value":"urn:elsewhere:gold"}}}"#,
            "unmet_authentication_requirements",
        ),
    ] {
        let (status, location, _) = app.browse(&with_claims(claims)).await;
        assert_eq!(status, StatusCode::FOUND, "{claims}");
        assert_eq!(
            query_param(&location.unwrap(), "error").as_deref(),
            Some(error),
            "{claims}"
        );
    }
    let too_long = format!(r#"{{"id_token":{{"x":"{}"}}}}"#, "a".repeat(3000));
    let (_, location, _) = app.browse(&with_claims(&too_long)).await;
    assert_eq!(
        query_param(&location.unwrap(), "error").as_deref(),
        Some("invalid_request")
    );

    // A level-2 account asked for loa:2 as an essential claim presents its factor.
    let citizen = app.citizen();
    raise(&app, &citizen).await;
    let enrolled = enrol_totp(&app, &citizen).await;
    let essential = format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":["{LOA2}"]}}}}}}"#);
    let start_url = with_claims(&essential);
    let next = password_step(&app, &format!("{start_url}&prompt=login"), &citizen).await;
    assert!(next.starts_with("/login/second-factor"), "{next}");
    let response = submit_code(&app, &next, "totp", &code_now(&app, &enrolled.secret)).await;
    let redirect = location_of(&response);
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
}

/// A level-2 citizen logged in before enrolling a factor (a loa:1 session); a client
/// then asks for loa:2.
async fn loa_1_session_of_a_level_2_account(app: &TestApp) -> (TestCitizen, Vec<u8>) {
    let citizen = app.citizen();
    raise(app, &citizen).await;
    // The account-page login is the password only (no factor yet): loa:1.
    let enrolled = enrol_totp(app, &citizen).await;
    (citizen, enrolled.secret)
}

#[tokio::test]
async fn a_loa_1_session_of_a_level_2_account_steps_up_with_the_second_factor() {
    let app = app_with_admin().await;
    let (_citizen, secret) = loa_1_session_of_a_level_2_account(&app).await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let (status, location, _) = app
        .browse(&format!("{}&acr_values={LOA2}", start.url))
        .await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    // No password again: straight to the second factor.
    assert!(
        location.starts_with("/login/second-factor?flow="),
        "{location}"
    );
    let response = submit_code(&app, &location, "totp", &code_now(&app, &secret)).await;
    let code = query_param(&location_of(&response), "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &start.nonce);
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), LOA2);
    assert_eq!(amr_of(&claims), ["pwd", "otp", "mfa"]);

    // The stepped-up session now answers loa:2 requests at once (SSO).
    let again = rp.authorize_url(&[]);
    let (_, location, _) = app
        .browse(&format!("{}&acr_values={LOA2}", again.url))
        .await;
    assert!(query_param(&location.unwrap(), "code").is_some());
}

#[tokio::test]
async fn prompt_none_with_a_step_up_pending_is_login_required() {
    let app = app_with_admin().await;
    loa_1_session_of_a_level_2_account(&app).await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let url = format!(
        "{}&acr_values={LOA2}&prompt=none",
        rp.authorize_url(&[]).url
    );
    let (status, location, _) = app.browse(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    assert!(location.starts_with(&client.redirect_uri));
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn max_age_forces_a_fresh_login_with_the_second_factor_and_a_new_auth_time() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let first = password_step(
        &app,
        &format!("{}&prompt=login", rp.authorize_url(&[]).url),
        &citizen,
    )
    .await;
    let response = submit_code(&app, &first, "totp", &code_now(&app, &enrolled.secret)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    app.advance_clock(Duration::seconds(600));
    let start = rp.authorize_url(&[]);
    let fresh_at = app.clock.now().timestamp();
    let next = password_step(&app, &format!("{}&max_age=60", start.url), &citizen).await;
    assert!(next.starts_with("/login/second-factor"), "{next}");
    let response = submit_code(&app, &next, "totp", &code_now(&app, &enrolled.secret)).await;
    let code = query_param(&location_of(&response), "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &start.nonce);
    assert_eq!(claims.auth_time().unwrap().timestamp(), fresh_at);
    assert_eq!(amr_of(&claims), ["pwd", "otp", "mfa"]);
}
