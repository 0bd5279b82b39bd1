//! The whole citizen journey in a real headless Chromium, once in Vietnamese and once
//! in English, on whichever backends the run uses: a citizen of the register enrols,
//! logs in to their account, adds an authenticator app, logs out, logs in at the demo
//! portal with the password and a TOTP code, grants the portal consent, and arrives
//! with `acr` loa:1 (self-enrolled) and `amr` pwd, otp, mfa. Each page is saved as
//! `target/screenshots/journey-{lang}-{step}.png` and checked at a phone's width.

use citizen_idp::http::lang::Lang;
use citizen_idp::pages::{account, consent, enrol, factor_texts};
use serde_json::Value;

use crate::browser::{Browser, demo_app};
use crate::browser_account::make_demo_portal_third_party;
use crate::browser_enrol::fill;
use crate::enrol::{NEW_PASSWORD, unenrolled};
use crate::second_factor::{base32_decode, code_now};

struct Journey<'a> {
    browser: &'a Browser,
    lang: &'static str,
}

impl Journey<'_> {
    /// The page fits a phone's width, and its screenshot is kept.
    async fn page(&self, step: &str) {
        let fits = self
            .browser
            .eval("return document.documentElement.scrollWidth <= window.innerWidth;")
            .await;
        assert_eq!(fits, Value::Bool(true), "{step} scrolls sideways at 390 px");
        let lang = self
            .browser
            .eval("return document.documentElement.lang;")
            .await;
        assert_eq!(
            lang,
            Value::from(self.lang),
            "{step} is in the wrong language"
        );
        self.browser
            .screenshot(&format!("journey-{}-{step}", self.lang))
            .await;
    }
}

async fn journey(lang: Lang) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = demo_app().await;
    make_demo_portal_third_party(&app);
    let code = lang.code();
    let j = Journey {
        browser: &browser,
        lang: code,
    };
    browser.resize(390, 844).await;
    let citizen = unenrolled(&app);
    let number = citizen.national_id.expose().to_owned();

    // 1. Enrolment, with the details of the citizen's ID card.
    browser.open(&app.url(&format!("/enrol?lang={code}"))).await;
    browser.wait_for_text(enrol::texts(lang).title).await;
    j.page("enrol").await;
    let birth_date = citizen.birth_date.format("%Y-%m-%d").to_string();
    fill(
        &browser,
        &number,
        &citizen.full_name,
        &birth_date,
        NEW_PASSWORD,
    )
    .await;
    browser.click("#enrol-submit").await;
    browser.wait_for_text(enrol::texts(lang).done_title).await;
    j.page("enrolled").await;

    // 2. Log in to the account pages with the new password.
    browser.click("#account-link").await;
    browser.wait_for_url(&app.url("/login?")).await;
    browser.type_into("#national_id", &number).await;
    browser.type_into("#password", NEW_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&app.url("/account")).await;
    browser.wait_for_text(account::texts(lang).title).await;
    j.page("account").await;

    // 3. Add an authenticator app: scan (here: read the key), confirm with a code.
    let f = factor_texts::texts(lang);
    browser
        .open(&app.url(&format!("/account/factors/totp?lang={code}")))
        .await;
    browser.wait_for_text(f.enrol_step_1).await;
    j.page("totp-enrol").await;
    let shown = browser
        .eval("return document.querySelector('code.secret').textContent;")
        .await;
    let secret = base32_decode(shown.as_str().expect("the key in text"));
    browser.type_into("#code", &code_now(&app, &secret)).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text(f.codes_title).await;
    j.page("recovery-codes").await;

    // 4. Log out.
    app.advance_clock(chrono::Duration::seconds(30));
    browser
        .open(&app.url(&format!("/logout?ui_locales={code}")))
        .await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text(lang.texts().logged_out_title).await;

    // 5. Log in at the portal: the password, then the code from the app.
    browser
        .open(&app.url(&format!("/demo/login?lang={code}")))
        .await;
    browser.wait_for_url(&app.url("/login?")).await;
    browser.type_into("#national_id", &number).await;
    browser.type_into("#password", NEW_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&app.url("/login/second-factor")).await;
    browser.wait_for_text(f.step_intro).await;
    j.page("second-factor").await;
    browser.type_into("#code", &code_now(&app, &secret)).await;
    browser.click("form button[type=submit]").await;

    // 6. Consent: the portal is not the state's own service, so the citizen is asked.
    browser.wait_for_url(&app.url("/consent?")).await;
    browser.wait_for_text(consent::texts(lang).title).await;
    j.page("consent").await;
    browser.click("#consent-allow").await;

    // 7. Back at the portal, with what the login proved.
    browser.wait_for_url(&app.url("/demo/callback")).await;
    let claims = browser
        .eval("return document.getElementById('id-token-claims').textContent;")
        .await;
    let claims: Value = serde_json::from_str(claims.as_str().expect("claims")).unwrap();
    assert_eq!(
        claims["acr"], "urn:citizen-idp:loa:1",
        "self-enrolled: level 1"
    );
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    j.page("portal").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_citizen_journey_in_vietnamese_in_a_real_browser() {
    journey(Lang::Vi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_citizen_journey_in_english_in_a_real_browser() {
    journey(Lang::En).await;
}
