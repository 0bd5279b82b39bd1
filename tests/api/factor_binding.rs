//! Binding an authenticator needs a re-authentication (NIST SP 800-63B §6.1.2.1): a
//! login of the last `session.reauth_max_age_secs` (five minutes by default) that
//! presented the account's second factor, if it has one, on every GET and POST of the
//! authenticator-app and passkey pages, on removal and on "new recovery codes". A later
//! factor keeps the recovery codes, only the "new codes" action replaces them, and
//! `/account` lists every change, in Vietnamese and English.

use chrono::Duration;
use citizen_idp::storage::{passkeys, second_factors};
use reqwest::StatusCode;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestCitizen, hidden_field, http_client, location_of, login_form,
    query_param,
};
use crate::passkey::{
    open_add_page, origin, passkey_app, post_assertion, post_registration, raise_to_level_2,
    register, register_in, step_page, stored_recovery_codes,
};
use crate::second_factor::{
    code_now, enrol_totp, open_enrolment, password_step, post_enrolment, recovery_codes_on,
    sign_in_to_account, submit_code,
};

/// Just past the default limit of five minutes.
const STALE: Duration = Duration::seconds(5 * 60 + 1);
const NEW_CODES: &str = "/account/factors/recovery-codes";

fn totp_factors(app: &TestApp, citizen: &TestCitizen) -> usize {
    let account = citizen.subject.clone();
    app.db
        .run_blocking(move |conn| second_factors::for_account(conn, &account))
        .unwrap()
        .len()
}

fn passkey_count(app: &TestApp, citizen: &TestCitizen) -> usize {
    let account = citizen.subject.clone();
    app.db
        .run_blocking(move |conn| passkeys::for_account(conn, &account))
        .unwrap()
        .len()
}

async fn get(app: &TestApp, browser: &reqwest::Client, path: &str) -> reqwest::Response {
    browser.get(app.url(path)).fetch().await
}

/// The response sends the browser to a new login: the path of the login page.
fn sent_to_log_in(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::FOUND, "off to log in");
    let login = location_of(response);
    assert!(login.starts_with("/login?flow="), "{login}");
    login
}

/// The CSRF token of the form that posts to `action` on `html`.
fn form_token(html: &str, action: &str) -> String {
    let form = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form for {action}: {html}"));
    hidden_field(&html[form..], "csrf_token")
}

async fn post_new_codes(
    app: &TestApp,
    browser: &reqwest::Client,
    token: &str,
    lang: &str,
) -> reqwest::Response {
    browser
        .post(app.url(NEW_CODES))
        .form(&[("csrf_token", token), ("lang", lang)])
        .fetch()
        .await
}

/// Fills in the password at `login` in `browser`: where the login goes next. The page
/// asks for it although the browser has a session (a fresh login).
async fn password_again(
    app: &TestApp,
    browser: &reqwest::Client,
    login: &str,
    citizen: &TestCitizen,
) -> String {
    let page = get(app, browser, login).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"password\""), "{html}");
    let form = login_form(&html, &citizen.number, PASSWORD);
    let response = app.post_login(browser, &form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location_of(&response)
}

/// Logs in again at `login` in the app's browser with the password and the code of
/// the authenticator app `secret`: where the login comes back to.
pub(crate) async fn again_with_totp(
    app: &TestApp,
    login: &str,
    citizen: &TestCitizen,
    secret: &[u8],
) -> String {
    let next = password_again(app, &app.browser, login, citizen).await;
    assert!(next.starts_with("/login/second-factor?flow="), "{next}");
    let response = submit_code(app, &next, "totp", &code_now(app, secret)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location_of(&response)
}

/// The same with the password and the passkey of `device`.
pub(crate) async fn again_with_passkey(
    app: &TestApp,
    login: &str,
    citizen: &TestCitizen,
    device: &mut SoftPasskey,
) -> String {
    let next = password_again(app, &app.browser, login, citizen).await;
    assert!(next.starts_with("/login/second-factor?flow="), "{next}");
    let (html, options) = step_page(app, &next).await;
    let assertion = device.do_authentication(origin(app), options).unwrap();
    let response = post_assertion(app, &html, &serde_json::to_string(&assertion).unwrap()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location_of(&response)
}

/// The security events of `/account` in `lang`, once `expected` is among them (the
/// audit writer batches its rows).
async fn security_events(app: &TestApp, lang: &str, expected: &str) -> String {
    let mut page = String::new();
    for _ in 0..50 {
        page = app
            .browse(&app.url(&format!("/account?lang={lang}")))
            .await
            .2;
        if page.contains(expected) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let from = page
        .find("id=\"account-security\"")
        .unwrap_or_else(|| panic!("no security events on {page}"));
    let list = &page[from..];
    list[..list.find("</ul>").unwrap()].to_owned()
}

/// Logs in at a client with the password and a recovery code: whether the code let
/// the login through.
async fn recovery_code_logs_in(app: &TestApp, citizen: &TestCitizen, code: &str) -> bool {
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let next = password_step(app, &rp.authorize_url(&[]).url, citizen).await;
    assert!(next.starts_with("/login/second-factor?flow="), "{next}");
    let response = submit_code(app, &next, "recovery", code).await;
    match response.status() {
        StatusCode::SEE_OTHER => {
            let redirect = location_of(&response);
            assert!(redirect.starts_with(&client.redirect_uri), "{redirect}");
            assert!(query_param(&redirect, "code").is_some());
            true
        }
        status => {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            false
        }
    }
}

#[tokio::test]
async fn a_login_older_than_the_limit_can_neither_open_nor_post_the_authenticator_app_page() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    sign_in_to_account(&app, &citizen).await;
    let (html, secret) = open_enrolment(&app).await;

    // The form, fetched while the login was fresh, is posted with a right code after
    // the limit: the citizen is sent to log in again, and nothing is bound.
    app.advance_clock(STALE);
    let response = app
        .browser
        .post(app.url("/account/factors/totp"))
        .form(&[
            ("csrf_token", hidden_field(&html, "csrf_token")),
            ("lang", "vi".to_owned()),
            ("code", code_now(&app, &secret)),
        ])
        .fetch()
        .await;
    let login = sent_to_log_in(&response);
    assert_eq!(totp_factors(&app, &citizen), 0);
    // The page itself is refused too; the list (which binds nothing) still opens.
    sent_to_log_in(&get(&app, &app.browser, "/account/factors/totp").await);
    let (status, _, list) = app.browse(&app.url("/account/factors")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("href=\"/account/factors/totp?lang=vi\""));
    assert_eq!(totp_factors(&app, &citizen), 0);

    // The new login (the password: the account has no factor yet) comes back to the
    // page, with the secret the citizen already scanned, and the code binds it.
    let back = password_again(&app, &app.browser, &login, &citizen).await;
    assert_eq!(back, "/account/factors/totp?lang=vi");
    let (html, shown) = open_enrolment(&app).await;
    assert_eq!(shown, secret, "no need to scan again");
    let (status, page) = post_enrolment(&app, &html, &code_now(&app, &secret)).await;
    assert_eq!(status, StatusCode::OK);
    recovery_codes_on(&page);
    assert_eq!(totp_factors(&app, &citizen), 1);
}

#[tokio::test]
async fn a_login_older_than_the_limit_can_neither_open_nor_post_the_passkey_page() {
    let app = passkey_app().await;
    let citizen = app.citizen();
    sign_in_to_account(&app, &citizen).await;
    let mut device = SoftPasskey::new(true);
    let (html, options) = open_add_page(&app, &app.browser).await;
    let answer = device.do_registration(origin(&app), options).unwrap();

    app.advance_clock(STALE);
    let response = post_registration(
        &app,
        &app.browser,
        &html,
        "Điện thoại",
        &serde_json::to_string(&answer).unwrap(),
    )
    .await;
    let login = sent_to_log_in(&response);
    assert_eq!(passkey_count(&app, &citizen), 0);
    sent_to_log_in(&get(&app, &app.browser, "/account/factors/passkey").await);
    assert_eq!(passkey_count(&app, &citizen), 0);

    // After a new login, a new page with a new challenge binds the passkey.
    let back = password_again(&app, &app.browser, &login, &citizen).await;
    assert_eq!(back, "/account/factors/passkey?lang=vi");
    let registered = register_in(&app, &app.browser, &mut SoftPasskey::new(true)).await;
    assert!(registered.recovery_codes.is_some(), "the first factor");
    assert_eq!(passkey_count(&app, &citizen), 1);
}

#[tokio::test]
async fn a_fresh_password_only_session_cannot_bind_or_remove_once_the_account_has_a_factor() {
    let app = passkey_app().await;
    let citizen = app.citizen();
    raise_to_level_2(&app, &citizen);
    // A browser left signed in, with the password only, before the account had a
    // second factor.
    let unattended = http_client(true);
    crate::account::sign_in(&app, &unattended, &citizen, PASSWORD).await;
    // The citizen adds an authenticator app in their own browser.
    let enrolled = enrol_totp(&app, &citizen).await;

    // A minute later, the unattended session is recent enough but never presented
    // the app: it may not add a passkey or another app, renew the codes, or remove
    // the app.
    for page in ["/account/factors/passkey", "/account/factors/totp"] {
        sent_to_log_in(&get(&app, &unattended, page).await);
    }
    let list = get(&app, &unattended, "/account/factors").await;
    assert_eq!(list.status(), StatusCode::OK);
    let list = list.text().await.unwrap();
    let response = post_new_codes(&app, &unattended, &form_token(&list, NEW_CODES), "vi").await;
    sent_to_log_in(&response);
    let response = unattended
        .post(app.url("/account/factors/remove"))
        .form(&[
            ("csrf_token", form_token(&list, "/account/factors/remove")),
            ("lang", "vi".to_owned()),
            ("factor", hidden_field(&list, "factor")),
        ])
        .fetch()
        .await;
    let login = sent_to_log_in(&response);
    // Even with the password, its new login stops at the factor it does not have.
    let next = password_again(&app, &unattended, &login, &citizen).await;
    assert!(next.starts_with("/login/second-factor?flow="), "{next}");
    sent_to_log_in(&get(&app, &unattended, "/account/factors/passkey").await);
    assert_eq!(totp_factors(&app, &citizen), 1);
    assert_eq!(passkey_count(&app, &citizen), 0);
    assert_eq!(stored_recovery_codes(&app, &citizen), 10);

    // The citizen's own session presented only the password too: it logs in again
    // with the app, and then adds a passkey, which keeps the recovery codes.
    let login = sent_to_log_in(&get(&app, &app.browser, "/account/factors/passkey").await);
    let back = again_with_totp(&app, &login, &citizen, &enrolled.secret).await;
    assert_eq!(back, "/account/factors/passkey?lang=vi");
    let registered = register_in(&app, &app.browser, &mut SoftPasskey::new(true)).await;
    assert!(registered.recovery_codes.is_none());
    assert_eq!(passkey_count(&app, &citizen), 1);
    assert_eq!(stored_recovery_codes(&app, &citizen), 10);
}

#[tokio::test]
async fn another_browser_without_the_session_binds_nothing_with_the_citizens_forms() {
    let app = passkey_app().await;
    let citizen = app.citizen();
    sign_in_to_account(&app, &citizen).await;
    let (totp_page, secret) = open_enrolment(&app).await;
    let mut device = SoftPasskey::new(true);
    let (passkey_page, options) = open_add_page(&app, &app.browser).await;
    let answer =
        serde_json::to_string(&device.do_registration(origin(&app), options).unwrap()).unwrap();

    // Another browser: no session, and none of the citizen's cookies.
    let stranger = http_client(true);
    for page in ["/account/factors/totp", "/account/factors/passkey"] {
        sent_to_log_in(&get(&app, &stranger, page).await);
    }
    let response = stranger
        .post(app.url("/account/factors/totp"))
        .form(&[
            ("csrf_token", hidden_field(&totp_page, "csrf_token")),
            ("lang", "vi".to_owned()),
            ("code", code_now(&app, &secret)),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = post_registration(&app, &stranger, &passkey_page, "Của tôi", &answer).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(totp_factors(&app, &citizen), 0);
    assert_eq!(passkey_count(&app, &citizen), 0);

    // The stranger's attempt spent nothing: the citizen's own answer still binds.
    let response = post_registration(&app, &app.browser, &passkey_page, "Của tôi", &answer).await;
    assert_eq!(response.status(), StatusCode::OK);
    recovery_codes_on(&response.text().await.unwrap());
    assert_eq!(passkey_count(&app, &citizen), 1);
}

#[tokio::test]
async fn adding_an_authenticator_app_after_a_passkey_keeps_the_recovery_codes() {
    let app = passkey_app().await;
    let citizen = app.citizen();
    let mut device = SoftPasskey::new(true);
    let codes = register(&app, &citizen, &mut device)
        .await
        .recovery_codes
        .expect("codes with the first factor");

    // The session that added the passkey presented only the password: the app page
    // asks for the passkey first.
    let login = sent_to_log_in(&get(&app, &app.browser, "/account/factors/totp").await);
    let back = again_with_passkey(&app, &login, &citizen, &mut device).await;
    assert_eq!(back, "/account/factors/totp?lang=vi");
    let (html, secret) = open_enrolment(&app).await;
    let response = app
        .browser
        .post(app.url("/account/factors/totp"))
        .form(&[
            ("csrf_token", hidden_field(&html, "csrf_token")),
            ("lang", "vi".to_owned()),
            ("code", code_now(&app, &secret)),
        ])
        .fetch()
        .await;
    // No page of codes: the set the citizen holds stands.
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location_of(&response), "/account/factors?lang=vi&done=totp");
    let (_, _, list) = app
        .browse(&app.url("/account/factors?lang=vi&done=totp"))
        .await;
    assert!(list.contains("Đã thêm ứng dụng xác thực."), "{list}");
    assert!(list.contains("Số mã khôi phục còn lại: 10"), "{list}");
    assert_eq!(totp_factors(&app, &citizen), 1);
    assert_eq!(stored_recovery_codes(&app, &citizen), 10);

    // A code of the first set still logs in.
    app.advance_clock(Duration::seconds(30));
    assert!(recovery_code_logs_in(&app, &citizen, &codes[0]).await);

    // /account lists both bindings.
    let events = security_events(&app, "vi", "Đã thêm ứng dụng xác thực lúc").await;
    assert!(events.contains("Đã thêm khoá truy cập lúc"), "{events}");
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_ones_and_need_a_fresh_login_with_the_factor() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let (_, _, list) = app.browse(&app.url("/account/factors")).await;
    assert!(list.contains("id=\"new-codes\""), "{list}");

    // The session that added the app presented only the password: it logs in again
    // with the app first, and the old codes stay as they were.
    let response = post_new_codes(&app, &app.browser, &form_token(&list, NEW_CODES), "vi").await;
    let login = sent_to_log_in(&response);
    assert_eq!(stored_recovery_codes(&app, &citizen), 10);
    let back = again_with_totp(&app, &login, &citizen, &enrolled.secret).await;
    assert_eq!(back, "/account/factors?lang=vi");

    // No token, or another form's (the removal's), is refused.
    let (_, _, list) = app.browse(&app.url("/account/factors")).await;
    let other = form_token(&list, "/account/factors/remove");
    for token in ["", "1.forged", other.as_str()] {
        let response = post_new_codes(&app, &app.browser, token, "vi").await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{token}");
    }
    // A list fetched fresh and posted after the limit renews nothing.
    let stale_list = list.clone();
    app.advance_clock(STALE);
    let response = post_new_codes(
        &app,
        &app.browser,
        &form_token(&stale_list, NEW_CODES),
        "en",
    )
    .await;
    let login = sent_to_log_in(&response);
    app.advance_clock(Duration::seconds(30));
    let back = again_with_totp(&app, &login, &citizen, &enrolled.secret).await;
    assert_eq!(back, "/account/factors?lang=en");

    // Now, in English: a new set, shown once, and the old one is gone.
    let (_, _, list) = app.browse(&app.url("/account/factors?lang=en")).await;
    let response = post_new_codes(&app, &app.browser, &form_token(&list, NEW_CODES), "en").await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("These are your new recovery codes"), "{page}");
    let renewed = recovery_codes_on(&page);
    assert!(renewed.iter().all(|c| !enrolled.recovery_codes.contains(c)));
    assert_eq!(stored_recovery_codes(&app, &citizen), 10);

    app.advance_clock(Duration::seconds(30));
    assert!(!recovery_code_logs_in(&app, &citizen, &enrolled.recovery_codes[0]).await);
    assert!(recovery_code_logs_in(&app, &citizen, &renewed[0]).await);
}

#[tokio::test]
async fn the_account_page_lists_each_change_of_factors_in_vietnamese_and_english() {
    let mut app = TestApp::spawn().await;
    let citizen = app.citizen();
    let enrolled = enrol_totp(&app, &citizen).await;
    let (_, _, list) = app.browse(&app.url("/account/factors")).await;
    let login = sent_to_log_in(
        &post_new_codes(&app, &app.browser, &form_token(&list, NEW_CODES), "vi").await,
    );
    again_with_totp(&app, &login, &citizen, &enrolled.secret).await;
    let (_, _, list) = app.browse(&app.url("/account/factors")).await;
    let new_codes = form_token(&list, NEW_CODES);
    let response = post_new_codes(&app, &app.browser, &new_codes, "vi").await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .browser
        .post(app.url("/account/factors/remove"))
        .form(&[
            ("csrf_token", form_token(&list, "/account/factors/remove")),
            ("lang", "vi".to_owned()),
            ("factor", hidden_field(&list, "factor")),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // No factor left: there is nothing to renew.
    let response = post_new_codes(&app, &app.browser, &new_codes, "vi").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("Mã khôi phục đi kèm bước xác thực thứ hai"),
        "{page}"
    );
    assert_eq!(stored_recovery_codes(&app, &citizen), 0);

    // Newest first, with the time in Vietnam.
    let vi = security_events(&app, "vi", "Đã gỡ bỏ ứng dụng xác thực lúc").await;
    let at = |text: &str| {
        vi.find(text)
            .unwrap_or_else(|| panic!("{text} not in {vi}"))
    };
    assert!(at("Đã gỡ bỏ ứng dụng xác thực lúc") < at("Đã tạo bộ mã khôi phục mới lúc"));
    assert!(at("Đã tạo bộ mã khôi phục mới lúc") < at("Đã thêm ứng dụng xác thực lúc"));
    assert!(vi.contains("(Giờ Việt Nam)"), "{vi}");
    let en = security_events(&app, "en", "An authenticator app was removed on").await;
    for text in [
        "A new authenticator app was added on",
        "New recovery codes were made on",
    ] {
        assert!(en.contains(text), "{text} not in {en}");
    }

    // Each change is in the audit trail, with no client.
    app.stop().await;
    let changes: Vec<(String, Option<String>, Option<String>)> = app
        .audit_of(&citizen)
        .into_iter()
        .filter(|r| {
            [
                "second_factor_enrolled",
                "recovery_codes_renewed",
                "second_factor_removed",
            ]
            .contains(&r.outcome.as_str())
        })
        .map(|r| (r.outcome, r.detail, r.client_id))
        .collect();
    assert_eq!(
        changes,
        [
            (
                "second_factor_enrolled".into(),
                Some("kind=totp".into()),
                None
            ),
            (
                "recovery_codes_renewed".into(),
                Some("count=10".into()),
                None
            ),
            (
                "second_factor_removed".into(),
                Some("kind=totp".into()),
                None
            ),
        ]
    );
}
