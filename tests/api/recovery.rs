//! Account recovery ("forgot password?"): a code to the account's proven contacts
//! through a real SMS gateway, a new password with it, every session ended and the
//! second factor kept; the same answer, in content and time, for a number without an
//! account or a proven contact; and the rules of the code: wrong, replayed, raced, from
//! another browser, without the form's token.

use std::time::Instant;

use reqwest::StatusCode;

use crate::contacts::{
    Gateway, app_configured, app_with, code_by_sms, code_in, contacts_page, gateway, next_sms,
    no_more_sms, post_code, verify_page,
};
use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestCitizen, hidden_field, http_client, location_of,
};
use crate::second_factor::enrol_totp;

const NEW_PASSWORD: &str = "a brand new passphrase 2026";

/// Proves `phone` for `citizen` from a browser of its own.
async fn prove_phone(app: &TestApp, gateway: &mut Gateway, citizen: &TestCitizen, phone: &str) {
    let browser = http_client(true);
    let page = contacts_page(app, &browser, citizen).await;
    let code = code_by_sms(app, &browser, gateway, &page, phone).await;
    let verify = verify_page(app, &browser).await;
    let response = post_code(app, &browser, &verify, &code).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let _verified_notice = next_sms(gateway).await;
}

/// Opens /recover and posts `number`: the answer's status and page.
async fn ask_recovery(
    app: &TestApp,
    browser: &reqwest::Client,
    number: &str,
) -> (StatusCode, String) {
    let start = browser
        .get(app.url("/recover?lang=en"))
        .fetch()
        .await
        .text()
        .await
        .unwrap();
    let response = browser
        .post(app.url("/recover"))
        .form(&[
            ("csrf_token", hidden_field(&start, "csrf_token")),
            ("lang", "en".to_owned()),
            ("national_id", number.to_owned()),
        ])
        .fetch()
        .await;
    (response.status(), response.text().await.unwrap())
}

async fn reset(
    app: &TestApp,
    browser: &reqwest::Client,
    page: &str,
    code: &str,
    password: &str,
) -> reqwest::Response {
    browser
        .post(app.url("/recover/reset"))
        .form(&[
            ("csrf_token", hidden_field(page, "csrf_token")),
            ("lang", "en".to_owned()),
            ("flow", hidden_field(page, "flow")),
            ("code", code.to_owned()),
            ("new_password", password.to_owned()),
            ("new_password_confirm", password.to_owned()),
        ])
        .fetch()
        .await
}

/// A login with `password` from a fresh browser: where it was sent, or the status.
async fn log_in(app: &TestApp, number: &str, password: &str) -> Result<String, StatusCode> {
    let browser = http_client(true);
    let (status, login, _) = app.browse_in(&browser, &app.url("/account?lang=en")).await;
    assert_eq!(status, StatusCode::FOUND);
    let (_, _, page) = app.browse_in(&browser, &app.url(&login.unwrap())).await;
    let form = crate::helpers::login_form(&page, number, password);
    let response = app.post_login(&browser, &form).await;
    match response.status() {
        StatusCode::SEE_OTHER => Ok(location_of(&response)),
        other => Err(other),
    }
}

/// A page with its per-request values (the CSRF token and the flow) blanked.
fn without_tokens(page: &str) -> String {
    let mut page = page.to_owned();
    for name in ["csrf_token", "flow"] {
        if page.contains(&format!("name=\"{name}\"")) {
            let value = hidden_field(&page, name);
            page = page.replace(&value, "…");
        }
    }
    page
}

#[tokio::test]
async fn a_citizen_with_a_proven_phone_sets_a_new_password_and_every_session_ends() {
    let mut gateway = gateway(0, 500).await;
    let app = app_with(&gateway, None).await;
    let citizen = app.citizen();
    prove_phone(&app, &mut gateway, &citizen, "0912345678").await;
    // A session elsewhere, which recovery must end.
    let elsewhere = http_client(true);
    let _ = contacts_page(&app, &elsewhere, &citizen).await;

    let browser = http_client(true);
    let (status, page) = ask_recovery(&app, &browser, &citizen.number).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("If this number has an account"), "{page}");
    let (_, sms) = next_sms(&mut gateway).await;
    assert_eq!(sms["to"], "0912345678");
    let text = sms["text"].as_str().unwrap();
    assert!(text.contains("recovery code"), "{text}");
    let code = code_in(text);

    // A wrong code, then a password the policy refuses: the code is not spent.
    let wrong = format!("{}{}", &code[..5], (code.as_bytes()[5] - b'0' + 1) % 10);
    let response = reset(&app, &browser, &page, &wrong, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("Attempts left: 4"));
    let response = reset(&app, &browser, &page, &code, "short").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("at least 8 characters")
    );
    let response = reset(&app, &browser, &page, &code, &citizen.number).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "the number as password"
    );

    let response = reset(&app, &browser, &page, &code, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("New password set"));
    // Replayed: the recovery is spent.
    let response = reset(&app, &browser, &page, &code, "yet another passphrase 99").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("expired or was already used")
    );

    // The other browser's session ended; the old password no longer opens the account,
    // the new one does. Recovery signed no one in.
    let (status, location, _) = app
        .browse_in(&elsewhere, &app.url("/account/contacts?lang=en"))
        .await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.unwrap().starts_with("/login?"));
    let (status, _, _) = app.browse_in(&browser, &app.url("/account?lang=en")).await;
    assert_eq!(status, StatusCode::FOUND, "recovery gives no session");
    assert_eq!(
        log_in(&app, &citizen.number, PASSWORD).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        log_in(&app, &citizen.number, NEW_PASSWORD).await.as_deref(),
        Ok("/account?lang=en")
    );

    // Told and audited.
    let (_, notice) = next_sms(&mut gateway).await;
    assert!(
        notice["text"]
            .as_str()
            .unwrap()
            .contains("reset with a recovery code")
    );
    let outcomes: Vec<_> = app
        .audit_of(&citizen)
        .into_iter()
        .map(|e| e.outcome)
        .filter(|o| o.starts_with("recovery") || o == "account_recovered")
        .collect();
    assert_eq!(outcomes, ["recovery_requested", "account_recovered"]);
}

#[tokio::test]
async fn recovery_keeps_the_second_factor() {
    let mut gateway = gateway(0, 500).await;
    let app = app_with(&gateway, None).await;
    let citizen = app.citizen();
    prove_phone(&app, &mut gateway, &citizen, "0912345678").await;
    let _enrolled = enrol_totp(&app, &citizen).await;
    // The proven phone is told of the new authenticator, in the page's language.
    let (_, notice) = next_sms(&mut gateway).await;
    let text = notice["text"].as_str().unwrap();
    assert!(
        text.contains("Một ứng dụng xác thực vừa được thêm"),
        "{text}"
    );

    let browser = http_client(true);
    let (_, page) = ask_recovery(&app, &browser, &citizen.number).await;
    let (_, sms) = next_sms(&mut gateway).await;
    let response = reset(
        &app,
        &browser,
        &page,
        &code_in(sms["text"].as_str().unwrap()),
        NEW_PASSWORD,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let next = log_in(&app, &citizen.number, NEW_PASSWORD).await.unwrap();
    assert!(
        next.starts_with("/login/second-factor"),
        "the new password alone is not enough: {next}"
    );
}

#[tokio::test]
async fn an_unknown_number_or_one_without_a_proven_contact_gets_the_same_answer_in_the_same_time() {
    let mut gateway = gateway(0, 500).await;
    // Room for nine rounds of three numbers; the limit itself is checked at the end.
    let app = app_configured(&gateway, None, |s| {
        s.notify.codes_per_contact_per_hour = 12;
        s.notify.codes_per_ip_per_hour = 100;
    })
    .await;
    let proven = app.citizen();
    prove_phone(&app, &mut gateway, &proven, "0912345678").await;
    let unproven = app.citizen();
    let unknown = TestCitizen::generate().national_id.expose().to_owned();

    let browser = http_client(true);
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    let mut pages = Vec::new();
    const ROUNDS: usize = 9;
    for round in 0..ROUNDS {
        for (i, number) in [&proven.number, &unproven.number, &unknown]
            .into_iter()
            .enumerate()
        {
            let started = Instant::now();
            let (status, page) = ask_recovery(&app, &browser, number).await;
            times[i].push(started.elapsed());
            assert_eq!(status, StatusCode::OK, "round {round}, number {i}");
            pages.push(without_tokens(&page));
        }
        let _code = next_sms(&mut gateway).await;
    }
    assert!(
        pages.windows(2).all(|w| w[0] == w[1]),
        "one page for every number"
    );
    no_more_sms(&mut gateway).await;
    for t in &mut times {
        t.sort();
    }
    let median = ROUNDS / 2;
    let (known, unproven_time, unknown_time) =
        (times[0][median], times[1][median], times[2][median]);
    eprintln!(
        "median recovery answer: proven {known:?}, unproven {unproven_time:?}, unknown {unknown_time:?}"
    );
    // The answers do the same work (no database) and take about a millisecond, where
    // a loaded machine's jitter is of the same size: apart by less than three times or
    // less than two milliseconds. A database read on one path only would stand out.
    let slack = std::time::Duration::from_millis(2);
    let close = |a: std::time::Duration, b: std::time::Duration| a * 3 > b || b < a + slack;
    for other in [unproven_time, unknown_time] {
        assert!(
            close(other, known) && close(known, other),
            "{known:?} against {other:?}"
        );
    }

    // The same number asked for again and again is limited, whether or not it exists:
    // twelve an hour here (nine were asked above).
    for number in [&proven.number, &unknown] {
        for _ in ROUNDS..12 {
            let (status, _) = ask_recovery(&app, &browser, number).await;
            assert_eq!(status, StatusCode::OK);
        }
        let (status, page) = ask_recovery(&app, &browser, number).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(page.contains("Too many recovery requests"));
    }
}

#[tokio::test]
async fn a_recovery_code_works_once_only_in_its_browser_and_with_the_forms_token() {
    let mut gateway = gateway(0, 500).await;
    let app = app_with(&gateway, None).await;
    let citizen = app.citizen();
    prove_phone(&app, &mut gateway, &citizen, "0912345678").await;
    let browser = http_client(true);
    let (_, page) = ask_recovery(&app, &browser, &citizen.number).await;
    let (_, sms) = next_sms(&mut gateway).await;
    let code = code_in(sms["text"].as_str().unwrap());

    // Another browser, with the flow and the code (and a token of its own).
    let other = http_client(true);
    let (_, their_page) =
        ask_recovery(&app, &other, TestCitizen::generate().national_id.expose()).await;
    let response = other
        .post(app.url("/recover/reset"))
        .form(&[
            ("csrf_token", hidden_field(&their_page, "csrf_token")),
            ("lang", "en".to_owned()),
            ("flow", hidden_field(&page, "flow")),
            ("code", code.clone()),
            ("new_password", NEW_PASSWORD.to_owned()),
            ("new_password_confirm", NEW_PASSWORD.to_owned()),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("expired or was already used")
    );
    // Without the form's token.
    let response = browser
        .post(app.url("/recover/reset"))
        .form(&[
            ("lang", "en"),
            ("flow", &hidden_field(&page, "flow")),
            ("code", &code),
            ("new_password", NEW_PASSWORD),
            ("new_password_confirm", NEW_PASSWORD),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = browser
        .post(app.url("/recover"))
        .form(&[("lang", "en"), ("national_id", citizen.number.as_str())])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    no_more_sms(&mut gateway).await;

    // The right code twice at once: one recovery.
    let (a, b) = tokio::join!(
        reset(&app, &browser, &page, &code, NEW_PASSWORD),
        reset(&app, &browser, &page, &code, NEW_PASSWORD)
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
    let recovered = app
        .audit_of(&citizen)
        .iter()
        .filter(|e| e.outcome == "account_recovered")
        .count();
    assert_eq!(recovered, 1);
}
