//! Second factors in a real browser (headless Chromium over WebDriver), in Vietnamese
//! and in English: log in to the account pages, enrol an authenticator app from its QR
//! page, log out, log in at the demo portal with the password and a TOTP code (a wrong
//! one first), and arrive with `acr` loa:2 and `amr` pwd, otp, mfa. Each page is saved
//! as a screenshot and checked for sideways scrolling at a phone's width.

use citizen_idp::clock::Clock;
use citizen_idp::domain::acr::AssuranceLevel;
use citizen_idp::domain::national_id::NationalId;
use citizen_idp::http::lang::Lang;
use citizen_idp::pages::factor_texts;
use citizen_idp::storage::accounts;
use serde_json::Value;

use crate::browser::{Browser, demo_app};
use crate::helpers::TestApp;
use crate::second_factor::{base32_decode, code_now};

const DEMO_CITIZEN: &str = "001090000001";
const DEMO_PASSWORD: &str = "demo-password-2026";

async fn fits_a_phone(browser: &Browser, page: &str) {
    browser.resize(390, 844).await;
    let fits = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await;
    assert_eq!(
        fits,
        Value::Bool(true),
        "{page} scrolls sideways on a phone"
    );
}

/// An officer verified the demo citizen in person.
fn raise_demo_citizen(app: &TestApp) {
    let id = NationalId::parse(DEMO_CITIZEN).unwrap();
    let now = app.clock.now().naive_utc();
    let raised = app
        .db
        .run_blocking(move |conn| accounts::set_level(conn, &id, AssuranceLevel::Level2, now))
        .unwrap();
    assert!(raised);
}

async fn log_in_with_password(browser: &Browser, app: &TestApp) {
    browser.wait_for_url(&app.url("/login?")).await;
    browser.type_into("#national_id", DEMO_CITIZEN).await;
    browser.type_into("#password", DEMO_PASSWORD).await;
    browser.click("button[type=submit]").await;
}

async fn journey(lang: Lang) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = demo_app().await;
    raise_demo_citizen(&app);
    let f = factor_texts::texts(lang);
    let code = lang.code();

    // The account pages send the citizen to log in first, then back.
    browser
        .open(&app.url(&format!("/account/factors?lang={code}")))
        .await;
    log_in_with_password(&browser, &app).await;
    browser.wait_for_url(&app.url("/account/factors")).await;
    browser.wait_for_text(f.no_factor).await;
    fits_a_phone(&browser, "the factors page").await;
    browser.screenshot(&format!("factors-{code}")).await;

    browser.click("a.button").await;
    browser
        .wait_for_url(&app.url("/account/factors/totp"))
        .await;
    browser.wait_for_text(f.enrol_step_1).await;
    fits_a_phone(&browser, "the TOTP enrolment page").await;
    browser.screenshot(&format!("totp-enrol-{code}")).await;
    let shown = browser
        .eval("return document.querySelector('code.secret').textContent;")
        .await;
    let secret = base32_decode(shown.as_str().unwrap());
    browser.type_into("#code", &code_now(&app, &secret)).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text(f.codes_title).await;
    fits_a_phone(&browser, "the recovery codes page").await;
    browser.screenshot(&format!("recovery-codes-{code}")).await;
    browser.click("a.button").await;
    browser.wait_for_text(f.totp_name).await;
    browser
        .screenshot(&format!("factors-enrolled-{code}"))
        .await;

    // Log out, and log in at the demo portal: password, then the code.
    app.advance_clock(chrono::Duration::seconds(30));
    browser
        .open(&app.url(&format!("/logout?ui_locales={code}")))
        .await;
    browser.click("button[type=submit]").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    browser
        .open(&app.url(&format!("/demo/login?lang={code}")))
        .await;
    log_in_with_password(&browser, &app).await;
    browser.wait_for_url(&app.url("/login/second-factor")).await;
    browser.wait_for_text(f.step_intro).await;
    fits_a_phone(&browser, "the second-factor page").await;
    browser.screenshot(&format!("second-factor-{code}")).await;

    let right = code_now(&app, &secret);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    browser.type_into("#code", wrong).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_text(f.wrong_code).await;
    browser
        .screenshot(&format!("second-factor-wrong-code-{code}"))
        .await;
    browser.type_into("#code", &right).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_url(&app.url("/demo/callback")).await;
    browser.wait_for_text("urn:citizen-idp:loa:2").await;
    let claims = browser
        .eval("return document.getElementById('id-token-claims').textContent;")
        .await;
    let claims: Value = serde_json::from_str(claims.as_str().unwrap()).unwrap();
    assert_eq!(claims["acr"], "urn:citizen-idp:loa:2");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    browser
        .screenshot(&format!("demo-result-loa2-{code}"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_enrols_totp_and_logs_in_with_it_in_vietnamese_in_a_real_browser() {
    journey(Lang::Vi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_enrols_totp_and_logs_in_with_it_in_english_in_a_real_browser() {
    journey(Lang::En).await;
}
