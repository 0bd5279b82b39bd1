//! Passkeys over HTTP, with webauthn-authenticator-rs's software passkey as the citizen's
//! device: registering one at /account/factors/passkey, logging in with it at the
//! second-factor step (`amr` pwd hwk user mfa, loa:2 for a level-2 account), and the
//! answers that must be refused: another account's credential, another challenge, another
//! origin, a replay, malformed and oversized JSON.
//!
//! `SoftPasskey::new(true)` is a device that reports user verification (the software
//! passkey has no PIN or biometric to ask for); webauthn-rs requires it of passkeys.
//!
//! Browsers refuse WebAuthn on an IP-address host, so these servers' issuer is
//! `http://localhost:PORT`.

use chrono::Duration;
use citizen_idp::clock::Clock;
use citizen_idp::domain::acr::AssuranceLevel;
use citizen_idp::storage::{accounts, passkeys};
use reqwest::StatusCode;
use webauthn_authenticator_rs::AuthenticatorBackend;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url,
};

use crate::factor_binding::{again_with_passkey, again_with_totp};
use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestCitizen, hidden_field, location_of, query_param,
};
use crate::second_factor::{password_step, recovery_codes_on, sign_in_to_account, submit_code};

pub(crate) async fn passkey_app() -> TestApp {
    TestApp::spawn_on_localhost(|_| {}).await
}

pub(crate) fn origin(app: &TestApp) -> Url {
    Url::parse(&app.issuer).unwrap()
}

/// The JSON of the form's `data-options`, unescaped from the HTML attribute.
pub(crate) fn options_json(html: &str) -> String {
    let marker = "data-options=\"";
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no passkey options in the page: {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub(crate) fn raise_to_level_2(app: &TestApp, citizen: &TestCitizen) {
    let id = citizen.record.national_id.clone();
    let now = app.clock.now().naive_utc();
    let raised = app
        .db
        .run_blocking(move |conn| accounts::set_level(conn, &id, AssuranceLevel::Level2, now))
        .unwrap();
    assert!(raised);
}

/// Opens the add page in `browser`: its HTML and the creation options.
pub(crate) async fn open_add_page(
    app: &TestApp,
    browser: &reqwest::Client,
) -> (String, CreationChallengeResponse) {
    let response = browser
        .get(app.url("/account/factors/passkey"))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    let options = serde_json::from_str(&options_json(&html)).unwrap();
    (html, options)
}

pub(crate) async fn post_registration(
    app: &TestApp,
    browser: &reqwest::Client,
    html: &str,
    name: &str,
    credential: &str,
) -> reqwest::Response {
    browser
        .post(app.url("/account/factors/passkey"))
        .form(&[
            ("csrf_token", hidden_field(html, "csrf_token")),
            ("lang", hidden_field(html, "lang")),
            ("name", name.to_owned()),
            ("credential", credential.to_owned()),
        ])
        .fetch()
        .await
}

/// A passkey just registered: its credential id, and the recovery codes shown when it
/// was the account's first second factor.
pub(crate) struct Registered {
    pub credential_id: Vec<u8>,
    pub recovery_codes: Option<Vec<String>>,
}

/// Signs `citizen` in to the account pages and registers `device`'s passkey.
pub(crate) async fn register(
    app: &TestApp,
    citizen: &TestCitizen,
    device: &mut SoftPasskey,
) -> Registered {
    sign_in_to_account(app, citizen).await;
    register_in(app, &app.browser, device).await
}

pub(crate) async fn register_in(
    app: &TestApp,
    browser: &reqwest::Client,
    device: &mut SoftPasskey,
) -> Registered {
    let (html, options) = open_add_page(app, browser).await;
    let answer: RegisterPublicKeyCredential = device.do_registration(origin(app), options).unwrap();
    let json = serde_json::to_string(&answer).unwrap();
    let response = post_registration(app, browser, &html, "Điện thoại", &json).await;
    let recovery_codes = if response.status() == StatusCode::OK {
        Some(recovery_codes_on(&response.text().await.unwrap()))
    } else {
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            location_of(&response),
            "/account/factors?lang=vi&done=passkey"
        );
        None
    };
    Registered {
        credential_id: answer.raw_id,
        recovery_codes,
    }
}

pub(crate) fn stored_recovery_codes(app: &TestApp, citizen: &TestCitizen) -> usize {
    let account = citizen.subject.clone();
    app.db
        .run_blocking(move |conn| citizen_idp::storage::recovery_codes::unused(conn, &account))
        .unwrap()
        .len()
}

/// The second-factor page at `page`: its HTML and the passkey request options.
pub(crate) async fn step_page(app: &TestApp, page: &str) -> (String, RequestChallengeResponse) {
    let (status, _, html) = app.browse(&app.url(page)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let options = serde_json::from_str(&options_json(&html)).unwrap();
    (html, options)
}

pub(crate) async fn post_assertion(
    app: &TestApp,
    html: &str,
    credential: &str,
) -> reqwest::Response {
    app.browser
        .post(app.url("/login/second-factor"))
        .form(&[
            ("flow", hidden_field(html, "flow")),
            ("csrf_token", hidden_field(html, "csrf_token")),
            ("lang", hidden_field(html, "lang")),
            ("method", "passkey".to_owned()),
            ("credential", credential.to_owned()),
        ])
        .fetch()
        .await
}

fn amr_of(claims: &openidconnect::core::CoreIdTokenClaims) -> Vec<String> {
    claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.to_string())
        .collect()
}

#[tokio::test]
async fn a_level_2_citizen_registers_a_passkey_and_logs_in_with_it_at_level_2() {
    let app = passkey_app().await;
    let citizen = app.citizen();
    raise_to_level_2(&app, &citizen);
    let mut device = SoftPasskey::new(true);
    let Registered {
        credential_id,
        recovery_codes,
    } = register(&app, &citizen, &mut device).await;
    // The first second factor comes with its recovery codes, passkey or app alike.
    let recovery_codes = recovery_codes.expect("codes with the first factor");

    let (_, _, list) = app
        .browse(&app.url("/account/factors?lang=vi&done=passkey"))
        .await;
    assert!(list.contains("Đã thêm khoá truy cập"), "{list}");
    assert!(list.contains("<strong>Điện thoại</strong>"));
    // Adding another needs a login that presented the passkey (the account has a
    // factor now); the next registration excludes the passkey already there.
    let (status, login, _) = app.browse(&app.url("/account/factors/passkey")).await;
    assert_eq!(status, StatusCode::FOUND);
    let back = again_with_passkey(&app, &login.unwrap(), &citizen, &mut device).await;
    assert_eq!(back, "/account/factors/passkey?lang=vi");
    let (add_page, options) = open_add_page(&app, &app.browser).await;
    let excluded: Vec<Vec<u8>> = options
        .public_key
        .exclude_credentials
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(excluded, std::slice::from_ref(&credential_id));
    // The page loads its one script from this origin; the CSP allows that and no more.
    assert!(add_page.contains("<script src=\"/static/passkey.js\" defer></script>"));
    let script = app.http.get(app.url("/static/passkey.js")).fetch().await;
    assert_eq!(script.status(), StatusCode::OK);
    let csp = script.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        script
            .text()
            .await
            .unwrap()
            .contains("navigator.credentials.get")
    );

    app.advance_clock(Duration::seconds(30));
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let next = password_step(&app, &start.url, &citizen).await;
    assert!(next.starts_with("/login/second-factor?flow="), "{next}");
    let (html, options) = step_page(&app, &next).await;
    // A passkey-only account is offered its passkey and its recovery codes, not an
    // authenticator app's code.
    assert!(html.contains("id=\"use-passkey\""));
    assert!(!html.contains("value=\"totp\""));
    assert!(html.contains("value=\"recovery\""));
    let assertion: PublicKeyCredential = device.do_authentication(origin(&app), options).unwrap();
    let response = post_assertion(&app, &html, &serde_json::to_string(&assertion).unwrap()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let redirect = location_of(&response);
    assert!(redirect.starts_with(&client.redirect_uri), "{redirect}");
    let code = query_param(&redirect, "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &start.nonce);
    assert_eq!(amr_of(&claims), ["pwd", "hwk", "user", "mfa"]);
    assert_eq!(
        claims.auth_context_ref().unwrap().as_str(),
        "urn:citizen-idp:loa:2"
    );

    // The login's use is recorded, with the signature counter the device reported
    // (its second use: the first was the login before adding another passkey).
    let account = citizen.subject.clone();
    let rows = app
        .db
        .run_blocking(move |conn| passkeys::for_account(conn, &account))
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].last_used_at.is_some());
    let stored: serde_json::Value = serde_json::from_str(&rows[0].credential).unwrap();
    assert_eq!(stored["cred"]["counter"], 2, "{stored}");

    // The same assertion, replayed in a new login, is refused: its challenge is spent.
    let next = password_step(&app, &rp.authorize_url(&[]).url, &citizen).await;
    let (html, _) = step_page(&app, &next).await;
    let response = post_assertion(&app, &html, &serde_json::to_string(&assertion).unwrap()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("Không xác nhận được khoá truy cập này"),
        "{page}"
    );

    // The device is lost: a recovery code stands in for it, once, at level 2.
    let start = rp.authorize_url(&[]);
    let next = password_step(&app, &start.url, &citizen).await;
    let response = submit_code(&app, &next, "recovery", &recovery_codes[0]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let redirect = location_of(&response);
    let code = query_param(&redirect, "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &start.nonce);
    assert_eq!(amr_of(&claims), ["pwd", "otp", "mfa"]);
    assert_eq!(stored_recovery_codes(&app, &citizen), 9);
}

#[tokio::test]
async fn a_level_1_citizen_with_totp_and_a_passkey_is_offered_both_and_stays_at_level_1() {
    let app = passkey_app().await;
    let citizen = app.citizen();
    let enrolled = crate::second_factor::enrol_totp(&app, &citizen).await;
    // Adding the passkey needs a login that presented the app.
    let (_, login, _) = app.browse(&app.url("/account/factors/passkey")).await;
    again_with_totp(&app, &login.unwrap(), &citizen, &enrolled.secret).await;
    let mut device = SoftPasskey::new(true);
    let registered = register_in(&app, &app.browser, &mut device).await;
    assert!(
        registered.recovery_codes.is_none(),
        "the codes issued with the app still stand"
    );
    assert_eq!(stored_recovery_codes(&app, &citizen), 10);

    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let next = password_step(&app, &start.url, &citizen).await;
    let (html, options) = step_page(&app, &next).await;
    assert!(html.contains("id=\"use-passkey\""));
    assert!(html.contains("name=\"code\""), "the TOTP form is there too");
    let assertion = device.do_authentication(origin(&app), options).unwrap();
    let response = post_assertion(&app, &html, &serde_json::to_string(&assertion).unwrap()).await;
    let code = query_param(&location_of(&response), "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &start.nonce);
    assert_eq!(amr_of(&claims), ["pwd", "hwk", "user", "mfa"]);
    assert_eq!(
        claims.auth_context_ref().unwrap().as_str(),
        "urn:citizen-idp:loa:1"
    );
}

#[tokio::test]
async fn bad_passkey_answers_at_login_are_refused_and_count_as_wrong_codes() {
    let app = passkey_app().await;
    let citizen = app.citizen();
    let mut device = SoftPasskey::new(true);
    register(&app, &citizen, &mut device).await;
    // Another citizen, in another browser, with a passkey of their own.
    let other = app.citizen();
    let other_browser = crate::helpers::http_client(true);
    app.sign_in_at(&other_browser, "/account/factors", &other.number, PASSWORD)
        .await;
    let mut other_device = SoftPasskey::new(true);
    let other_credential = register_in(&app, &other_browser, &mut other_device)
        .await
        .credential_id;

    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let next = password_step(&app, &rp.authorize_url(&[]).url, &citizen).await;
    let refused = |response: reqwest::Response| async move {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let page = response.text().await.unwrap();
        assert!(
            page.contains("Không xác nhận được khoá truy cập này"),
            "{page}"
        );
        page
    };

    // 1. Malformed JSON.
    let (html, _) = step_page(&app, &next).await;
    let page = refused(post_assertion(&app, &html, "{\"id\": ").await).await;
    // 2. Oversized JSON (under the body limit, over the credential's).
    let big = format!("{{\"id\":\"{}\"}}", "A".repeat(9 * 1024));
    let page = refused(post_assertion(&app, &page, &big).await).await;
    // 3. The other citizen's passkey, signing this flow's challenge.
    let mut options: RequestChallengeResponse = serde_json::from_str(&options_json(&page)).unwrap();
    for allowed in options.public_key.allow_credentials.iter_mut() {
        allowed.id = other_credential.clone();
    }
    let assertion = other_device
        .do_authentication(origin(&app), options)
        .unwrap();
    let page =
        refused(post_assertion(&app, &page, &serde_json::to_string(&assertion).unwrap()).await)
            .await;
    // 4. Signed for another origin (a subdomain the relying party does not allow).
    let options: RequestChallengeResponse = serde_json::from_str(&options_json(&page)).unwrap();
    let evil = Url::parse(&app.issuer.replace("localhost", "evil.localhost")).unwrap();
    let assertion =
        AuthenticatorBackend::perform_auth(&mut device, evil, options.public_key, 60_000).unwrap();
    let page =
        refused(post_assertion(&app, &page, &serde_json::to_string(&assertion).unwrap()).await)
            .await;
    // 5. Signed over another challenge (an earlier page's): the fifth wrong answer ends
    //    the login.
    let stale: RequestChallengeResponse = serde_json::from_str(&options_json(&html)).unwrap();
    let assertion = device.do_authentication(origin(&app), stale).unwrap();
    let response = post_assertion(&app, &page, &serde_json::to_string(&assertion).unwrap()).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = response.text().await.unwrap();
    assert!(page.contains("Nhập sai quá nhiều lần"), "{page}");
}

#[tokio::test]
async fn registering_refuses_bad_answers_and_removing_needs_a_fresh_login() {
    let app = passkey_app().await;
    let citizen = app.citizen();
    sign_in_to_account(&app, &citizen).await;
    let mut device = SoftPasskey::new(true);

    // A malformed answer: the page again, with a message and a new challenge.
    let (html, _) = open_add_page(&app, &app.browser).await;
    let response = post_registration(&app, &app.browser, &html, "Khoá", "not json").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert!(page.contains("Không nhận được khoá truy cập này"), "{page}");
    // An answer to the spent challenge of the first page is refused too.
    let first: CreationChallengeResponse = serde_json::from_str(&options_json(&html)).unwrap();
    let stale = device.do_registration(origin(&app), first).unwrap();
    let response = post_registration(
        &app,
        &app.browser,
        &page,
        "Khoá",
        &serde_json::to_string(&stale).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A name that is blank is refused before the answer is looked at.
    let page = response.text().await.unwrap();
    let options: CreationChallengeResponse = serde_json::from_str(&options_json(&page)).unwrap();
    let answer =
        serde_json::to_string(&device.do_registration(origin(&app), options).unwrap()).unwrap();
    let response = post_registration(&app, &app.browser, &page, "   ", &answer).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // In English, the right answer on a fresh page is saved; posted again, it finds
    // its challenge spent.
    let page = response.text().await.unwrap();
    let options: CreationChallengeResponse = serde_json::from_str(&options_json(&page)).unwrap();
    let answer =
        serde_json::to_string(&device.do_registration(origin(&app), options).unwrap()).unwrap();
    let response = app
        .browser
        .post(app.url("/account/factors/passkey"))
        .form(&[
            ("csrf_token", hidden_field(&page, "csrf_token")),
            ("lang", "en".to_owned()),
            ("name", "Laptop".to_owned()),
            ("credential", answer.clone()),
        ])
        .fetch()
        .await;
    // The account's first factor: its recovery codes, shown once, in English.
    assert_eq!(response.status(), StatusCode::OK);
    let codes_page = response.text().await.unwrap();
    assert!(
        codes_page.contains("Two-step verification is on"),
        "{codes_page}"
    );
    recovery_codes_on(&codes_page);
    assert_eq!(stored_recovery_codes(&app, &citizen), 10);
    // Posted again (after a login that presented the new passkey, which the account's
    // next change needs), the answer finds its challenge spent.
    let (_, login, _) = app
        .browse(&app.url("/account/factors/passkey?lang=en"))
        .await;
    let back = again_with_passkey(&app, &login.unwrap(), &citizen, &mut device).await;
    assert_eq!(back, "/account/factors/passkey?lang=en");
    let response = app
        .browser
        .post(app.url("/account/factors/passkey"))
        .form(&[
            ("csrf_token", hidden_field(&page, "csrf_token")),
            ("lang", "en".to_owned()),
            ("name", "Laptop".to_owned()),
            ("credential", answer),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.unwrap();
    assert!(page.contains("has expired or was already used"), "{page}");

    // Removing it needs a login of the last five minutes, which asks for the passkey.
    app.advance_clock(Duration::seconds(10 * 60));
    let (_, _, list) = app.browse(&app.url("/account/factors")).await;
    assert!(list.contains("<strong>Laptop</strong>"));
    let passkey_id = hidden_field(&list, "factor");
    let remove = |list: String| {
        let (browser, url, id) = (
            app.browser.clone(),
            app.url("/account/factors/remove"),
            passkey_id.clone(),
        );
        async move {
            browser
                .post(url)
                .form(&[
                    ("csrf_token", hidden_field(&list, "csrf_token")),
                    ("lang", "vi".to_owned()),
                    ("factor", id),
                ])
                .fetch()
                .await
        }
    };
    let response = remove(list).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let login = location_of(&response);
    let (_, _, html) = app.browse(&app.url(&login)).await;
    let response = app.submit_login(&html, &citizen.number, PASSWORD).await;
    let next = location_of(&response);
    assert!(next.starts_with("/login/second-factor?flow="), "{next}");
    let (html, options) = step_page(&app, &next).await;
    let assertion = device.do_authentication(origin(&app), options).unwrap();
    let response = post_assertion(&app, &html, &serde_json::to_string(&assertion).unwrap()).await;
    assert_eq!(location_of(&response), "/account/factors?lang=vi");
    let (_, _, list) = app.browse(&app.url("/account/factors")).await;
    let response = remove(list).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location_of(&response),
        "/account/factors?lang=vi&done=removed"
    );
    let account = citizen.subject.clone();
    let rows = app
        .db
        .run_blocking(move |conn| passkeys::for_account(conn, &account))
        .unwrap();
    assert!(rows.is_empty());
    assert_eq!(
        stored_recovery_codes(&app, &citizen),
        0,
        "the codes go with the last factor"
    );

    // No factor left: a client login is the password alone.
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let next = password_step(&app, &rp.authorize_url(&[]).url, &citizen).await;
    assert!(next.starts_with(&client.redirect_uri), "{next}");
}

#[tokio::test]
async fn an_issuer_on_an_ip_address_runs_with_passkeys_off() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    sign_in_to_account(&app, &citizen).await;
    let (_, _, list) = app.browse(&app.url("/account/factors")).await;
    assert!(!list.contains("/account/factors/passkey"));
    let (status, location, _) = app.browse(&app.url("/account/factors/passkey")).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(location.as_deref(), Some("/account/factors?lang=vi"));
}
