//! A passkey in a real browser: headless Chromium with WebDriver's virtual authenticator
//! (CTAP2, internal, resident keys, user verification) stands in for the citizen's
//! phone. The citizen adds a passkey on /account/factors, logs out, logs in at the demo
//! portal with the password and the passkey, and arrives with `acr` loa:2 and `amr`
//! pwd, hwk, user, mfa. The pages call WebAuthn from /static/passkey.js under the CSP
//! `script-src 'self'`; each is saved as a screenshot.

use citizen_idp::clock::Clock;
use citizen_idp::domain::acr::AssuranceLevel;
use citizen_idp::domain::national_id::NationalId;
use citizen_idp::http::lang::Lang;
use citizen_idp::pages::factor_texts;
use citizen_idp::storage::accounts;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::TestApp;

const DEMO_CITIZEN: &str = "001090000001";
const DEMO_PASSWORD: &str = "demo-password-2026";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_adds_a_passkey_and_logs_in_with_it_in_a_real_browser() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::spawn_on_localhost(|s| {
        s.demo.enabled = true;
        // On PostgreSQL too, when the suite runs there.
        s.demo.allow_in_production = true;
        s.demo.population = 10;
        s.server.workers = 2;
    })
    .await;
    let id = NationalId::parse(DEMO_CITIZEN).unwrap();
    let now = app.clock.now().naive_utc();
    app.db
        .run_blocking(move |conn| accounts::set_level(conn, &id, AssuranceLevel::Level2, now))
        .unwrap();
    let authenticator = browser
        .command(
            reqwest::Method::POST,
            "/webauthn/authenticator",
            json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
            }),
        )
        .await;
    assert!(
        authenticator.is_string(),
        "a virtual authenticator: {authenticator}"
    );
    let f = factor_texts::texts(Lang::Vi);
    let page = |path: &str| format!("{}{path}", app.issuer);

    // Log in to the account pages with the password, and add a passkey.
    browser.open(&page("/account/factors?lang=vi")).await;
    browser.wait_for_url(&page("/login?")).await;
    browser.type_into("#national_id", DEMO_CITIZEN).await;
    browser.type_into("#password", DEMO_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&page("/account/factors")).await;
    browser.wait_for_text(f.passkeys_intro).await;
    browser.screenshot("passkey-factors-vi").await;
    browser.click("#add-passkey").await;
    browser
        .wait_for_url(&page("/account/factors/passkey"))
        .await;
    browser
        .type_into("#passkey_name", "Điện thoại của tôi")
        .await;
    browser.screenshot("passkey-add-vi").await;
    browser.click("#create-passkey").await;
    // The account's first factor: its recovery codes come first, shown once.
    browser.wait_for_text(f.codes_title).await;
    browser.screenshot("passkey-recovery-codes-vi").await;
    browser.click("a.button[href^='/account/factors']").await;
    browser.wait_for_text("Điện thoại của tôi").await;
    browser.screenshot("passkey-added-vi").await;

    // Log out, then log in at the demo portal: the password, then the passkey.
    app.advance_clock(chrono::Duration::seconds(30));
    browser.open(&page("/logout?ui_locales=vi")).await;
    browser.click("button[type=submit]").await;
    browser
        .wait_for_text(Lang::Vi.texts().logged_out_title)
        .await;
    browser.open(&page("/demo/login?lang=vi")).await;
    browser.wait_for_url(&page("/login?")).await;
    browser.type_into("#national_id", DEMO_CITIZEN).await;
    browser.type_into("#password", DEMO_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&page("/login/second-factor")).await;
    browser.wait_for_text(f.passkey_step_intro).await;
    // The script shows the passkey button (hidden for a browser without script).
    let shown = browser
        .eval("return !document.getElementById('use-passkey').hidden;")
        .await;
    assert_eq!(shown, Value::Bool(true));
    browser.screenshot("passkey-second-factor-vi").await;
    browser.click("#use-passkey").await;
    browser.wait_for_url(&page("/demo/callback")).await;
    browser.wait_for_text("urn:citizen-idp:loa:2").await;
    let claims = browser
        .eval("return document.getElementById('id-token-claims').textContent;")
        .await;
    let claims: Value = serde_json::from_str(claims.as_str().unwrap()).unwrap();
    assert_eq!(claims["acr"], "urn:citizen-idp:loa:2");
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "user", "mfa"]));
    browser.screenshot("passkey-demo-result-vi").await;
}
