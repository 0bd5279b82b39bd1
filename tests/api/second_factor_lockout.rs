//! Second-factor lockout over HTTP: consecutive wrong second factors of an account are
//! counted across flows, passwords, restarts and a lost store; from the tenth on (by
//! default) the step waits, even for the right code, with the password's progressive
//! waits; at the cap the account is locked; parallel answers get only the budget.

use chrono::Duration;
use citizen_idp::domain::citizen::AccountStatus;
use citizen_idp::storage::{accounts, second_factor_failures};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestCitizen, assert_succeeded, hidden_field, location_of,
};
use crate::second_factor::{Enrolled, code_now, enrol_totp, password_step, submit_code};

/// A code that is not the right one now.
fn wrong_code(app: &TestApp, enrolled: &Enrolled) -> &'static str {
    if code_now(app, &enrolled.secret) == "111111" {
        "222222"
    } else {
        "111111"
    }
}

/// A fresh login with the right password, at the second-factor page: its path.
async fn new_flow(app: &TestApp, citizen: &TestCitizen) -> String {
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let next = password_step(app, &rp.authorize_url(&[]).url, citizen).await;
    assert!(
        next.starts_with("/login/second-factor?flow="),
        "the right password leads to the second step: {next}"
    );
    next
}

fn retry_after(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The account's count in the database.
fn durable_count(app: &TestApp, citizen: &TestCitizen) -> u64 {
    let account = citizen.subject.clone();
    app.db
        .run_blocking(move |conn| second_factor_failures::find(conn, &account))
        .unwrap()
        .map_or(0, |row| row.failures)
}

fn account_status(app: &TestApp, citizen: &TestCitizen) -> AccountStatus {
    let id = citizen.record.national_id.clone();
    app.db
        .run_blocking(move |conn| accounts::find_by_national_id(conn, &id))
        .unwrap()
        .unwrap()
        .status
}

/// Ten wrong codes over three logins, each after the right password: 4 + 4 + 2.
async fn ten_wrong_codes_over_three_logins(app: &TestApp, citizen: &TestCitizen, wrong: &str) {
    let mut statuses = Vec::new();
    for per_flow in [4, 4, 2] {
        let next = new_flow(app, citizen).await;
        for _ in 0..per_flow {
            statuses.push(submit_code(app, &next, "totp", wrong).await.status());
        }
    }
    let mut expected = vec![StatusCode::UNAUTHORIZED; 9];
    expected.push(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(statuses, expected);
}

#[tokio::test]
async fn after_ten_wrong_codes_over_several_logins_even_the_right_code_waits_and_then_works_and_resets()
 {
    let mut app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let wrong = wrong_code(&app, &enrolled);
    ten_wrong_codes_over_three_logins(&app, &citizen, wrong).await;

    // A right password and a new flow change nothing: the right code is refused
    // unchecked, with the wait in words (in the page's language) and in Retry-After.
    let next = new_flow(&app, &citizen).await;
    let response = submit_code(&app, &next, "totp", &code_now(&app, &enrolled.secret)).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&response).as_deref(), Some("30"));
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Vui lòng thử lại sau 30 giây."),
        "a localized wait: {html}"
    );
    let english = next.replace("lang=vi", "lang=en");
    let response = submit_code(&app, &english, "recovery", &enrolled.recovery_codes[0]).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Too many wrong codes in a row") && html.contains("30 seconds"),
        "{html}"
    );
    assert_eq!(durable_count(&app, &citizen), 10);

    // After the wait, a wrong code earns the next, doubled wait.
    app.advance_clock(Duration::seconds(30));
    let response = submit_code(&app, &next, "totp", wrong_code(&app, &enrolled)).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&response).as_deref(), Some("60"));

    // After that one, the right code works, and the count starts again.
    app.advance_clock(Duration::seconds(60));
    let next = new_flow(&app, &citizen).await;
    let response = submit_code(&app, &next, "totp", &code_now(&app, &enrolled.secret)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(durable_count(&app, &citizen), 0);
    let wrong = wrong_code(&app, &enrolled);
    let next = new_flow(&app, &citizen).await;
    for _ in 0..4 {
        let response = submit_code(&app, &next, "totp", wrong).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    // Each refusal unchecked is in the citizen's audit trail.
    app.stop().await;
    let throttled: Vec<_> = app
        .audit_of(&citizen)
        .into_iter()
        .filter(|r| r.outcome == "second_factor_throttled")
        .filter_map(|r| r.detail)
        .collect();
    assert_eq!(throttled, ["retry_after=30", "retry_after=30"]);
}

#[tokio::test]
async fn the_count_survives_a_restart_with_an_empty_store() {
    let mut app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let wrong = wrong_code(&app, &enrolled);
    ten_wrong_codes_over_three_logins(&app, &citizen, wrong).await;
    assert_eq!(durable_count(&app, &citizen), 10);

    // The server stops; another starts on the same database with nothing in its store
    // (in-process: a restart; on Redis: a Redis that lost its data).
    app.stop().await;
    let restarted = app.restart_with_empty_store().await;
    let next = new_flow(&restarted, &citizen).await;
    let right = code_now(&restarted, &enrolled.secret);
    let response = submit_code(&restarted, &next, "totp", &right).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&response).as_deref(), Some("30"));

    restarted.advance_clock(Duration::seconds(30));
    let right = code_now(&restarted, &enrolled.secret);
    let response = submit_code(&restarted, &next, "totp", &right).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(durable_count(&restarted, &citizen), 0);
}

#[tokio::test]
async fn wrong_recovery_codes_and_passkey_answers_count_like_wrong_codes() {
    // A localhost issuer, where passkeys are on.
    let app = TestApp::spawn_on_localhost(|_| {}).await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;

    let next = new_flow(&app, &citizen).await;
    for _ in 0..4 {
        let response = submit_code(&app, &next, "recovery", "aaaa-bbbb-cccc").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let next = new_flow(&app, &citizen).await;
    for _ in 0..4 {
        let (_, _, html) = app.browse(&app.url(&next)).await;
        let response = app
            .browser
            .post(app.url("/login/second-factor"))
            .form(&[
                ("flow", hidden_field(&html, "flow")),
                ("csrf_token", hidden_field(&html, "csrf_token")),
                ("lang", "vi".to_owned()),
                ("method", "passkey".to_owned()),
                ("credential", "{\"id\":\"forged\"}".to_owned()),
            ])
            .fetch()
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let next = new_flow(&app, &citizen).await;
    let wrong = wrong_code(&app, &enrolled);
    assert_eq!(
        submit_code(&app, &next, "totp", wrong).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let response = submit_code(&app, &next, "recovery", "aaaa-bbbb-cccc").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // Neither a right recovery code nor the right TOTP code gets through now.
    let response = submit_code(&app, &next, "recovery", &enrolled.recovery_codes[0]).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let response = submit_code(&app, &next, "totp", &code_now(&app, &enrolled.secret)).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(durable_count(&app, &citizen), 10);
    // The unchecked recovery code was not spent: it works after the wait.
    app.advance_clock(Duration::seconds(30));
    let response = submit_code(&app, &next, "recovery", &enrolled.recovery_codes[0]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn at_the_cap_the_account_is_locked_audited_and_an_officer_unlock_is_not_undone() {
    let mut app = TestApp::spawn_with(|s| {
        let p = &mut s.login_protection;
        p.delay_after_failures = 2;
        p.lockout_after_failures = 3;
        p.lock_account_after_failures = 4;
        p.first_delay_secs = 1;
        p.lockout_secs = 1;
        p.second_factor_delay_after_failures = 2;
    })
    .await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let wrong = wrong_code(&app, &enrolled);

    let next = new_flow(&app, &citizen).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(submit_code(&app, &next, "totp", wrong).await.status());
        app.advance_clock(Duration::seconds(1));
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::FORBIDDEN
        ]
    );
    assert_eq!(account_status(&app, &citizen), AccountStatus::Locked);
    // Locked: even the right password is refused now.
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let url = format!("{}&prompt=login", rp.authorize_url(&[]).url);
    let (_, location, _) = app.browse(&url).await;
    let (_, _, html) = app.browse(&app.url(&location.unwrap())).await;
    let response = app.submit_login(&html, &citizen.number, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // An officer unlocks it; the citizen's next code, even a wrong one, does not lock it
    // again at once, and the right one resets the count.
    let output = app
        .cli(&["accounts", "unlock", &citizen.number], None)
        .await;
    assert_succeeded(&output);
    let next = new_flow(&app, &citizen).await;
    let response = submit_code(&app, &next, "totp", wrong_code(&app, &enrolled)).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(account_status(&app, &citizen), AccountStatus::Active);
    app.advance_clock(Duration::seconds(1));
    let response = submit_code(&app, &next, "totp", &code_now(&app, &enrolled.secret)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(durable_count(&app, &citizen), 0);

    app.stop().await;
    let rows = app.audit_of(&citizen);
    let locks: Vec<_> = rows
        .iter()
        .filter(|r| r.outcome == "account_locked")
        .collect();
    assert_eq!(locks.len(), 1, "{rows:?}");
    assert!(
        locks[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("second factors (4)")),
        "{:?}",
        locks[0]
    );
}

#[tokio::test]
async fn wrong_codes_sent_in_parallel_are_checked_only_up_to_the_budget() {
    let mut app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let wrong = wrong_code(&app, &enrolled);
    // Four logins, five answers each (the per-flow limit counts only checked answers,
    // so none ends its flow early), all twenty sent at once.
    let mut forms = Vec::new();
    for _ in 0..4 {
        let next = new_flow(&app, &citizen).await;
        let (_, _, html) = app.browse(&app.url(&next)).await;
        forms.push([
            ("flow", hidden_field(&html, "flow")),
            ("csrf_token", hidden_field(&html, "csrf_token")),
            ("lang", "vi".to_owned()),
            ("method", "totp".to_owned()),
            ("code", wrong.to_owned()),
        ]);
    }
    let mut sent = tokio::task::JoinSet::new();
    for form in &forms {
        for _ in 0..5 {
            let request = app.browser.post(app.url("/login/second-factor")).form(form);
            sent.spawn(async move { request.fetch().await.status() });
        }
    }
    let statuses = sent.join_all().await;
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(durable_count(&app, &citizen), 10, "{statuses:?}");

    app.stop().await;
    let checked = app
        .audit_of(&citizen)
        .into_iter()
        .filter(|r| r.outcome == "second_factor_refused")
        .count();
    assert_eq!(checked, 10, "only the budget was checked: {statuses:?}");
}

#[tokio::test]
async fn a_second_factor_accepted_after_wrong_ones_forgets_them() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let wrong = wrong_code(&app, &enrolled);
    // Nine wrong, one right, nine wrong: never a wait.
    for round in 0..2 {
        for per_flow in [4, 4, 1] {
            let next = new_flow(&app, &citizen).await;
            for _ in 0..per_flow {
                let response = submit_code(&app, &next, "totp", wrong).await;
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "round {round}");
            }
        }
        if round == 0 {
            let next = new_flow(&app, &citizen).await;
            let response = submit_code(&app, &next, "recovery", &enrolled.recovery_codes[1]).await;
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            assert!(location_of(&response).contains("code="));
        }
    }
    assert_eq!(durable_count(&app, &citizen), 9);
}
