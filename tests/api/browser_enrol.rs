//! Enrolment in a real browser: from the demo portal's login page, through the
//! refusals a citizen may meet, to an account they log in with; in Vietnamese and in
//! English, at a phone's width. Saves a screenshot of each state
//! (`target/screenshots/enrol-*.png`; docs/screenshots/ keeps copies).

use serde_json::Value;

use crate::browser::{Browser, demo_app};
use crate::enrol::{NEW_PASSWORD, unenrolled};

/// Fills the enrolment form. The date goes in through the DOM: a date picker's typing
/// order depends on the browser's locale, which is not what this test is about.
pub(crate) async fn fill(
    browser: &Browser,
    number: &str,
    name: &str,
    birth_date: &str,
    password: &str,
) {
    browser.replace_text("#national_id", number).await;
    browser.replace_text("#full_name", name).await;
    browser
        .eval(&format!(
            "document.getElementById('birth_date').value = '{birth_date}'; return true;"
        ))
        .await;
    browser.replace_text("#id_card_number", number).await;
    browser.replace_text("#contact", "0912 345 678").await;
    browser.type_into("#password", password).await;
    browser.type_into("#password_confirm", password).await;
}

async fn assert_fits_a_phone(browser: &Browser, page: &str) {
    let fits = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await;
    assert_eq!(fits, Value::Bool(true), "{page} scrolls sideways at 390 px");
}

async fn field_value(browser: &Browser, id: &str) -> Value {
    browser
        .eval(&format!("return document.getElementById('{id}').value;"))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_enrols_from_the_demo_login_page_and_logs_in_in_vietnamese() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = demo_app().await;
    let citizen = unenrolled(&app);
    let number = citizen.national_id.expose().to_owned();
    let birth_date = citizen.birth_date.format("%Y-%m-%d").to_string();
    browser.resize(390, 844).await;

    browser.open(&app.url("/demo?lang=vi")).await;
    browser.click("#demo-login").await;
    browser.wait_for_url(&app.url("/login?")).await;
    browser.wait_for_text("Chưa có tài khoản? Đăng ký").await;
    browser.click("#enrol-link").await;
    browser.wait_for_url(&app.url("/enrol?flow=")).await;
    browser.wait_for_text("Đăng ký tài khoản định danh").await;
    assert_fits_a_phone(&browser, "the enrolment page").await;
    browser.screenshot("enrol-vi").await;

    // A name that is not the register's: one answer, and the form keeps the fields.
    fill(
        &browser,
        &number,
        "Trần Thị Không Khớp",
        &birth_date,
        NEW_PASSWORD,
    )
    .await;
    browser.click("#enrol-submit").await;
    browser
        .wait_for_text("Thông tin chưa khớp với Cơ sở dữ liệu quốc gia về dân cư")
        .await;
    assert_eq!(
        field_value(&browser, "national_id").await,
        Value::from(number.clone())
    );
    assert_eq!(field_value(&browser, "password").await, Value::from(""));
    assert_fits_a_phone(&browser, "the no-match answer").await;
    browser.screenshot("enrol-vi-no-match").await;

    // A common password: its own message, next to the field.
    fill(
        &browser,
        &number,
        &citizen.full_name,
        &birth_date,
        "iloveyou",
    )
    .await;
    browser.click("#enrol-submit").await;
    browser.wait_for_text("Mật khẩu này quá phổ biến").await;
    assert_eq!(
        field_value(&browser, "full_name").await,
        Value::from(citizen.full_name.clone())
    );
    browser.screenshot("enrol-vi-common-password").await;

    // The name typed in capitals still matches; back to the login page with a note.
    fill(
        &browser,
        &number,
        &citizen.full_name.to_uppercase(),
        &birth_date,
        NEW_PASSWORD,
    )
    .await;
    browser.click("#enrol-submit").await;
    browser.wait_for_url(&app.url("/login?")).await;
    browser.wait_for_text("Đăng ký thành công.").await;
    browser.screenshot("login-vi-enrolled").await;

    browser.replace_text("#national_id", &number).await;
    browser.type_into("#password", NEW_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&app.url("/demo/callback")).await;
    browser.wait_for_text("Đăng nhập thành công").await;
    let result = browser.source().await;
    assert!(result.contains("urn:citizen-idp:loa:1"), "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_enrolment_page_and_its_refusals_in_english_and_the_too_many_attempts_page() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = demo_app().await;
    let citizen = unenrolled(&app);
    let number = citizen.national_id.expose().to_owned();
    browser.resize(390, 844).await;

    browser.open(&app.url("/enrol?lang=en")).await;
    browser.wait_for_text("Create your e-ID account").await;
    assert_fits_a_phone(&browser, "the English enrolment page").await;
    browser.screenshot("enrol-en").await;
    // The switch leads to the Vietnamese page.
    browser.click(".lang a").await;
    browser.wait_for_text("Đăng ký tài khoản định danh").await;
    browser.open(&app.url("/enrol?lang=en")).await;

    fill(&browser, &number, &citizen.full_name, "1901-01-01", "short").await;
    browser.click("#enrol-submit").await;
    browser
        .wait_for_text("The password must be at least 8 characters long.")
        .await;
    browser.screenshot("enrol-en-short-password").await;
    let birth_date = citizen.birth_date.format("%Y-%m-%d").to_string();
    fill(
        &browser,
        &number,
        &citizen.full_name,
        "1901-01-01",
        NEW_PASSWORD,
    )
    .await;
    browser.click("#enrol-submit").await;
    browser
        .wait_for_text("These details do not match the national population register")
        .await;
    browser.screenshot("enrol-en-no-match").await;
    fill(
        &browser,
        &number,
        &citizen.full_name,
        &birth_date,
        NEW_PASSWORD,
    )
    .await;
    browser.click("#enrol-submit").await;
    browser.wait_for_text("Account created").await;
    browser.screenshot("enrol-en-done").await;

    // Five wrong passwords for the demo citizen: the login page asks them to wait.
    browser.open(&app.url("/demo/login?lang=vi")).await;
    browser.wait_for_url(&app.url("/login?")).await;
    for _ in 0..5 {
        browser.replace_text("#national_id", "001090000001").await;
        browser.type_into("#password", "sai-mat-khau").await;
        browser.click("button[type=submit]").await;
        browser.wait_for_text("role=\"alert\"").await;
    }
    browser.wait_for_text("Vui lòng thử lại sau 30 giây.").await;
    assert_fits_a_phone(&browser, "the too-many-attempts page").await;
    browser.screenshot("login-vi-too-many-attempts").await;
}
