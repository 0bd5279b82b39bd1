//! The officer console in a real headless Chromium, under the pages' strict CSP: an
//! officer logs in at level 2 with the authenticator app, finds a citizen, locks the
//! account after ticking the confirmation (Vietnamese), then registers a relying party,
//! disables it and makes a personal API token (English). Screenshots of each page
//! (docs/screenshots/ keeps copies).

use crate::browser::Browser;
use crate::helpers::{PASSWORD, TestApp};
use crate::officers::officer;
use crate::second_factor::code_now;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_works_through_the_console_in_a_real_browser() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::spawn_with_admin(|_| {}).await;
    let (officer_citizen, enrolled) = officer(&app, "registrar,support,client-admin,auditor").await;
    let citizen = app.citizen();
    browser.resize(1024, 900).await;

    browser.open(&app.url("/officer?lang=vi")).await;
    browser.wait_for_url(&app.url("/login?")).await;
    browser
        .type_into("#national_id", &officer_citizen.number)
        .await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&app.url("/login/second-factor")).await;
    browser
        .type_into("#code", &code_now(&app, &enrolled.secret))
        .await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_url(&app.url("/officer")).await;
    browser.wait_for_text("Tìm công dân").await;
    browser.screenshot("officer-home-vi").await;

    browser.type_into("#national_id", &citizen.number).await;
    browser
        .click("form[action='/officer/citizen'] button[type=submit]")
        .await;
    browser.wait_for_text("Hồ sơ tài khoản").await;
    assert!(browser.source().await.contains(&citizen.record.full_name));
    browser.screenshot("officer-citizen-vi").await;
    browser
        .type_into("#act-lock input[name=reason]", "Báo mất thẻ căn cước")
        .await;
    browser.click("#act-lock input[name=confirm]").await;
    browser.click("#act-lock button[type=submit]").await;
    browser.wait_for_text("Đã thực hiện").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Hồ sơ tài khoản").await;
    assert!(browser.source().await.contains("data-status=\"locked\""));

    browser.open(&app.url("/officer/clients?lang=en")).await;
    browser.wait_for_text("Register a relying party").await;
    browser
        .type_into("#register-client input[name=client_name]", "Ward portal")
        .await;
    browser
        .type_into(
            "#register-client textarea[name=redirect_uris]",
            "https://ward.example.gov.vn/callback",
        )
        .await;
    browser.click("#register-client button[type=submit]").await;
    browser.wait_for_text("New client secret").await;
    let shown = browser
        .eval("return document.getElementById('shown-once').textContent;")
        .await;
    let client_id = shown
        .as_str()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("client_id: "))
        .unwrap()
        .to_owned();
    browser.screenshot("officer-client-registered-en").await;
    browser.open(&app.url("/officer/clients?lang=en")).await;
    browser.wait_for_text("Ward portal").await;
    let row = format!("#client-{client_id}");
    browser.click(&format!("{row} input[name=confirm]")).await;
    browser
        .click(&format!("{row} form button[type=submit]"))
        .await;
    browser.wait_for_text("The action is done").await;
    browser.open(&app.url("/officer/clients?lang=en")).await;
    browser.wait_for_text("Ward portal").await;
    let state = browser
        .eval(&format!(
            "return document.querySelector('{row} .state').textContent;"
        ))
        .await;
    assert_eq!(state.as_str(), Some("disabled"));
    browser.screenshot("officer-clients-en").await;

    browser.open(&app.url("/officer/tokens?lang=en")).await;
    browser.wait_for_text("Your API tokens").await;
    browser
        .type_into(
            "#create-token input[name=label]",
            "registration desk script",
        )
        .await;
    browser.click("#create-token button[type=submit]").await;
    browser.wait_for_text("Token (shown only now)").await;
    let token = browser
        .eval("return document.getElementById('shown-once').textContent;")
        .await;
    assert!(token.as_str().unwrap().starts_with("cidp_officer_"));
    browser.open(&app.url("/officer/tokens?lang=en")).await;
    browser.wait_for_text("registration desk script").await;
    browser.screenshot("officer-tokens-en").await;
}
