//! Signing-key rotation, seen as a relying party sees it: the JWKS, the `kid` of new
//! tokens, and userinfo accepting or refusing older tokens. The CLI rotates with the
//! wall clock and the default settings (keys signing 600 s after a rotation, retired
//! keys published 3600 + 60 + 300 s); the servers reload every second and their fixed
//! clock is moved past those instants.

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use base64::Engine;
use chrono::Duration;
use citizen_idp::storage::signing_keys;
use openidconnect::OAuth2TokenResponse;
use openidconnect::TokenResponse;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    ADMIN_TOKEN, Fetch, TestApp, TestCitizen, TestClient, assert_succeeded, introspect, query_param,
};

/// One reload a second, and tokens that outlive the 600 s of pre-publication.
async fn spawn() -> TestApp {
    TestApp::spawn_with(|s| {
        s.keys.reload_interval_secs = 1;
        s.tokens.id_token_ttl_secs = 3600;
        s.tokens.access_token_ttl_secs = 3600;
    })
    .await
}

fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn jwks(app: &TestApp) -> (BTreeSet<String>, String, String) {
    let response = app.http.get(app.url("/jwks.json")).fetch().await;
    assert_eq!(response.status(), StatusCode::OK);
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let kids = body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    (kids, cache, etag)
}

/// Waits (a few reloads at most) until the JWKS satisfies `done`.
async fn jwks_until(app: &TestApp, done: impl Fn(&BTreeSet<String>) -> bool) -> BTreeSet<String> {
    for _ in 0..100 {
        let (kids, _, _) = jwks(app).await;
        if done(&kids) {
            return kids;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    panic!("the JWKS never reached the expected keys");
}

/// A full login at `client`: the ID token (verified by the relying party against the
/// JWKS) and the access token.
async fn tokens(app: &TestApp, citizen: &TestCitizen, client: &TestClient) -> (String, String) {
    let rp = app.relying_party(client).await;
    let start = rp.authorize_url(&["profile"]);
    let redirect = app
        .log_in(&start.url, &citizen.number, crate::helpers::PASSWORD)
        .await;
    let code = query_param(&redirect, "code").unwrap();
    let response = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    rp.verify(&response, &start.nonce);
    (
        response.id_token().unwrap().to_string(),
        response.access_token().secret().clone(),
    )
}

/// `keys rotate` through the CLI: the new kids.
async fn rotate(app: &TestApp, args: &[&str]) -> Vec<String> {
    let mut all = vec!["keys", "rotate"];
    all.extend_from_slice(args);
    let output = app.cli(&all, None).await;
    assert_succeeded(&output);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.starts_with("RS256\t") || l.starts_with("ES256\t"))
        .map(|l| l.split('\t').nth(1).unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_rotated_key_is_published_first_then_signs_while_older_tokens_still_verify() {
    let app = spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let (old_id_token, old_access_token) = tokens(&app, &citizen, &client).await;
    let (old_kids, cache, _) = jwks(&app).await;
    assert_eq!(old_kids.len(), 2);
    assert_eq!(cache, "public, max-age=1");

    let new_kids = rotate(&app, &[]).await;
    assert_eq!(new_kids.len(), 2);
    let both = jwks_until(&app, |kids| kids.len() == 4).await;
    assert!(new_kids.iter().all(|k| both.contains(k)));
    assert!(old_kids.iter().all(|k| both.contains(k)));

    // Published but not signing yet: relying parties learn the key before they meet it.
    let (id_token, access_token) = tokens(&app, &citizen, &client).await;
    assert!(old_kids.contains(&kid_of(&id_token)));
    assert!(old_kids.contains(&kid_of(&access_token)));

    app.advance_clock(Duration::seconds(700));
    let (id_token, access_token) = tokens(&app, &citizen, &client).await;
    assert!(
        new_kids.contains(&kid_of(&id_token)),
        "the ID token uses the new RS256 key"
    );
    assert!(
        new_kids.contains(&kid_of(&access_token)),
        "the access token uses the new ES256 key"
    );
    assert_eq!(app.userinfo(&access_token).await.0, StatusCode::OK);

    // Tokens signed before the rotation still verify.
    assert!(old_kids.contains(&kid_of(&old_id_token)));
    let (status, body) = app.userinfo(&old_access_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sub"], citizen.subject);
}

#[tokio::test]
async fn a_retired_key_leaves_the_jwks_once_its_tokens_expired_and_is_then_refused() {
    let app = spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let (_, old_access_token) = tokens(&app, &citizen, &client).await;
    let (old_kids, _, _) = jwks(&app).await;

    let new_kids = rotate(&app, &["--now"]).await;
    jwks_until(&app, |kids| kids.len() == 4).await;

    // Retired, still published: inside 3600 + 60 + 300 s of the rotation.
    app.advance_clock(Duration::seconds(3000));
    tokio::time::sleep(StdDuration::from_millis(1500)).await;
    let (kids, _, _) = jwks(&app).await;
    assert_eq!(kids.len(), 4);

    app.advance_clock(Duration::seconds(1100));
    let kids = jwks_until(&app, |kids| kids.len() == 2).await;
    assert_eq!(kids, new_kids.iter().cloned().collect());
    let (status, body) = app.userinfo(&old_access_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Refused for its key (verification comes before the expiry check).
    assert_eq!(body["error_description"], "the access token is invalid");

    // The private parts are wiped; the rows stay, for the record.
    let rows = app
        .db
        .run_blocking(|conn| signing_keys::list(conn, "token"))
        .unwrap();
    assert_eq!(rows.len(), 4);
    for row in rows {
        assert_eq!(
            row.sealed_key.is_none(),
            old_kids.contains(&row.kid),
            "{row:?}"
        );
    }
}

#[tokio::test]
async fn two_instances_on_one_database_agree_on_the_keys_after_a_rotation() {
    let first = spawn().await;
    let second = first.spawn_beside().await;
    assert_eq!(jwks(&first).await, jwks(&second).await);

    let new_kids = rotate(&first, &[]).await;
    let at_first = jwks_until(&first, |kids| kids.len() == 4).await;
    let at_second = jwks_until(&second, |kids| kids.len() == 4).await;
    assert_eq!(at_first, at_second);
    assert!(new_kids.iter().all(|k| at_first.contains(k)));
    let (_, _, first_etag) = jwks(&first).await;
    let (_, _, second_etag) = jwks(&second).await;
    assert_eq!(first_etag, second_etag);

    // An unchanged JWKS costs a relying party no body.
    let response = second
        .http
        .get(second.url("/jwks.json"))
        .header("if-none-match", &first_etag)
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);

    // Both switch at the same instant, whoever issues the token.
    first.advance_clock(Duration::seconds(700));
    let citizen = first.citizen();
    let client = first.confidential_client();
    let (id_token, _) = tokens(&second, &citizen, &client).await;
    assert!(new_kids.contains(&kid_of(&id_token)));
}

#[tokio::test]
async fn keys_list_shows_each_key_with_its_state_and_rotation_is_audited() {
    let app = spawn().await;
    rotate(&app, &[]).await;
    rotate(&app, &["--alg", "ES256", "--now"]).await;
    let output = app.cli(&["keys", "list"], None).await;
    assert_succeeded(&output);
    let listing = String::from_utf8_lossy(&output.stdout);
    let states = |alg: &str| {
        let mut states: Vec<&str> = listing
            .lines()
            .filter(|l| l.split('\t').nth(1) == Some(alg))
            .map(|l| l.split('\t').nth(2).unwrap())
            .collect();
        states.sort();
        states
    };
    assert_eq!(states("RS256"), ["active", "pending"], "{listing}");
    assert_eq!(
        states("ES256"),
        ["active", "retired", "retired"],
        "{listing}"
    );
    assert!(listing.starts_with("KID\tALG\tSTATE\tCREATED\tACTIVATED\tRETIRED\tPUBLISHED_UNTIL"));

    let rotations: Vec<String> = app
        .db
        .run_blocking(|conn| {
            use citizen_idp::storage::schema::audit_events::dsl::*;
            use diesel::prelude::*;
            audit_events
                .filter(outcome.eq("signing_key_rotated"))
                .select(detail.assume_not_null())
                .load::<String>(conn)
                .map_err(citizen_idp::storage::StorageError::from)
        })
        .unwrap();
    assert_eq!(rotations.len(), 3, "{rotations:?}");
    assert!(
        rotations
            .iter()
            .all(|d| d.starts_with("alg=") && d.contains(" kid="))
    );
}

#[tokio::test]
async fn a_second_unretired_key_of_one_algorithm_is_refused_by_the_database() {
    let app = spawn().await;
    let rows = app
        .db
        .run_blocking(|conn| signing_keys::list(conn, "token"))
        .unwrap();
    let mut twin = rows[0].clone();
    twin.kid = "another-kid".into();
    let inserted = app
        .db
        .run_blocking(move |conn| signing_keys::insert_if_absent(conn, &twin))
        .unwrap();
    assert!(
        !inserted,
        "two instances starting at once cannot both add a key"
    );
}

#[tokio::test]
async fn a_wrong_server_secret_stops_start_up_with_a_clear_message() {
    let app = spawn().await;
    let wrong = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
    let output = app
        .cli_with_env(
            &["keys", "rotate"],
            &[("CITIZEN_IDP__KEYS__SECRET", &wrong)],
        )
        .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot decrypt signing key "), "{stderr}");
    assert!(stderr.contains("wrong keys.secret?"), "{stderr}");
    assert_eq!(
        app.db
            .run_blocking(|conn| signing_keys::list(conn, "token"))
            .unwrap()
            .len(),
        2
    );

    let output = app
        .cli_with_env(
            &["serve", "--listen", "127.0.0.1:0"],
            &[
                ("CITIZEN_IDP__KEYS__SECRET", &wrong),
                ("CITIZEN_IDP__DEMO__ENABLED", "false"),
            ],
        )
        .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("citizen-idp: cannot decrypt signing key ")
            && stderr.contains("wrong keys.secret?"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // An instance with no secret at all does not make up a new one.
    let empty = tempfile::tempdir().unwrap();
    let output = app
        .cli_with_env(
            &["keys", "rotate"],
            &[("CITIZEN_IDP__KEYS__DIR", empty.path().to_str().unwrap())],
        )
        .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("there is no server secret"), "{stderr}");
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

async fn revoke_over_api(app: &TestApp, kid: &str, token: &str) -> (StatusCode, Value) {
    let response = app
        .http
        .post(app.url(&format!("/admin/keys/{kid}/revoke")))
        .bearer_auth(token)
        .fetch()
        .await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn revocations(app: &TestApp) -> Vec<String> {
    app.db
        .run_blocking(|conn| {
            use citizen_idp::storage::schema::audit_events::dsl::*;
            use diesel::prelude::*;
            audit_events
                .filter(outcome.eq("signing_key_revoked"))
                .select(detail.assume_not_null())
                .load::<String>(conn)
                .map_err(citizen_idp::storage::StorageError::from)
        })
        .unwrap()
}

#[tokio::test]
async fn a_withdrawn_key_leaves_the_jwks_at_once_and_its_tokens_stop_working_everywhere() {
    let app = TestApp::spawn_with_admin(|s| {
        s.keys.reload_interval_secs = 1;
    })
    .await;
    let replica = app.spawn_beside().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let (_, access_token) = tokens(&app, &citizen, &client).await;
    let compromised = kid_of(&access_token);
    assert_eq!(app.userinfo(&access_token).await.0, StatusCode::OK);

    // Nobody else may, and the only key that signs ES256 cannot go before a rotation.
    let (status, _) = revoke_over_api(&app, &compromised, "wrong-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = revoke_over_api(&app, &compromised, ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("rotate"),
        "{body}"
    );
    assert_eq!(app.userinfo(&access_token).await.0, StatusCode::OK);

    // The documented order: rotate at once, then withdraw.
    rotate(&app, &["--alg", "ES256", "--now"]).await;
    app.advance_clock(Duration::seconds(60));
    let (status, body) = revoke_over_api(&app, &compromised, ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // This instance answers the very next JWKS request without it...
    let (kids, _, _) = jwks(&app).await;
    assert!(!kids.contains(&compromised), "{kids:?}");
    // ...and the other drops it at its next reload.
    jwks_until(&replica, |kids| !kids.contains(&compromised)).await;
    for server in [&app, &replica] {
        assert_eq!(
            server.userinfo(&access_token).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            introspect(server, &client, &access_token).await["active"],
            false
        );
    }
    // Tokens keep being issued, with the new key.
    let (_, fresh) = tokens(&app, &citizen, &client).await;
    assert_ne!(kid_of(&fresh), compromised);
    assert_eq!(app.userinfo(&fresh).await.0, StatusCode::OK);

    let audited = revocations(&app);
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert!(audited[0].contains(&format!("kid={compromised}")) && audited[0].contains("by=api"));
    // Again, or a kid that is not ours: not found.
    for kid in [compromised.as_str(), "no-such-key", "bad%00kid"] {
        let (status, _) = revoke_over_api(&app, kid, ADMIN_TOKEN).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{kid}");
    }
}

#[tokio::test]
async fn keys_revoke_on_the_command_line_withdraws_a_key_and_names_the_operator() {
    let app = spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let (id_token, _) = tokens(&app, &citizen, &client).await;
    let compromised = kid_of(&id_token);
    let refused = app.cli(&["keys", "revoke", &compromised], None).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("keys rotate"), "{stderr}");

    rotate(&app, &["--alg", "RS256", "--now"]).await;
    let output = app
        .cli(
            &["keys", "revoke", &compromised, "--operator", "op-07"],
            None,
        )
        .await;
    assert_succeeded(&output);
    // The CLI's wall clock is ahead of the server's fixed one.
    app.advance_clock(Duration::seconds(60));
    jwks_until(&app, |kids| !kids.contains(&compromised)).await;
    let audited = revocations(&app);
    assert!(audited[0].contains("by=cli:op-07"), "{audited:?}");
    // A key the table no longer publishes cannot be withdrawn twice.
    let again = app.cli(&["keys", "revoke", &compromised], None).await;
    assert!(!again.status.success());
}
