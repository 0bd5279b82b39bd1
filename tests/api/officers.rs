//! The officer console, officers' personal admin API tokens and the operator's CLI for
//! them, over HTTP and the real command line: an officer logs in at level 2 with the
//! second factor, looks a citizen up (the look-up shows in the citizen's access
//! history) and acts within the role; the console refuses a citizen without a role, an
//! officer below level 2, a stale login and a CSRF-less form; personal tokens open the
//! admin API with their roles only, and stop working once revoked or once the officer
//! loses the role.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use citizen_idp::domain::citizen::AccountStatus;
use citizen_idp::storage::{accounts, audit_events};

use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestCitizen, assert_succeeded, hidden_field, http_client,
    location_of, login_form,
};
use crate::second_factor::{Enrolled, code_now, enrol_totp};

/// A citizen enrolled with an authenticator app, raised to level 2 and granted `roles`
/// with the CLI, as an operator does.
pub(crate) async fn officer(app: &TestApp, roles: &str) -> (TestCitizen, Enrolled) {
    let citizen = app.citizen();
    let enrolled = enrol_totp(app, &citizen).await;
    let body = json!({ "level": 2, "officer": "cb-001", "reason": "ID card checked" });
    let path = format!("/admin/accounts/{}/level", citizen.number);
    let (status, answer) = app.admin(Method::POST, &path, Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let granted = app
        .cli(
            &["officers", "grant", &citizen.number, "--roles", roles],
            None,
        )
        .await;
    assert_succeeded(&granted);
    // The app's browser enrolled the factor; it logs out, so that it can enrol another.
    let (_, _, page) = app.browse(&app.url("/logout")).await;
    let response = app
        .browser
        .post(app.url("/logout/confirm"))
        .form(&[
            ("logout", hidden_field(&page, "logout")),
            ("lang", hidden_field(&page, "lang")),
        ])
        .fetch()
        .await;
    assert!(response.status().is_success() || response.status().is_redirection());
    (citizen, enrolled)
}

/// Logs in to the console from `browser`: password, then the TOTP code the console
/// demands; returns the console's page.
async fn console_login(
    app: &TestApp,
    browser: &reqwest::Client,
    citizen: &TestCitizen,
    enrolled: &Enrolled,
) -> String {
    let (status, login, _) = app.browse_in(browser, &app.url("/officer?lang=en")).await;
    assert_eq!(status, StatusCode::FOUND, "off to log in");
    let login = login.unwrap();
    assert!(login.starts_with("/login?flow="), "{login}");
    let (_, _, page) = app.browse_in(browser, &app.url(&login)).await;
    let response = app
        .post_login(browser, &login_form(&page, &citizen.number, PASSWORD))
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let factor = location_of(&response);
    assert!(
        factor.starts_with("/login/second-factor"),
        "level 2 needs the factor: {factor}"
    );
    let (status, _, html) = app.browse_in(browser, &app.url(&factor)).await;
    assert_eq!(status, StatusCode::OK);
    let response = browser
        .post(app.url("/login/second-factor"))
        .form(&[
            ("flow", hidden_field(&html, "flow")),
            ("csrf_token", hidden_field(&html, "csrf_token")),
            ("lang", hidden_field(&html, "lang")),
            ("method", "totp".to_owned()),
            ("code", code_now(app, &enrolled.secret)),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location_of(&response), "/officer?lang=en");
    let (status, _, page) = app.browse_in(browser, &app.url("/officer?lang=en")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

/// Posts a console form from `browser` with `fields` and the CSRF token of `page`'s
/// form for `action`: the status and the page.
async fn post(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    token: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", token), ("lang", "en")];
    form.extend_from_slice(fields);
    let response = browser.post(app.url(path)).form(&form).fetch().await;
    (response.status(), response.text().await.unwrap())
}

/// The CSRF token of the first form in `page` that posts to `action`.
fn token_for(page: &str, action: &str) -> String {
    let at = page
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form to {action}: {page}"));
    hidden_field(&page[at..], "csrf_token")
}

fn events(app: &TestApp, citizen: &TestCitizen) -> Vec<audit_events::AuditEvent> {
    let number = citizen.number.clone();
    app.db
        .run_blocking(move |conn| audit_events::for_citizen(conn, &number))
        .unwrap()
}

fn account_id(app: &TestApp, citizen: &TestCitizen) -> String {
    let id = citizen_idp::domain::national_id::NationalId::parse(&citizen.number).unwrap();
    app.db
        .run_blocking(move |conn| accounts::find_by_national_id(conn, &id))
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn an_officer_at_level_2_looks_a_citizen_up_and_acts_within_the_role_and_all_is_audited() {
    let app = TestApp::spawn_with_admin(|_| {}).await;
    let (officer_citizen, enrolled) = officer(&app, "support").await;
    let browser = http_client(true);
    let home = console_login(&app, &browser, &officer_citizen, &enrolled).await;
    assert!(home.contains("id=\"officer-roles\">support<"), "{home}");
    let by = format!("by=officer:{}", account_id(&app, &officer_citizen));

    // The look-up is audited and shows in the citizen's access history.
    let citizen = app.citizen();
    let look_up = token_for(&home, "/officer/citizen");
    let (status, case) = post(
        &app,
        &browser,
        "/officer/citizen",
        &look_up,
        &[("national_id", &citizen.number)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert!(case.contains("data-status=\"active\""), "{case}");
    let lookups: Vec<_> = events(&app, &citizen)
        .into_iter()
        .filter(|e| e.kind == "disclosure" && e.outcome == "officer_lookup")
        .collect();
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0].detail.as_deref(), Some(by.as_str()));
    let citizen_browser = http_client(true);
    app.sign_in_at(
        &citizen_browser,
        "/account?lang=en",
        &citizen.number,
        PASSWORD,
    )
    .await;
    let (_, _, history) = app
        .browse_in(&citizen_browser, &app.url("/account?lang=en"))
        .await;
    assert!(
        history.contains("officer"),
        "the look-up is in the history: {history}"
    );

    // An unknown number, a malformed one, and a form without its token.
    let unknown = TestCitizen::generate().national_id.expose().to_owned();
    let (status, _) = post(
        &app,
        &browser,
        "/officer/citizen",
        &look_up,
        &[("national_id", &unknown)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(
        &app,
        &browser,
        "/officer/citizen",
        &look_up,
        &[("national_id", "12ab")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post(
        &app,
        &browser,
        "/officer/citizen",
        "",
        &[("national_id", &citizen.number)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a CSRF-less look-up");
    // The same form, from a browser that never logged in, starts no look-up.
    let stranger = http_client(true);
    let (status, _) = post(
        &app,
        &stranger,
        "/officer/citizen",
        &look_up,
        &[("national_id", &citizen.number)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A destructive action needs its box ticked; then it is done and audited.
    let act = token_for(&case, "/officer/citizen/act");
    let lock = [
        ("national_id", citizen.number.as_str()),
        ("action", "lock"),
        ("reason", "reported stolen phone"),
    ];
    let (status, page) = post(&app, &browser, "/officer/citizen/act", &act, &lock).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("Tick the confirmation box"), "{page}");
    let mut confirmed = lock.to_vec();
    confirmed.push(("confirm", "yes"));
    let (status, page) = post(&app, &browser, "/officer/citizen/act", &act, &confirmed).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let status_now = {
        let id = citizen_idp::domain::national_id::NationalId::parse(&citizen.number).unwrap();
        app.db
            .run_blocking(move |conn| accounts::find_by_national_id(conn, &id))
            .unwrap()
            .unwrap()
            .status
    };
    assert_eq!(status_now, AccountStatus::Locked);
    let change = events(&app, &citizen)
        .into_iter()
        .find(|e| e.outcome == "account_status_changed")
        .expect("the lock is audited");
    assert!(
        change.detail.as_deref().unwrap().contains(&by),
        "{change:?}"
    );
    // Replayed, the lock finds the account locked already.
    let (status, _) = post(&app, &browser, "/officer/citizen/act", &act, &confirmed).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Beyond the role: the level is the registrar's.
    let level = [
        ("national_id", citizen.number.as_str()),
        ("action", "level"),
        ("level", "2"),
        ("reason", "checked"),
        ("confirm", "yes"),
    ];
    let (status, _) = post(&app, &browser, "/officer/citizen/act", &act, &level).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A recovery code needs a factor to stand in for.
    let code = [
        ("national_id", citizen.number.as_str()),
        ("action", "recovery_code"),
        ("confirm", "yes"),
    ];
    let (status, _) = post(&app, &browser, "/officer/citizen/act", &act, &code).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The trail is the auditor's: refused to support, shown to an auditor with who did
    // what, and the auditor's reading is itself audited.
    let audit = [("national_id", citizen.number.as_str())];
    let (status, _) = post(&app, &browser, "/officer/audit", &look_up, &audit).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (auditor, auditor_factor) = officer(&app, "auditor").await;
    let auditor_browser = http_client(true);
    let auditor_home = console_login(&app, &auditor_browser, &auditor, &auditor_factor).await;
    assert!(
        !auditor_home.contains("action=\"/officer/citizen\""),
        "no look-up form for an auditor"
    );
    let token = token_for(&auditor_home, "/officer/audit");
    let (status, trail) = post(&app, &auditor_browser, "/officer/audit", &token, &audit).await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    assert!(
        trail.contains("account_status_changed") && trail.contains(&by),
        "{trail}"
    );
    let (status, _) = post(&app, &auditor_browser, "/officer/citizen", &token, &audit).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the audit form's token does not open a look-up"
    );
    let by_auditor = format!("by=officer:{}", account_id(&app, &auditor));
    let readings = events(&app, &citizen)
        .into_iter()
        .filter(|e| e.outcome == "officer_lookup" && e.detail.as_deref() == Some(&by_auditor))
        .count();
    assert_eq!(readings, 1, "the auditor's reading is audited");

    // And an officer does not act on their own account.
    let own = [
        ("national_id", officer_citizen.number.as_str()),
        ("action", "end_sessions"),
        ("confirm", "yes"),
    ];
    let (status, page) = post(&app, &browser, "/officer/citizen/act", &act, &own).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
}

#[tokio::test]
async fn the_console_refuses_a_citizen_without_a_role_an_officer_below_level_2_and_a_stale_login() {
    let app = TestApp::spawn_with_admin(|_| {}).await;
    // A citizen with a live session and no role.
    let citizen = app.citizen();
    let browser = http_client(true);
    app.sign_in_at(&browser, "/account?lang=en", &citizen.number, PASSWORD)
        .await;
    let (status, _, page) = app.browse_in(&browser, &app.url("/officer?lang=en")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");

    // An officer whose account is at level 1: refused, with no login to loop through.
    let low = app.citizen();
    let granted = app
        .cli(
            &["officers", "grant", &low.number, "--roles", "registrar"],
            None,
        )
        .await;
    assert_succeeded(&granted);
    let low_browser = http_client(true);
    app.sign_in_at(&low_browser, "/account?lang=en", &low.number, PASSWORD)
        .await;
    let (status, _, _) = app
        .browse_in(&low_browser, &app.url("/officer?lang=en"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A level 2 officer whose login grew older than the console allows logs in again.
    let (officer_citizen, enrolled) = officer(&app, "registrar").await;
    let officer_browser = http_client(true);
    console_login(&app, &officer_browser, &officer_citizen, &enrolled).await;
    app.advance_clock(Duration::seconds(901));
    let (status, login, _) = app
        .browse_in(&officer_browser, &app.url("/officer?lang=en"))
        .await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(login.unwrap().starts_with("/login?flow="));
    // A revoked role takes effect on the next request.
    app.advance_clock(Duration::seconds(30));
    console_login(&app, &officer_browser, &officer_citizen, &enrolled).await;
    let revoked = app
        .cli(
            &[
                "officers",
                "revoke",
                &officer_citizen.number,
                "--roles",
                "registrar",
            ],
            None,
        )
        .await;
    assert_succeeded(&revoked);
    let (status, _, _) = app
        .browse_in(&officer_browser, &app.url("/officer?lang=en"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Calls the admin API with `token`.
async fn admin_with(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.fetch().await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn printed(output: &std::process::Output, field: &str) -> String {
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}: ")))
        .unwrap_or_else(|| panic!("no {field} in {text}"))
        .to_owned()
}

#[tokio::test]
async fn personal_tokens_open_the_admin_api_with_their_roles_only_until_revoked() {
    let app = TestApp::spawn_with_admin(|_| {}).await;
    let (officer_citizen, _) = officer(&app, "support,client-admin").await;
    let created = create_token(
        &app,
        &officer_citizen,
        &[
            "--label",
            "desk script",
            "--roles",
            "client-admin",
            "--days",
            "7",
        ],
    )
    .await;
    assert_succeeded(&created);
    let token = printed(&created, "token");
    let id = printed(&created, "id");
    assert!(token.starts_with("cidp_officer_"));

    let (status, body) = admin_with(&app, &token, Method::GET, "/admin/clients", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The token names client-admin only, though the officer also holds support.
    let citizen = app.citizen();
    let suspend = json!({ "action": "suspend", "officer": "x", "reason": "test" });
    let path = format!("/admin/accounts/{}/status", citizen.number);
    let (status, body) = admin_with(&app, &token, Method::POST, &path, Some(&suspend)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "insufficient_scope");
    // Signing keys are the operator's.
    let (status, _) = admin_with(
        &app,
        &token,
        Method::POST,
        "/admin/keys/some-kid/revoke",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A made-up token with the right prefix, and none at all.
    let (status, _) = admin_with(
        &app,
        "cidp_officer_made-up",
        Method::GET,
        "/admin/clients",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A change made with the token names the officer in the trail.
    let portal =
        json!({ "client_name": "Cổng thử", "redirect_uris": ["https://portal.example/cb"] });
    let (status, body) =
        admin_with(&app, &token, Method::POST, "/admin/clients", Some(&portal)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let client_id = body["client_id"].as_str().unwrap().to_owned();
    let by = format!("by=officer:{}", account_id(&app, &officer_citizen));
    let created_row = app
        .db
        .run_blocking(move |conn| {
            use citizen_idp::storage::schema::audit_events as a;
            use diesel::prelude::*;
            a::table
                .filter(a::client_id.eq(client_id))
                .filter(a::outcome.eq("client_created"))
                .select(a::detail)
                .load::<Option<String>>(conn)
                .map_err(citizen_idp::storage::StorageError::from)
        })
        .unwrap();
    assert_eq!(created_row, vec![Some(by.clone())]);

    // Revoked, the token stops at once; so does one whose officer lost the role.
    let revoked = app.cli(&["officers", "token", "revoke", &id], None).await;
    assert_succeeded(&revoked);
    let (status, _) = admin_with(&app, &token, Method::GET, "/admin/clients", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let again = app.cli(&["officers", "token", "revoke", &id], None).await;
    assert!(
        !again.status.success(),
        "a revoked token cannot be revoked again"
    );

    let second = create_token(&app, &officer_citizen, &["--label", "second"]).await;
    assert_succeeded(&second);
    let second = printed(&second, "token");
    let (status, _) = admin_with(&app, &second, Method::GET, "/admin/clients", None).await;
    assert_eq!(status, StatusCode::OK);
    let lost = app
        .cli(
            &[
                "officers",
                "revoke",
                &officer_citizen.number,
                "--roles",
                "client-admin",
            ],
            None,
        )
        .await;
    assert_succeeded(&lost);
    let (status, _) = admin_with(&app, &second, Method::GET, "/admin/clients", None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "support is left, client-admin is not"
    );

    // A token beyond the officer's roles or life is refused at creation.
    let beyond = create_token(
        &app,
        &officer_citizen,
        &["--label", "x", "--roles", "auditor"],
    )
    .await;
    assert!(!beyond.status.success());
    let too_long = create_token(&app, &officer_citizen, &["--label", "x", "--days", "91"]).await;
    assert!(!too_long.status.success());

    let listed = app.cli(&["officers", "list", "--json"], None).await;
    assert_succeeded(&listed);
    let list: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["account"] == account_id(&app, &officer_citizen))
        .unwrap();
    assert_eq!(mine["roles"], json!(["support"]));
}

#[tokio::test]
async fn the_cli_shows_an_account_resets_lost_factors_hands_out_a_recovery_code_and_disables_a_client()
 {
    let app = TestApp::spawn_with_admin(|_| {}).await;
    let citizen = app.citizen();
    enrol_totp(&app, &citizen).await;

    let shown = app
        .cli(&["accounts", "show", &citizen.number, "--json"], None)
        .await;
    assert_succeeded(&shown);
    let file: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(file["status"], "active");
    assert_eq!(file["totp"], 1);
    assert_eq!(file["recovery_codes_left"], 10);
    assert!(
        events(&app, &citizen)
            .iter()
            .any(|e| e.outcome == "officer_lookup" && e.detail.as_deref() == Some("by=cli"))
    );

    // One code in person replaces the ten, and stands in for the factor at login.
    let code = app
        .cli(&["accounts", "recovery-code", &citizen.number], None)
        .await;
    assert_succeeded(&code);
    let code = printed(&code, "recovery_code");
    let shown = app
        .cli(&["accounts", "show", &citizen.number, "--json"], None)
        .await;
    let file: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(file["recovery_codes_left"], 1);
    let browser = http_client(true);
    let (_, login, _) = app.browse_in(&browser, &app.url("/account?lang=en")).await;
    let (_, _, page) = app.browse_in(&browser, &app.url(&login.unwrap())).await;
    let response = app
        .post_login(&browser, &login_form(&page, &citizen.number, PASSWORD))
        .await;
    let factor = location_of(&response);
    let (_, _, html) = app.browse_in(&browser, &app.url(&factor)).await;
    let response = browser
        .post(app.url("/login/second-factor"))
        .form(&[
            ("flow", hidden_field(&html, "flow")),
            ("csrf_token", hidden_field(&html, "csrf_token")),
            ("lang", hidden_field(&html, "lang")),
            ("method", "recovery".to_owned()),
            ("code", code.clone()),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location_of(&response), "/account?lang=en");

    // The lost factor goes, with its codes; the next login asks for the password only.
    let reset = app
        .cli(&["accounts", "reset-factors", &citizen.number], None)
        .await;
    assert_succeeded(&reset);
    let shown = app
        .cli(&["accounts", "show", &citizen.number, "--json"], None)
        .await;
    let file: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(
        (file["totp"].clone(), file["recovery_codes_left"].clone()),
        (json!(0), json!(0))
    );
    let none = app
        .cli(&["accounts", "recovery-code", &citizen.number], None)
        .await;
    assert!(!none.status.success(), "no factor, no recovery code");

    // A disabled client is unknown to the token endpoint, and back once enabled.
    let client = app.confidential_client();
    let disabled = app.cli(&["clients", "disable", &client.id], None).await;
    assert_succeeded(&disabled);
    let listed = app.cli(&["clients", "list", "--json"], None).await;
    let list: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == client.id.as_str())
        .unwrap();
    assert_eq!(row["disabled"], true);
    // Past the 5 s that a server trusts a cached registration.
    app.advance_clock(Duration::seconds(6));
    assert_eq!(token_status(&app, &client).await, StatusCode::UNAUTHORIZED);
    let enabled = app.cli(&["clients", "enable", &client.id], None).await;
    assert_succeeded(&enabled);
    app.advance_clock(Duration::seconds(6));
    assert_eq!(
        token_status(&app, &client).await,
        StatusCode::BAD_REQUEST,
        "known again: only the code is wrong"
    );
    let missing = app
        .cli(&["clients", "disable", "no-such-client"], None)
        .await;
    assert!(!missing.status.success());
}

/// The token endpoint's status for a made-up code from `client`: 401 while the client
/// is unknown, 400 (`invalid_grant`) once it is known.
async fn token_status(app: &TestApp, client: &crate::helpers::TestClient) -> StatusCode {
    app.http
        .post(app.url("/token"))
        .basic_auth(&client.id, client.secret.as_ref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "made-up"),
            ("redirect_uri", client.redirect_uri.as_str()),
            (
                "code_verifier",
                "a-verifier-of-forty-three-characters-at-least-0123",
            ),
        ])
        .fetch()
        .await
        .status()
}

/// `officers token create` for `officer`, with `args`: the command's output.
async fn create_token(app: &TestApp, officer: &TestCitizen, args: &[&str]) -> std::process::Output {
    let mut all = vec!["officers", "token", "create", officer.number.as_str()];
    all.extend_from_slice(args);
    app.cli(&all, None).await
}
