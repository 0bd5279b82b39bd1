//! The logout outbox: a back-channel logout token for every way a session ends (a new
//! login or a step-up replacing it, an officer or the register stopping the account),
//! queued in the database and sent by the servers' workers, across a restart and with
//! several servers on one database. Relying parties are real HTTP receivers
//! (`crate::logout::receiver`), and every token is verified as a relying party must.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use chrono::Duration;
use citizen_idp::clock::Clock;
use citizen_idp::registry::import::CitizenWriter;
use citizen_idp::storage::logout_outbox::{self, DeliveryState, NewDelivery};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, TestApp, TestCitizen, TestClient, assert_succeeded, free_port, location_of,
    query_param,
};
use crate::logout::{
    RETURN_URI, Receiver, audit_trail, id_token, logout_url, next_token, payload,
    portal_with_logout, receiver, receiver_on, verify_logout_token,
};
use crate::second_factor::{code_now, open_enrolment, post_enrolment, submit_code};

/// An app whose worker looks for work every 50 ms, with the admin API on.
async fn app() -> TestApp {
    TestApp::spawn_with_admin(|settings| {
        settings.logout.outbox_poll_ms = 50;
        settings.logout.backchannel_retry_base_ms = 50;
    })
    .await
}

fn sid_of(id_token: &str) -> String {
    payload(id_token)["sid"].as_str().unwrap().to_owned()
}

/// What a silent authorization request (`prompt=none`) gets from the browser's
/// session: `code`, or the error code.
async fn silent_answer(app: &TestApp, client: &TestClient) -> String {
    let rp = app.relying_party(client).await;
    let url = format!("{}&prompt=none", rp.authorize_url(&[]).url);
    let (status, location, _) = app.browse(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    match query_param(&location, "error") {
        Some(error) => error,
        None => {
            assert!(query_param(&location, "code").is_some(), "{location}");
            "code".into()
        }
    }
}

/// No further token reaches `rp` within half a second.
async fn assert_no_more_tokens(rp: &mut Receiver) {
    let more = tokio::time::timeout(StdDuration::from_millis(500), rp.tokens.recv()).await;
    assert!(more.is_err(), "an unexpected logout token: {more:?}");
}

/// The logout token `rp` gets next, verified, for session `sid` of `client`.
async fn expect_logout(app: &TestApp, rp: &mut Receiver, client: &TestClient, sid: &str) -> Value {
    let token = next_token(rp).await;
    let claims = verify_logout_token(app, &token, &client.id).await;
    assert_eq!(claims["sid"], sid, "the token names the ended session");
    claims
}

/// Every outbox row, as stored.
fn outbox(app: &TestApp) -> Vec<DeliveryState> {
    app.db.run_blocking(logout_outbox::all).unwrap()
}

/// Waits until the outbox satisfies `done`.
async fn outbox_until(app: &TestApp, what: &str, done: impl Fn(&[DeliveryState]) -> bool) {
    for _ in 0..200 {
        if done(&outbox(app)) {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("the outbox never reached: {what}: {:?}", outbox(app));
}

#[tokio::test]
async fn a_relogin_with_prompt_login_replaces_the_session_and_its_relying_party_gets_a_logout_token_for_the_old_sid()
 {
    let app = app().await;
    let citizen = app.citizen();
    let mut endpoint = receiver(0).await;
    let portal = portal_with_logout(&app, Some(&endpoint.uri));
    let first = id_token(&app, &citizen, &portal).await;
    let old_sid = sid_of(&first);

    // The portal asks for a fresh login; the same browser logs in again.
    let rp = app.relying_party(&portal).await;
    let start = rp.authorize_url(&["profile"]);
    let url = format!("{}&prompt=login", start.url);
    let redirect = app.log_in(&url, &citizen.number, PASSWORD).await;
    let code = query_param(&redirect, "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let second = tokens.extra_fields().id_token().unwrap().to_string();
    assert_ne!(sid_of(&second), old_sid, "a new login, a new session");

    let claims = expect_logout(&app, &mut endpoint, &portal, &old_sid).await;
    assert_eq!(claims["sub"], payload(&first)["sub"]);
    // The new session is untouched: it signs in silently, and no token names it.
    assert_eq!(silent_answer(&app, &portal).await, "code");
    assert_no_more_tokens(&mut endpoint).await;
    let replaced = audit_trail(&app, &citizen, "session_replaced", 1).await;
    assert_eq!(replaced[0].detail.as_deref(), Some("clients=1 notified=1"));
    audit_trail(&app, &citizen, "backchannel_logout_delivered", 1).await;
}

#[tokio::test]
async fn another_citizen_logging_in_on_the_same_browser_logs_the_first_out_of_their_relying_parties()
 {
    let app = app().await;
    let (first, second) = (app.citizen(), app.citizen());
    let mut endpoint = receiver(0).await;
    let portal = portal_with_logout(&app, Some(&endpoint.uri));
    let first_token = id_token(&app, &first, &portal).await;

    // A shared computer: the next person logs in at the portal's demand.
    let rp = app.relying_party(&portal).await;
    let url = format!("{}&prompt=login", rp.authorize_url(&[]).url);
    let redirect = app.log_in(&url, &second.number, PASSWORD).await;
    assert!(query_param(&redirect, "code").is_some());

    let claims = expect_logout(&app, &mut endpoint, &portal, &sid_of(&first_token)).await;
    assert_eq!(
        claims["sub"], first.subject,
        "the first citizen's session ended"
    );
    assert_no_more_tokens(&mut endpoint).await;
}

#[tokio::test]
async fn a_step_up_to_a_second_factor_replaces_the_session_and_its_relying_party_gets_a_logout_token()
 {
    let app = app().await;
    let citizen = app.citizen();
    let mut endpoint = receiver(0).await;
    let portal = portal_with_logout(&app, Some(&endpoint.uri));
    let first = id_token(&app, &citizen, &portal).await;
    let old_sid = sid_of(&first);

    // The citizen adds an authenticator app; from then on every session presents it.
    let (html, secret) = open_enrolment(&app).await;
    let (status, page) = post_enrolment(&app, &html, &code_now(&app, &secret)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    app.advance_clock(Duration::seconds(30));

    // The portal's next request finds the session short of it: a step-up.
    let rp = app.relying_party(&portal).await;
    let start = rp.authorize_url(&[]);
    let (_, location, _) = app.browse(&start.url).await;
    let location = location.unwrap();
    assert!(
        location.starts_with("/login/second-factor?flow="),
        "{location}"
    );
    let response = submit_code(&app, &location, "totp", &code_now(&app, &secret)).await;
    let code = query_param(&location_of(&response), "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let stepped_up = tokens.extra_fields().id_token().unwrap().to_string();
    assert_ne!(
        sid_of(&stepped_up),
        old_sid,
        "the step-up made a new session"
    );

    expect_logout(&app, &mut endpoint, &portal, &old_sid).await;
    assert_no_more_tokens(&mut endpoint).await;
}

/// An officer's decision posted to the admin API: its status.
async fn admin_post(app: &TestApp, path: &str, body: Value) -> StatusCode {
    app.admin(Method::POST, path, Some(&body)).await.0
}

#[tokio::test]
async fn an_officer_lowering_locking_or_suspending_an_account_through_the_admin_api_ends_its_session_and_tells_the_relying_party()
 {
    for change in ["lower", "lock", "suspend"] {
        let app = app().await;
        let citizen = app.citizen();
        let mut endpoint = receiver(0).await;
        let portal = portal_with_logout(&app, Some(&endpoint.uri));
        let level = format!("/admin/accounts/{}/level", citizen.number);
        let status = format!("/admin/accounts/{}/status", citizen.number);
        let decision = |body: Value| {
            let mut body = body;
            body["officer"] = json!("cb-042");
            body["reason"] = json!("card reported stolen");
            body
        };
        if change == "lower" {
            // Raising keeps sessions (they reach the new level at the next login).
            let raised = admin_post(&app, &level, decision(json!({ "level": 2 }))).await;
            assert_eq!(raised, StatusCode::OK);
        }
        let sid = sid_of(&id_token(&app, &citizen, &portal).await);

        let (path, body, reason, undo) = match change {
            "lower" => (&level, json!({ "level": 1 }), "level_lowered", None),
            "lock" => (
                &status,
                json!({ "action": "lock" }),
                "account_locked",
                Some("unlock"),
            ),
            _ => (
                &status,
                json!({ "action": "suspend" }),
                "account_suspended",
                Some("reinstate"),
            ),
        };
        let answered = admin_post(&app, path, decision(body)).await;
        assert_eq!(answered, StatusCode::OK, "{change}");

        expect_logout(&app, &mut endpoint, &portal, &sid).await;
        if let Some(undo) = undo {
            let undone = admin_post(&app, &status, decision(json!({ "action": undo }))).await;
            assert_eq!(undone, StatusCode::OK, "{change}");
        }
        // The session is gone, not merely refused while the account was stopped.
        assert_eq!(
            silent_answer(&app, &portal).await,
            "login_required",
            "{change}"
        );
        let ended = audit_trail(&app, &citizen, "sessions_ended", 1).await;
        assert_eq!(
            ended[0].detail.as_deref(),
            Some(format!("reason={reason} sessions=1").as_str())
        );
        audit_trail(&app, &citizen, "backchannel_logout_delivered", 1).await;
        assert_no_more_tokens(&mut endpoint).await;
    }
}

#[tokio::test]
async fn raising_an_account_keeps_its_sessions() {
    let app = app().await;
    let citizen = app.citizen();
    let mut endpoint = receiver(0).await;
    let portal = portal_with_logout(&app, Some(&endpoint.uri));
    id_token(&app, &citizen, &portal).await;
    let body = json!({ "level": 2, "officer": "cb-042", "reason": "ID card checked" });
    let path = format!("/admin/accounts/{}/level", citizen.number);
    assert_eq!(admin_post(&app, &path, body).await, StatusCode::OK);
    assert_eq!(silent_answer(&app, &portal).await, "code");
    assert_no_more_tokens(&mut endpoint).await;
}

#[tokio::test]
async fn an_officer_locking_lowering_or_recording_a_death_on_the_command_line_ends_the_session_in_the_running_server()
 {
    for change in ["lock", "lower", "deceased"] {
        let app = app().await;
        let citizen = app.citizen();
        let mut endpoint = receiver(0).await;
        let portal = portal_with_logout(&app, Some(&endpoint.uri));
        let number = citizen.number.as_str();
        let officer = ["--officer", "cb-042", "--reason", "card reported stolen"];
        if change == "lower" {
            let raise = [&["accounts", "set-level", number, "2"][..], &officer[..]].concat();
            assert!(app.cli(&raise, None).await.status.success());
        }
        let sid = sid_of(&id_token(&app, &citizen, &portal).await);

        // Another process: it cannot reach the server's in-process sessions, only the
        // database.
        let args = match change {
            "lock" => vec!["accounts", "lock", number],
            "lower" => [&["accounts", "set-level", number, "1"][..], &officer[..]].concat(),
            _ => vec!["population", "set-status", number, "deceased"],
        };
        let output = app.cli(&args, None).await;
        assert!(
            output.status.success(),
            "{change}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("its sessions end"));

        expect_logout(&app, &mut endpoint, &portal, &sid).await;
        if change == "lock" {
            assert!(
                app.cli(&["accounts", "unlock", number], None)
                    .await
                    .status
                    .success()
            );
        }
        if change != "deceased" {
            assert_eq!(
                silent_answer(&app, &portal).await,
                "login_required",
                "{change}"
            );
        }
        audit_trail(&app, &citizen, "sessions_ended", 1).await;
        let pending = app
            .db
            .run_blocking(logout_outbox::pending_account_logouts)
            .unwrap();
        assert_eq!(pending, 0, "the request was taken and deleted");
    }
}

#[tokio::test]
async fn an_import_that_records_a_death_ends_the_citizens_session_once() {
    let app = app().await;
    let citizen = app.citizen();
    let mut endpoint = receiver(0).await;
    let portal = portal_with_logout(&app, Some(&endpoint.uri));
    let sid = sid_of(&id_token(&app, &citizen, &portal).await);

    let mut deceased = citizen.record.clone();
    deceased.life_status = citizen_idp::domain::citizen::LifeStatus::Deceased;
    deceased.updated_at += Duration::hours(1);
    let mut writer = CitizenWriter::new(Vec::new()).unwrap();
    writer.write(&deceased).unwrap();
    writer.write(&TestCitizen::generate()).unwrap();
    let file = writer.into_inner().unwrap();
    let output = app
        .cli(&["population", "import", "-"], Some(file.clone()))
        .await;
    assert_succeeded(&output);
    expect_logout(&app, &mut endpoint, &portal, &sid).await;
    audit_trail(&app, &citizen, "sessions_ended", 1).await;

    // The same file again records nothing new: no second request.
    let again = app.cli(&["population", "import", "-"], Some(file)).await;
    assert_succeeded(&again);
    let pending = app
        .db
        .run_blocking(logout_outbox::pending_account_logouts)
        .unwrap();
    assert_eq!(pending, 0);
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let ended = audit_trail(&app, &citizen, "sessions_ended", 1).await;
    assert_eq!(ended.len(), 1, "one death, one end");
}

#[tokio::test]
async fn a_token_queued_while_the_relying_party_is_down_is_delivered_once_it_is_back() {
    let app = TestApp::spawn_with(|settings| {
        settings.logout.outbox_poll_ms = 50;
        settings.logout.backchannel_attempts = 5;
        settings.logout.backchannel_retry_base_ms = 1000;
    })
    .await;
    let citizen = app.citizen();
    let port = free_port();
    let uri = format!("http://127.0.0.1:{port}/backchannel");
    let portal = portal_with_logout(&app, Some(&uri));
    let hint = id_token(&app, &citizen, &portal).await;
    let (status, _, _) = app
        .browse(&logout_url(
            &app,
            &[
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", RETURN_URI),
            ],
        ))
        .await;
    assert_eq!(status, StatusCode::FOUND, "the citizen is answered at once");

    outbox_until(&app, "a first attempt failed", |rows| {
        rows.len() == 1 && rows[0].attempts == 1 && rows[0].status == "pending"
    })
    .await;
    assert_eq!(
        outbox(&app)[0].last_error.as_deref(),
        Some("connection failed")
    );
    let mut endpoint = receiver_on(port, 0, 500).await;
    expect_logout(&app, &mut endpoint, &portal, &sid_of(&hint)).await;
    let delivered = audit_trail(&app, &citizen, "backchannel_logout_delivered", 1).await;
    assert!(
        delivered[0].detail.as_deref() != Some("attempts=1"),
        "{:?}",
        delivered[0].detail
    );
    outbox_until(&app, "delivered", |rows| rows[0].status == "delivered").await;
}

#[tokio::test]
async fn a_token_queued_while_the_relying_party_is_down_is_delivered_by_the_server_after_a_restart()
{
    // Long waits between attempts: the server stops during the first one.
    let mut first = TestApp::spawn_with(|settings| {
        settings.logout.outbox_poll_ms = 50;
        settings.logout.backchannel_attempts = 3;
        settings.logout.backchannel_retry_base_ms = 60_000;
    })
    .await;
    let citizen = first.citizen();
    let port = free_port();
    let uri = format!("http://127.0.0.1:{port}/backchannel");
    let portal = portal_with_logout(&first, Some(&uri));
    let hint = id_token(&first, &citizen, &portal).await;
    let (status, _, _) = first
        .browse(&logout_url(&first, &[("id_token_hint", &hint)]))
        .await;
    assert_eq!(status, StatusCode::OK, "logged out");
    outbox_until(&first, "a first attempt failed", |rows| {
        rows.len() == 1 && rows[0].attempts == 1
    })
    .await;

    first.stop().await;
    let rows = outbox(&first);
    assert_eq!(rows[0].status, "pending");
    assert_eq!(rows[0].claimed_by, None, "given back at shutdown");

    // The relying party is back, and so is the server (same database, same issuer).
    let mut endpoint = receiver_on(port, 0, 500).await;
    let second = first.spawn_replica().await;
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    assert!(
        endpoint.tokens.try_recv().is_err(),
        "not before the wait after the failed attempt"
    );
    second.advance_clock(Duration::seconds(61));
    expect_logout(&second, &mut endpoint, &portal, &sid_of(&hint)).await;
    let delivered = audit_trail(&second, &citizen, "backchannel_logout_delivered", 1).await;
    assert_eq!(delivered[0].detail.as_deref(), Some("attempts=2"));
    assert_no_more_tokens(&mut endpoint).await;
}

#[tokio::test]
async fn three_servers_on_one_database_send_each_queued_token_exactly_once() {
    let first = TestApp::spawn_with(|settings| settings.logout.outbox_poll_ms = 10).await;
    let second = first.spawn_replica().await;
    let third = first.spawn_replica().await;
    let citizen = first.citizen();
    let mut endpoint = receiver(0).await;
    let portal = portal_with_logout(&first, Some(&endpoint.uri));
    const COUNT: usize = 60;
    let deliveries: Vec<NewDelivery> = (0..COUNT)
        .map(|i| NewDelivery {
            client_id: portal.id.clone(),
            uri: endpoint.uri.clone(),
            sub: citizen.subject.clone(),
            sid: format!("sid-{i}"),
            alg: "RS256".into(),
            national_id: Some(citizen.number.clone()),
        })
        .collect();
    // Queued as requests queue them, a few at a time, while three workers race.
    for batch in deliveries.chunks(6) {
        let now = first.clock.now().naive_utc();
        let batch = batch.to_vec();
        first
            .db
            .run_blocking(move |conn| logout_outbox::enqueue(conn, &batch, now))
            .unwrap();
        tokio::time::sleep(StdDuration::from_millis(15)).await;
    }

    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..COUNT {
        let token = next_token(&mut endpoint).await;
        *seen
            .entry(payload(&token)["sid"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_no_more_tokens(&mut endpoint).await;
    assert_eq!(seen.len(), COUNT);
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
    outbox_until(&first, "all delivered", |rows| {
        rows.iter().all(|r| r.status == "delivered")
    })
    .await;
    let audited = audit_trail(&first, &citizen, "backchannel_logout_delivered", COUNT).await;
    assert_eq!(audited.len(), COUNT, "one audit row per delivery");
    drop((second, third));
}

#[tokio::test]
async fn a_relying_party_that_refuses_the_token_is_not_retried_and_the_refusal_is_audited() {
    let app = app().await;
    let citizen = app.citizen();
    let mut endpoint = receiver_on(0, usize::MAX, 400).await;
    let portal = portal_with_logout(&app, Some(&endpoint.uri));
    let hint = id_token(&app, &citizen, &portal).await;
    app.browse(&logout_url(&app, &[("id_token_hint", &hint)]))
        .await;
    let refused = audit_trail(&app, &citizen, "backchannel_logout_refused", 1).await;
    assert_eq!(refused[0].detail.as_deref(), Some("attempts=1 status=400"));
    assert_eq!(refused[0].client_id.as_deref(), Some(portal.id.as_str()));
    let rows = outbox(&app);
    assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("refused", 1));
    assert_no_more_tokens(&mut endpoint).await;
}

#[tokio::test]
async fn finished_deliveries_are_deleted_after_the_retention() {
    let app = TestApp::spawn_with(|settings| {
        settings.logout.outbox_poll_ms = 50;
        settings.logout.outbox_retention_secs = 3600;
    })
    .await;
    let citizen = app.citizen();
    let mut endpoint = receiver(0).await;
    let portal = portal_with_logout(&app, Some(&endpoint.uri));
    let hint = id_token(&app, &citizen, &portal).await;
    app.browse(&logout_url(&app, &[("id_token_hint", &hint)]))
        .await;
    next_token(&mut endpoint).await;
    outbox_until(&app, "delivered", |rows| {
        rows.len() == 1 && rows[0].status == "delivered"
    })
    .await;
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    assert_eq!(outbox(&app).len(), 1, "kept within the retention");

    app.advance_clock(Duration::hours(2));
    outbox_until(&app, "empty", |rows| rows.is_empty()).await;
    // The audit trail keeps the outcome.
    audit_trail(&app, &citizen, "backchannel_logout_delivered", 1).await;
}

#[tokio::test]
async fn workers_claiming_at_the_same_instant_never_get_the_same_delivery() {
    use std::sync::{Arc, Barrier};
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let portal = portal_with_logout(&app, Some("https://portal.example.gov.vn/backchannel"));
    const WORKERS: usize = 8;
    const ROUNDS: usize = 10;
    const ROWS: usize = 12;
    let pool = citizen_idp::storage::Db::connect(
        &app.database_url,
        WORKERS as u32,
        StdDuration::from_secs(10),
    )
    .unwrap();
    // Due in the (fixed) future of the app's clock, so that its worker leaves them.
    let at = (app.clock.now() + Duration::days(1)).naive_utc();
    let lease = at + Duration::minutes(5);
    for round in 0..ROUNDS {
        let batch: Vec<NewDelivery> = (0..ROWS)
            .map(|i| NewDelivery {
                client_id: portal.id.clone(),
                uri: "https://portal.example.gov.vn/backchannel".into(),
                sub: citizen.subject.clone(),
                sid: format!("race-{round}-{i}"),
                alg: "RS256".into(),
                national_id: None,
            })
            .collect();
        pool.run_blocking(|conn| logout_outbox::enqueue(conn, &batch, at))
            .unwrap();
        let start = Arc::new(Barrier::new(WORKERS));
        let claims: Vec<Vec<i64>> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..WORKERS)
                .map(|w| {
                    let (pool, start) = (pool.clone(), start.clone());
                    scope.spawn(move || {
                        start.wait();
                        pool.run_blocking(|conn| {
                            logout_outbox::claim_due(conn, &format!("racer-{w}"), at, lease, 64)
                        })
                        .unwrap()
                        .into_iter()
                        .map(|d| d.id)
                        .collect()
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let mut all: Vec<i64> = claims.concat();
        let claimed = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all.len(),
            claimed,
            "round {round}: a row claimed twice: {claims:?}"
        );
        assert_eq!(claimed, ROWS, "round {round}: every due row claimed once");
    }
}
