//! The consent page and `/account` in a real headless Chromium: a citizen of the demo
//! population logs in at the demo portal (made not first-party here, so it asks),
//! allows, finds the portal on the account page, withdraws, and is asked again, in
//! English, where Deny sends the portal an error. Screenshots at a phone's width in
//! Vietnamese and English, and no horizontal scrolling at 390 px.

use chrono::Utc;
use citizen_idp::registry::seed::DEMO_PORTAL_ID;
use citizen_idp::storage::clients;
use serde_json::Value;

use crate::browser::{Browser, demo_app};
use crate::helpers::TestApp;

/// The demo portal as a service that is not the state's own: it asks for consent.
pub(crate) fn make_demo_portal_third_party(app: &TestApp) {
    app.db
        .run_blocking(|conn| {
            let mut portal = clients::find(conn, DEMO_PORTAL_ID)?.expect("the demo portal");
            portal.first_party = false;
            #[allow(clippy::disallowed_methods, reason = "time of a fixture change")]
            let now = Utc::now().naive_utc();
            clients::update(conn, &portal, now)
        })
        .unwrap();
}

async fn assert_fits_a_phone(browser: &Browser, page: &str) {
    let fits = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await;
    assert_eq!(fits, Value::Bool(true), "{page} scrolls sideways at 390 px");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_consents_then_manages_it_on_the_account_page_in_a_real_browser() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = demo_app().await;
    make_demo_portal_third_party(&app);
    browser.resize(390, 844).await;

    browser.open(&app.url("/demo?lang=vi")).await;
    browser.click("#demo-login").await;
    browser.wait_for_url(&app.url("/login?")).await;
    browser.type_into("#national_id", "001090000001").await;
    browser.type_into("#password", "demo-password-2026").await;
    browser.click("button[type=submit]").await;

    browser.wait_for_url(&app.url("/consent?")).await;
    browser.wait_for_text("Cho phép chia sẻ thông tin").await;
    let page = browser.source().await;
    assert!(
        page.contains("Cổng dịch vụ công (demo)"),
        "the service is named"
    );
    assert!(page.contains("họ và tên") && page.contains("địa chỉ thường trú"));
    assert_fits_a_phone(&browser, "the consent page").await;
    browser.screenshot("consent-vi").await;
    browser.click("#consent-allow").await;
    browser.wait_for_url(&app.url("/demo/callback")).await;
    browser.wait_for_text("Đăng nhập thành công").await;

    // The account page, reached with the session the login made.
    browser.open(&app.url("/account?lang=vi")).await;
    browser.wait_for_text("Tài khoản của bạn").await;
    browser.wait_for_text("Thiết bị này").await;
    let page = browser.source().await;
    assert!(page.contains("Chrome"), "the device hint names the browser");
    let services = &page[page.find("id=\"account-services\"").unwrap()..];
    assert!(services.contains("Cổng dịch vụ công (demo)"), "{services}");
    assert_fits_a_phone(&browser, "the account page").await;
    browser.screenshot("account-vi").await;

    // A keyboard user reaches the first form control with Tab: focus is visible.
    let outline = browser
        .eval(
            "document.querySelector('#current_password').focus();\
             return getComputedStyle(document.activeElement).outlineStyle;",
        )
        .await;
    assert_ne!(outline, Value::String("none".into()), "no visible focus");

    browser
        .click("form[action='/account/services/withdraw'] button")
        .await;
    browser.wait_for_text("Đã rút lại sự đồng ý").await;

    // In English, the account page, then the portal asks again; Deny.
    browser.open(&app.url("/account?lang=en")).await;
    browser.wait_for_text("Where you are signed in").await;
    assert_fits_a_phone(&browser, "the English account page").await;
    browser.screenshot("account-en").await;

    browser.open(&app.url("/demo/login?lang=en")).await;
    browser.wait_for_url(&app.url("/consent?")).await;
    browser
        .wait_for_text("Allow sharing your information")
        .await;
    assert!(browser.source().await.contains("your full name"));
    assert_fits_a_phone(&browser, "the English consent page").await;
    browser.screenshot("consent-en").await;
    browser.click("#consent-deny").await;
    let back = browser.wait_for_url(&app.url("/demo/callback")).await;
    assert!(back.contains("error=access_denied"), "{back}");
}
