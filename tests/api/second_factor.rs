//! Second factors over HTTP: TOTP enrolment at /account/factors (codes computed here,
//! independently of the server, from the secret the page shows), the login step at
//! /login/second-factor (wrong, replayed, recovery codes, too many attempts), removal
//! with a fresh login, and the secret sealed at rest.

use chrono::Duration;

use citizen_idp::clock::Clock;
use diesel::prelude::*;
use reqwest::StatusCode;

use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestCitizen, hidden_field, location_of, query_param,
};

/// RFC 4648 base32 (upper case, spaces ignored), as an authenticator app reads it.
pub fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        let value = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30 s) at `unix`, written here apart from the
/// server's code so that a mistake on one side shows.
pub fn totp(secret: &[u8], unix: i64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = ring::hmac::sign(&key, &(unix / 30).to_be_bytes());
    let mac = mac.as_ref();
    let offset = (mac[19] & 0xf) as usize;
    let number = u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", number % 1_000_000)
}

/// The code of the app's clock now.
pub fn code_now(app: &TestApp, secret: &[u8]) -> String {
    totp(secret, app.clock.now().timestamp())
}

/// The text between `start` and the next `end`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in the page"))
        + start.len();
    &html[from..from + html[from..].find(end).unwrap()]
}

/// A TOTP factor just enrolled: its secret and the recovery codes shown once.
pub struct Enrolled {
    pub secret: Vec<u8>,
    pub recovery_codes: Vec<String>,
}

/// Logs `citizen` in to their account pages (password only) in the app's browser.
pub async fn sign_in_to_account(app: &TestApp, citizen: &TestCitizen) {
    let back = app
        .sign_in_at(&app.browser, "/account/factors", &citizen.number, PASSWORD)
        .await;
    assert_eq!(back, "/account/factors?lang=vi");
}

/// Opens the enrolment page: its HTML and the secret it shows.
pub async fn open_enrolment(app: &TestApp) -> (String, Vec<u8>) {
    let (status, _, html) = app.browse(&app.url("/account/factors/totp")).await;
    assert_eq!(status, StatusCode::OK);
    let secret = base32_decode(between(&html, "<code class=\"secret\">", "</code>"));
    assert_eq!(secret.len(), 20);
    (html, secret)
}

pub async fn post_enrolment(app: &TestApp, html: &str, code: &str) -> (StatusCode, String) {
    let response = app
        .browser
        .post(app.url("/account/factors/totp"))
        .form(&[
            ("csrf_token", hidden_field(html, "csrf_token")),
            ("lang", hidden_field(html, "lang")),
            ("code", code.to_owned()),
        ])
        .fetch()
        .await;
    (response.status(), response.text().await.unwrap())
}

/// The codes on the page that shows them once, with the account's first factor;
/// there are always ten.
pub fn recovery_codes_on(page: &str) -> Vec<String> {
    assert!(
        page.contains("Mã khôi phục của bạn") || page.contains("Your recovery codes"),
        "{page}"
    );
    let codes: Vec<String> = page
        .split("<li><code>")
        .skip(1)
        .map(|rest| rest[..rest.find("</code>").unwrap()].to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "ten recovery codes are shown: {page}");
    codes
}

/// Signs `citizen` in and enrols a TOTP factor; the clock then moves on one step, so
/// the next code is not the one spent at enrolment.
pub async fn enrol_totp(app: &TestApp, citizen: &TestCitizen) -> Enrolled {
    sign_in_to_account(app, citizen).await;
    let (html, secret) = open_enrolment(app).await;
    let (status, page) = post_enrolment(app, &html, &code_now(app, &secret)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let recovery_codes = recovery_codes_on(&page);
    app.advance_clock(Duration::seconds(30));
    Enrolled {
        secret,
        recovery_codes,
    }
}

/// Starts a fresh login at `authorize_url` (with `prompt=login` unless it already asks
/// for a fresh login by `prompt` or `max_age`: the browser still has the account pages'
/// session) and enters the password: the redirect that follows (the second-factor page,
/// or the client).
pub async fn password_step(app: &TestApp, authorize_url: &str, citizen: &TestCitizen) -> String {
    let url = if authorize_url.contains("prompt=") || authorize_url.contains("max_age=") {
        authorize_url.to_owned()
    } else {
        format!("{authorize_url}&prompt=login")
    };
    let (status, location, _) = app.browse(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    assert!(location.starts_with("/login?"), "a login page: {location}");
    let (_, _, html) = app.browse(&app.url(&location)).await;
    let response = app.submit_login(&html, &citizen.number, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location_of(&response)
}

/// Submits a code on the second-factor page at `page` (a path).
pub async fn submit_code(app: &TestApp, page: &str, method: &str, code: &str) -> reqwest::Response {
    let (status, _, html) = app.browse(&app.url(page)).await;
    assert_eq!(status, StatusCode::OK, "the second-factor page: {html}");
    app.browser
        .post(app.url("/login/second-factor"))
        .form(&[
            ("flow", hidden_field(&html, "flow")),
            ("csrf_token", hidden_field(&html, "csrf_token")),
            ("lang", hidden_field(&html, "lang")),
            ("method", method.to_owned()),
            ("code", code.to_owned()),
        ])
        .fetch()
        .await
}

fn is_second_factor_page(location: &str) -> bool {
    location.starts_with("/login/second-factor?flow=")
}

#[tokio::test]
async fn enrolling_totp_shows_a_qr_code_and_then_every_login_asks_for_a_code() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    sign_in_to_account(&app, &citizen).await;
    let (html, secret) = open_enrolment(&app).await;
    // The QR code is inline SVG, under the strict CSP: no script, no style attribute.
    assert!(html.contains("<svg") && html.contains("role=\"img\""));
    assert!(!html.contains("<script") && !html.contains("style="));
    assert!(!html.contains("<?xml"));
    let (status, page) = post_enrolment(&app, &html, &code_now(&app, &secret)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Mã khôi phục"));
    app.advance_clock(Duration::seconds(30));

    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let next = password_step(&app, &start.url, &citizen).await;
    assert!(is_second_factor_page(&next), "{next}");
    let response = submit_code(&app, &next, "totp", &code_now(&app, &secret)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let redirect = location_of(&response);
    assert!(redirect.starts_with(&client.redirect_uri), "{redirect}");
    let code = query_param(&redirect, "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &start.nonce);
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
    // A level-1 account stays at level 1, whatever factors it presents.
    assert_eq!(
        claims.auth_context_ref().unwrap().as_str(),
        "urn:citizen-idp:loa:1"
    );
}

#[tokio::test]
async fn a_wrong_code_at_enrolment_shows_the_same_secret_again_with_a_message() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    sign_in_to_account(&app, &citizen).await;
    let (html, secret) = open_enrolment(&app).await;
    let (status, page) = post_enrolment(&app, &html, "000000").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("role=\"alert\"") && page.contains("Mã không đúng"));
    let again = base32_decode(between(&page, "<code class=\"secret\">", "</code>"));
    assert_eq!(again, secret, "the citizen need not scan again");
    // Nothing was saved: the factors page still offers the set-up.
    let (_, _, list) = app.browse(&app.url("/account/factors")).await;
    assert!(list.contains("/account/factors/totp"));
}

#[tokio::test]
async fn an_expired_enrolment_form_asks_for_the_code_again_in_english() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    sign_in_to_account(&app, &citizen).await;
    let (status, _, html) = app.browse(&app.url("/account/factors/totp?lang=en")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Set up an authenticator app"));
    // Twenty-five minutes on, the citizen opens the set-up again in another tab, logging
    // in again first, and scans the secret shown there. (The first tab's secret had ten
    // minutes; whether a store still holds it depends on whose clock its TTL runs on,
    // see src/store/mod.rs, so what follows does not depend on it.)
    app.advance_clock(Duration::minutes(25));
    let (status, login, _) = app.browse(&app.url("/account/factors/totp?lang=en")).await;
    assert_eq!(status, StatusCode::FOUND);
    let (_, _, login) = app.browse(&app.url(&login.unwrap())).await;
    let response = app.submit_login(&login, &citizen.number, PASSWORD).await;
    assert_eq!(location_of(&response), "/account/factors/totp?lang=en");
    let (_, _, other_tab) = app.browse(&app.url(&location_of(&response))).await;
    let secret = base32_decode(between(&other_tab, "<code class=\"secret\">", "</code>"));
    app.advance_clock(Duration::minutes(6));
    // The first tab's form, 31 minutes old. The login is no longer recent enough to bind
    // a factor: the post logs in again first, and comes back to the page in English.
    let response = app
        .browser
        .post(app.url("/account/factors/totp"))
        .form(&[
            ("csrf_token", hidden_field(&html, "csrf_token")),
            ("lang", hidden_field(&html, "lang")),
            ("code", code_now(&app, &secret)),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let (_, _, login) = app.browse(&app.url(&location_of(&response))).await;
    let response = app.submit_login(&login, &citizen.number, PASSWORD).await;
    assert_eq!(location_of(&response), "/account/factors/totp?lang=en");
    // With the fresh login, the form left open is explained as expired.
    let (status, page) = post_enrolment(&app, &html, &code_now(&app, &secret)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("The form has expired"), "{page}");
    // It shows the secret the citizen scanned, and the reloaded form works.
    let shown = base32_decode(between(&page, "<code class=\"secret\">", "</code>"));
    assert_eq!(shown, secret, "the citizen need not scan again");
    let (status, _) = post_enrolment(&app, &page, &code_now(&app, &secret)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_code_is_refused_with_a_localized_message_and_the_form_again() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let next = password_step(&app, &rp.authorize_url(&[]).url, &citizen).await;

    let wrong = if code_now(&app, &enrolled.secret) == "123456" {
        "654321"
    } else {
        "123456"
    };
    let response = submit_code(&app, &next, "totp", wrong).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let html = response.text().await.unwrap();
    assert!(html.contains("role=\"alert\"") && html.contains("Mã không đúng"));
    assert!(html.contains("name=\"code\""), "the form is shown again");

    let english = next.replace("lang=vi", "lang=en");
    let response = submit_code(&app, &english, "totp", "not a code").await;
    let html = response.text().await.unwrap();
    assert!(html.contains("That code is not right"), "{html}");
    // The right code still works after wrong ones.
    let response = submit_code(&app, &next, "totp", &code_now(&app, &enrolled.secret)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location_of(&response).starts_with(&client.redirect_uri));
}

#[tokio::test]
async fn a_replayed_code_is_refused_even_in_a_new_login() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let code = code_now(&app, &enrolled.secret);

    let next = password_step(&app, &rp.authorize_url(&[]).url, &citizen).await;
    let response = submit_code(&app, &next, "totp", &code).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // prompt=login: a new login, password then factor, within the same 30 seconds.
    let again = format!("{}&prompt=login", rp.authorize_url(&[]).url);
    let next = password_step(&app, &again, &citizen).await;
    assert!(
        is_second_factor_page(&next),
        "a fresh login asks again: {next}"
    );
    let response = submit_code(&app, &next, "totp", &code).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let html = response.text().await.unwrap();
    assert!(html.contains("Mã này đã được dùng rồi"), "{html}");

    // The code of the next step is fine.
    app.advance_clock(Duration::seconds(30));
    let response = submit_code(&app, &next, "totp", &code_now(&app, &enrolled.secret)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    // Typed in capitals with spaces: still the code.
    let typed = enrolled.recovery_codes[3].to_uppercase().replace('-', " ");

    let next = password_step(&app, &rp.authorize_url(&[]).url, &citizen).await;
    let response = submit_code(&app, &next, "recovery", &typed).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location_of(&response).starts_with(&client.redirect_uri));

    let again = format!("{}&prompt=login", rp.authorize_url(&[]).url);
    let next = password_step(&app, &again, &citizen).await;
    let response = submit_code(&app, &next, "recovery", &typed).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let html = response.text().await.unwrap();
    assert!(html.contains("role=\"alert\""));
    // Another code of the ten still works.
    let response = submit_code(&app, &next, "recovery", &enrolled.recovery_codes[4]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn five_wrong_codes_end_the_login() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let next = password_step(&app, &rp.authorize_url(&[]).url, &citizen).await;
    let (_, _, html) = app.browse(&app.url(&next)).await;
    let form = |code: &str| {
        [
            ("flow", hidden_field(&html, "flow")),
            ("csrf_token", hidden_field(&html, "csrf_token")),
            ("lang", "vi".to_owned()),
            ("method", "totp".to_owned()),
            ("code", code.to_owned()),
        ]
    };
    let right = code_now(&app, &enrolled.secret);
    let wrong = if right == "111111" {
        "222222"
    } else {
        "111111"
    };
    for attempt in 1..=5 {
        let response = app
            .browser
            .post(app.url("/login/second-factor"))
            .form(&form(wrong))
            .fetch()
            .await;
        let expected = if attempt < 5 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(response.status(), expected, "attempt {attempt}");
        if attempt == 5 {
            let page = response.text().await.unwrap();
            assert!(page.contains("Nhập sai quá nhiều lần"), "{page}");
        }
    }
    // The flow is over: even the right code now gets the "login expired" page.
    let response = app
        .browser
        .post(app.url("/login/second-factor"))
        .form(&form(&right))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_second_factor_form_needs_its_csrf_token() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let next = password_step(&app, &rp.authorize_url(&[]).url, &citizen).await;
    let (_, _, html) = app.browse(&app.url(&next)).await;
    let response = app
        .browser
        .post(app.url("/login/second-factor"))
        .form(&[
            ("flow", hidden_field(&html, "flow")),
            ("csrf_token", "forged".to_owned()),
            ("method", "totp".to_owned()),
            ("code", code_now(&app, &enrolled.secret)),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Without a flow waiting for a factor, the page is the localized "expired" one.
    let (status, _, _) = app
        .browse(&app.url("/login/second-factor?flow=unknown&lang=en"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn removing_a_factor_needs_a_fresh_login() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    app.advance_clock(Duration::seconds(10 * 60));

    let (status, _, list) = app.browse(&app.url("/account/factors")).await;
    assert_eq!(status, StatusCode::OK);
    let factor = hidden_field(&list, "factor");
    let remove = |list: String| {
        let factor = factor.clone();
        let browser = app.browser.clone();
        let url = app.url("/account/factors/remove");
        async move {
            browser
                .post(url)
                .form(&[
                    ("csrf_token", hidden_field(&list, "csrf_token")),
                    ("lang", "vi".to_owned()),
                    ("factor", factor),
                ])
                .fetch()
                .await
        }
    };
    // A login ten minutes old is not fresh: off to the login page, and nothing removed.
    let response = remove(list).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let login = location_of(&response);
    assert!(login.starts_with("/login?flow="), "{login}");
    // The fresh login asks for the password and the factor itself.
    let (_, _, html) = app.browse(&app.url(&login)).await;
    let response = app.submit_login(&html, &citizen.number, PASSWORD).await;
    let next = location_of(&response);
    assert!(is_second_factor_page(&next), "{next}");
    let response = submit_code(&app, &next, "totp", &code_now(&app, &enrolled.secret)).await;
    assert_eq!(location_of(&response), "/account/factors?lang=vi");

    let (_, _, list) = app.browse(&app.url("/account/factors")).await;
    // A factor id that is not one (a NUL would make PostgreSQL fail) is a bad request.
    let response = app
        .browser
        .post(app.url("/account/factors/remove"))
        .form(&[
            ("csrf_token", hidden_field(&list, "csrf_token")),
            ("factor", "x\u{0}y".to_owned()),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = remove(list).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location_of(&response),
        "/account/factors?lang=vi&done=removed"
    );
    let (_, _, list) = app
        .browse(&app.url("/account/factors?lang=vi&done=removed"))
        .await;
    assert!(list.contains("Đã gỡ bỏ"));

    // No factor: a client login is the password alone again.
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let next = password_step(
        &app,
        &format!("{}&prompt=login", rp.authorize_url(&[]).url),
        &citizen,
    )
    .await;
    assert!(next.starts_with(&client.redirect_uri), "{next}");
}

#[tokio::test]
async fn the_totp_secret_is_stored_sealed_and_the_recovery_codes_as_digests() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let account = citizen.subject.clone();
    let (sealed, digests): (Vec<Vec<u8>>, Vec<String>) = app
        .db
        .run_blocking(move |conn| {
            use citizen_idp::storage::schema::{recovery_codes, second_factors};
            let sealed = second_factors::table
                .filter(second_factors::account_id.eq(&account))
                .select(second_factors::sealed_secret)
                .load::<Vec<u8>>(conn)?;
            let digests = recovery_codes::table
                .filter(recovery_codes::account_id.eq(&account))
                .select(recovery_codes::code_digest)
                .load::<String>(conn)?;
            Ok::<_, citizen_idp::storage::StorageError>((sealed, digests))
        })
        .unwrap();
    assert_eq!(sealed.len(), 1);
    assert!(
        !sealed[0]
            .windows(enrolled.secret.len())
            .any(|w| w == enrolled.secret.as_slice()),
        "the secret is not in the clear"
    );
    assert_eq!(digests.len(), 10);
    for code in &enrolled.recovery_codes {
        assert!(!digests.iter().any(|d| d.contains(code.as_str())));
    }
}

#[tokio::test]
async fn second_factor_outcomes_are_in_the_citizens_audit_trail() {
    let mut app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let next = password_step(&app, &rp.authorize_url(&[]).url, &citizen).await;
    let right = code_now(&app, &enrolled.secret);
    let wrong = if right == "111111" {
        "222222"
    } else {
        "111111"
    };
    submit_code(&app, &next, "totp", wrong).await;
    let response = submit_code(&app, &next, "totp", &right).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // Stopping the server drains the audit writer.
    app.stop().await;
    let rows = app.audit_of(&citizen);
    let factor_rows: Vec<(String, Option<String>, Option<String>)> = rows
        .into_iter()
        .filter(|r| r.outcome.starts_with("second_factor"))
        .map(|r| (r.outcome, r.detail, r.client_id))
        .collect();
    assert_eq!(
        factor_rows,
        [
            (
                "second_factor_enrolled".into(),
                Some("kind=totp".into()),
                None
            ),
            (
                "second_factor_refused".into(),
                Some("method=totp reason=wrong".into()),
                Some(client.id.clone())
            ),
            (
                "second_factor_accepted".into(),
                Some("method=totp".into()),
                Some(client.id.clone())
            ),
        ]
    );
}

#[tokio::test]
async fn codes_are_limited_per_account_across_flows() {
    // The consecutive-failure waits (tests/api/second_factor_lockout.rs) would stop
    // this guesser first; set far off, the window limit alone is seen.
    let app =
        TestApp::spawn_with(|s| s.login_protection.second_factor_delay_after_failures = 100).await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let right = code_now(&app, &enrolled.secret);
    let wrong = if right == "111111" {
        "222222"
    } else {
        "111111"
    };
    // Six flows of five wrong codes: the per-flow limit alone would allow them all.
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let next = password_step(&app, &rp.authorize_url(&[]).url, &citizen).await;
        for _ in 0..5 {
            let response = submit_code(&app, &next, "totp", wrong).await;
            statuses.push(response.status());
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                break;
            }
        }
    }
    // 30 codes per account in 15 minutes, then every new flow ends at its first code,
    // even with the right one.
    let next = password_step(&app, &rp.authorize_url(&[]).url, &citizen).await;
    let response = submit_code(&app, &next, "totp", &right).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(statuses.len() >= 31, "{statuses:?}");
}

#[tokio::test]
async fn a_factor_sealed_under_another_server_secret_is_refused_like_a_wrong_code() {
    let mut app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    // What a replaced server secret looks like from here: a sealed secret that no longer
    // opens. Flipping a byte of the ciphertext breaks its tag just the same.
    let account = citizen.subject.clone();
    app.db
        .run_blocking(move |conn| {
            use citizen_idp::storage::schema::second_factors;
            let mut sealed: Vec<u8> = second_factors::table
                .filter(second_factors::account_id.eq(&account))
                .select(second_factors::sealed_secret)
                .get_result(conn)?;
            let last = sealed.len() - 1;
            sealed[last] ^= 0x55;
            diesel::update(second_factors::table.filter(second_factors::account_id.eq(&account)))
                .set(second_factors::sealed_secret.eq(sealed))
                .execute(conn)?;
            Ok::<_, citizen_idp::storage::StorageError>(())
        })
        .unwrap();
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let next = password_step(&app, &rp.authorize_url(&[]).url, &citizen).await;

    let response = submit_code(&app, &next, "totp", &code_now(&app, &enrolled.secret)).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "not a 500: the citizen can still go on"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("Mã không đúng"), "{html}");
    // The way out that does not need the factor: a recovery code.
    let response = submit_code(&app, &next, "recovery", &enrolled.recovery_codes[0]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(location_of(&response).starts_with(&client.redirect_uri));

    app.stop().await;
    let rows = app.audit_of(&citizen);
    assert!(
        rows.iter()
            .any(|r| r.detail.as_deref() == Some("method=totp reason=unusable")),
        "the audit trail says why"
    );
}
