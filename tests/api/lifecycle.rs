//! Life events and account decisions reach identity at once; every step is audited.

use std::time::Duration;

use chrono::Utc;
use citizen_idp::domain::citizen::LifeStatus;
use citizen_idp::registry::lifecycle::{self, AccountAction, Actor};
use citizen_idp::storage::StorageError;
use citizen_idp::storage::audit_events::{self, AuditEvent};
use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp, TestCitizen, TestClient, query_param};

struct SignedIn {
    citizen: TestCitizen,
    client: TestClient,
    access_token: String,
}

async fn sign_in(app: &TestApp) -> SignedIn {
    let citizen = app.citizen();
    let client = app.confidential_client();
    let access_token = app.access_token(&citizen, &client, &["profile"]).await;
    SignedIn {
        citizen,
        client,
        access_token,
    }
}

async fn userinfo_status(app: &TestApp, token: &str) -> StatusCode {
    app.userinfo(token).await.0
}

/// Whether the browser's session still answers an authorization request (SSO).
async fn session_is_live(app: &TestApp, client: &TestClient) -> bool {
    let rp = app.relying_party(client).await;
    let (_, location, _) = app.browse(&rp.authorize_url(&[]).url).await;
    location.unwrap().starts_with(&client.redirect_uri)
}

fn now() -> chrono::NaiveDateTime {
    #[allow(
        clippy::disallowed_methods,
        reason = "the time of an operator's action"
    )]
    Utc::now().naive_utc()
}

fn act(app: &TestApp, citizen: &TestCitizen, action: AccountAction) {
    let id = citizen.record.national_id.clone();
    app.db
        .run_blocking(move |conn| {
            lifecycle::change_account(conn, &id, action, Actor("test"), None, now()).map(|_| ())
        })
        .unwrap();
}

#[tokio::test]
async fn a_suspended_account_loses_its_session_and_tokens_at_once() {
    let app = TestApp::spawn().await;
    let signed_in = sign_in(&app).await;
    assert_eq!(
        userinfo_status(&app, &signed_in.access_token).await,
        StatusCode::OK
    );
    assert!(session_is_live(&app, &signed_in.client).await);

    act(&app, &signed_in.citizen, AccountAction::Suspend);
    assert_eq!(
        userinfo_status(&app, &signed_in.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        !session_is_live(&app, &signed_in.client).await,
        "the session must end"
    );

    act(&app, &signed_in.citizen, AccountAction::Reinstate);
    // The ended session stays ended; the citizen logs in again.
    assert!(!session_is_live(&app, &signed_in.client).await);
    let again = app.relying_party(&signed_in.client).await;
    let redirect = app
        .log_in(
            &again.authorize_url(&[]).url,
            &signed_in.citizen.number,
            PASSWORD,
        )
        .await;
    assert!(query_param(&redirect, "code").is_some());
}

#[tokio::test]
async fn a_death_recorded_in_the_register_ends_the_session() {
    let app = TestApp::spawn().await;
    let signed_in = sign_in(&app).await;
    assert!(session_is_live(&app, &signed_in.client).await);
    let id = signed_in.citizen.record.national_id.clone();
    app.db
        .run_blocking(move |conn| {
            lifecycle::set_life_status(conn, &id, LifeStatus::Deceased, Actor("test"), now())
        })
        .unwrap();
    assert!(!session_is_live(&app, &signed_in.client).await);
    assert_eq!(
        userinfo_status(&app, &signed_in.access_token).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn account_actions_follow_their_state_rules() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let id = citizen.record.national_id.clone();
    let attempt = |action: AccountAction| {
        let id = id.clone();
        app.db.run_blocking(move |conn| {
            Ok::<_, StorageError>(
                lifecycle::change_account(conn, &id, action, Actor("test"), None, now()).is_ok(),
            )
        })
    };
    assert!(
        !attempt(AccountAction::Unlock).unwrap(),
        "an active account is not locked"
    );
    assert!(attempt(AccountAction::Lock).unwrap());
    assert!(
        !attempt(AccountAction::Reinstate).unwrap(),
        "a locked account is not suspended"
    );
    assert!(attempt(AccountAction::Unlock).unwrap());
}

/// The audit rows of a citizen, once at least `expected` have been written (the audit
/// writer batches off the request path).
async fn audit_rows(app: &TestApp, citizen: &TestCitizen, expected: usize) -> Vec<AuditEvent> {
    for _ in 0..100 {
        let number = citizen.number.clone();
        let rows = app
            .db
            .run_blocking(move |conn| audit_events::for_citizen(conn, &number))
            .unwrap();
        if rows.len() >= expected {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {expected} audit rows were written");
}

#[tokio::test]
async fn logins_disclosures_and_admin_changes_are_audited_without_values() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;

    // A failed login, then a successful one, a token exchange and a userinfo call.
    let (_, location, _) = app.browse(&rp.authorize_url(&[]).url).await;
    let (_, _, html) = app.browse(&app.url(&location.unwrap())).await;
    let failed = app
        .submit_login(&html, &citizen.number, "wrong-password")
        .await;
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let start = rp.authorize_url(&["profile", "address"]);
    let redirect = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    let tokens = rp
        .exchange(
            &app.http,
            &query_param(&redirect, "code").unwrap(),
            start.verifier,
        )
        .await
        .unwrap();
    let token = openidconnect::OAuth2TokenResponse::access_token(&tokens)
        .secret()
        .clone();
    assert_eq!(userinfo_status(&app, &token).await, StatusCode::OK);
    act(&app, &citizen, AccountAction::Lock);

    let rows = audit_rows(&app, &citizen, 5).await;
    let summary: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.outcome.as_str()))
        .collect();
    // Sorted: the login's row is queued while the ID token's is written in the token
    // response's own transaction, so under load the second can be committed first.
    let mut sorted = summary.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            ("admin", "account_status_changed"),
            ("disclosure", "id_token"),
            ("disclosure", "userinfo"),
            ("login", "invalid_credentials"),
            ("login", "success"),
        ],
        "{summary:?}"
    );
    let userinfo = rows
        .iter()
        .find(|r| r.outcome == "userinfo")
        .expect("the userinfo row");
    assert_eq!(userinfo.client_id.as_deref(), Some(client.id.as_str()));
    let claims = userinfo.claims.as_deref().unwrap();
    assert!(claims.contains("name") && claims.contains("address") && claims.contains("birthdate"));
    for row in &rows {
        let text = format!("{row:?}");
        assert!(
            !text.contains(&citizen.record.full_name),
            "claim values must never be audited"
        );
        assert!(!text.contains(&citizen.record.address.street));
    }
    for row in &rows[..4] {
        assert!(
            row.request_id.as_deref().is_some_and(|id| id.len() == 36),
            "{row:?}"
        );
    }
    assert!(
        rows[4]
            .detail
            .as_deref()
            .unwrap()
            .contains("active->locked")
    );
}

#[tokio::test]
async fn the_audit_trail_is_append_only() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    act(&app, &citizen, AccountAction::Suspend);
    audit_rows(&app, &citizen, 1).await;
    for statement in [
        "UPDATE audit_events SET outcome = 'forged'",
        "DELETE FROM audit_events",
    ] {
        let result = app.db.run_blocking(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(statement)
                .execute(conn)
                .map_err(StorageError::from)
        });
        assert!(result.is_err(), "{statement} must be refused");
    }
    assert_eq!(
        audit_rows(&app, &citizen, 1).await[0].outcome,
        "account_status_changed"
    );
}

#[tokio::test]
async fn a_graceful_stop_writes_every_queued_audit_row() {
    let mut app = TestApp::spawn().await;
    let signed_in = sign_in(&app).await;
    assert_eq!(
        userinfo_status(&app, &signed_in.access_token).await,
        StatusCode::OK
    );
    app.stop().await;
    // No waiting: the rows must already be there once the server has stopped.
    let number = signed_in.citizen.number.clone();
    let rows = app
        .db
        .run_blocking(move |conn| audit_events::for_citizen(conn, &number))
        .unwrap();
    let outcomes: Vec<&str> = rows.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["success", "id_token", "userinfo"]);
}
