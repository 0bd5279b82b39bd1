//! Proving a phone number and recovering the account in a real headless Chromium, in
//! Vietnamese then English, under the pages' strict CSP: the codes come from a real
//! HTTP SMS gateway. Screenshots at a phone's width (docs/screenshots/ keeps copies).

use serde_json::Value;

use crate::browser::Browser;
use crate::contacts::{app_with, code_in, gateway, next_sms};
use crate::helpers::PASSWORD;

async fn assert_fits_a_phone(browser: &Browser, page: &str) {
    let fits = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await;
    assert_eq!(fits, Value::Bool(true), "{page} scrolls sideways at 390 px");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_proves_a_phone_then_recovers_the_account_in_a_real_browser() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let mut gateway = gateway(0, 500).await;
    let app = app_with(&gateway, None).await;
    let citizen = app.citizen();
    browser.resize(390, 844).await;

    // The phone, proven from the account pages (Vietnamese).
    browser.open(&app.url("/account/contacts?lang=vi")).await;
    browser.wait_for_url(&app.url("/login?")).await;
    browser.type_into("#national_id", &citizen.number).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&app.url("/account/contacts")).await;
    browser.wait_for_text("Số điện thoại và thư điện tử").await;
    browser.type_into("#contact", "0912 345 678").await;
    browser
        .click("form[action='/account/contacts'] button[type=submit]")
        .await;
    browser
        .wait_for_url(&app.url("/account/contacts/verify"))
        .await;
    browser.wait_for_text("•••678").await;
    assert_fits_a_phone(&browser, "the code page").await;
    browser.screenshot("contact-code-vi").await;
    let (_, sms) = next_sms(&mut gateway).await;
    browser
        .type_into("#code", &code_in(sms["text"].as_str().unwrap()))
        .await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Liên hệ đã được xác minh.").await;
    assert!(browser.source().await.contains("đã xác minh"));
    assert_fits_a_phone(&browser, "the contacts page").await;
    browser.screenshot("contacts-vi").await;
    let _verified = next_sms(&mut gateway).await;

    // Forgot the password: from the login page's link, in English.
    browser.open(&app.url("/logout?ui_locales=en")).await;
    browser.click("button[type=submit]").await;
    // The logout's answer lands before the next page is opened, or it would replace it.
    browser.wait_for_url(&app.url("/logout/confirm")).await;
    browser.open(&app.url("/account?lang=en")).await;
    browser.wait_for_url(&app.url("/login?")).await;
    browser.click("#recover-link").await;
    browser.wait_for_url(&app.url("/recover")).await;
    browser.wait_for_text("Forgot your password").await;
    assert_fits_a_phone(&browser, "the recovery page").await;
    browser.screenshot("recover-en").await;
    browser.type_into("#national_id", &citizen.number).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("If this number has an account").await;
    let (_, sms) = next_sms(&mut gateway).await;
    browser
        .type_into("#code", &code_in(sms["text"].as_str().unwrap()))
        .await;
    browser.type_into("#new_password", "short").await;
    browser.type_into("#new_password_confirm", "short").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("at least 8 characters").await;
    assert_fits_a_phone(&browser, "the recovery code page").await;
    browser.screenshot("recover-en-short-password").await;
    // The code was not spent by the refused password.
    let code = code_in(sms["text"].as_str().unwrap());
    browser.type_into("#code", &code).await;
    browser
        .type_into("#new_password", "a brand new passphrase 2026")
        .await;
    browser
        .type_into("#new_password_confirm", "a brand new passphrase 2026")
        .await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("New password set").await;
    browser.screenshot("recover-en-done").await;

    // The new password opens the account.
    browser.click("a.button").await;
    browser.wait_for_url(&app.url("/login?")).await;
    browser.type_into("#national_id", &citizen.number).await;
    browser
        .type_into("#password", "a brand new passphrase 2026")
        .await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&app.url("/account")).await;
    browser.wait_for_text(&citizen.record.full_name).await;
}
