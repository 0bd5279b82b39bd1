//! `/account`: sign-in on the way in, the sessions of two browsers and ending one, the
//! access history, withdrawing consent (which revokes the service's tokens), changing
//! the password, and the CSRF protection of every form.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::Value;

use crate::consent::{after_login, answer_consent, third_party};
use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestCitizen, TestClient, assert_oauth_error, hidden_field,
    http_client, introspect, location_of, query_param, token_request,
};

/// Opens /account in `browser`, logging in on the way; returns the account page.
pub(crate) async fn sign_in(
    app: &TestApp,
    browser: &reqwest::Client,
    citizen: &TestCitizen,
    password: &str,
) -> String {
    let back = app
        .sign_in_at(browser, "/account?lang=vi", &citizen.number, password)
        .await;
    assert_eq!(back, "/account?lang=vi", "the login comes back to the page");
    account_page(app, browser).await.1
}

async fn account_page(app: &TestApp, browser: &reqwest::Client) -> (StatusCode, String) {
    open(app, browser, "/account?lang=vi").await
}

async fn open(app: &TestApp, browser: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let response = browser.get(app.url(path)).fetch().await;
    (response.status(), response.text().await.unwrap())
}

/// Where a successful form post sent the browser, opened: the page with its notice.
async fn followed(app: &TestApp, browser: &reqwest::Client, response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = location_of(&response);
    assert!(location.starts_with("/account?lang=vi&done="), "{location}");
    open(app, browser, &location).await.1
}

/// The CSRF token of the first form posting to `action`.
fn csrf_for(page: &str, action: &str) -> String {
    let at = page
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form for {action}"));
    hidden_field(&page[at..], "csrf_token")
}

/// Every session id listed, and the one marked as this browser's.
fn sids(page: &str) -> (Vec<String>, String) {
    let all = page
        .match_indices("name=\"sid\" value=\"")
        .map(|(at, _)| hidden_field(&page[at..], "sid"))
        .collect();
    let tag = page.find("class=\"tag\"").expect("this session is marked");
    (all, hidden_field(&page[tag..], "sid"))
}

async fn post(
    app: &TestApp,
    browser: &reqwest::Client,
    action: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    browser.post(app.url(action)).form(form).fetch().await
}

/// Posts the password form of `/account` at `app` (a replica, say), from `browser`.
async fn change_password(
    app: &TestApp,
    browser: &reqwest::Client,
    csrf_token: &str,
    current: &str,
    new: &str,
    lang: &str,
) -> reqwest::Response {
    post(
        app,
        browser,
        "/account/password",
        &[
            ("csrf_token", csrf_token),
            ("current_password", current),
            ("new_password", new),
            ("lang", lang),
        ],
    )
    .await
}

#[tokio::test]
async fn the_account_page_sends_a_stranger_to_log_in_and_comes_back_after() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let page = sign_in(&app, &app.browser, &citizen, PASSWORD).await;
    assert!(page.contains(&citizen.record.full_name), "{page}");
    assert!(page.contains("Các phiên đăng nhập") && page.contains("Đổi mật khẩu"));
    assert!(
        page.contains("href=\"/account/factors?lang=vi\""),
        "a link to the factors"
    );

    let response = app.browser.get(app.url("/account?lang=en")).fetch().await;
    let page = response.text().await.unwrap();
    assert!(page.contains("Where you are signed in") && page.contains("Change password"));
}

#[tokio::test]
async fn two_browsers_are_listed_and_ending_one_ends_its_single_sign_on() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let (phone, laptop) = (http_client(true), http_client(true));
    sign_in(&app, &laptop, &citizen, PASSWORD).await;
    let laptop_page = account_page(&app, &laptop).await.1;
    let (_, laptop_sid) = sids(&laptop_page);
    let phone_page = sign_in(&app, &phone, &citizen, PASSWORD).await;
    let (listed, phone_sid) = sids(&phone_page);
    assert_eq!(listed.len(), 2, "both browsers are listed");
    assert!(listed.contains(&laptop_sid) && phone_sid != laptop_sid);

    // From the phone, end the laptop's session.
    let token = csrf_for(&phone_page, "/account/sessions/end");
    let response = post(
        &app,
        &phone,
        "/account/sessions/end",
        &[("csrf_token", &token), ("sid", &laptop_sid), ("lang", "vi")],
    )
    .await;
    let page = followed(&app, &phone, response).await;
    assert!(page.contains("Đã kết thúc phiên đăng nhập."));
    assert_eq!(sids(&page).0, vec![phone_sid], "only the phone is left");

    // The laptop has no session any more: no SSO, and /account asks for a login.
    let client = app.confidential_client();
    let start = app.relying_party(&client).await.authorize_url(&[]);
    let response = laptop.get(&start.url).fetch().await;
    assert!(location_of(&response).starts_with("/login?"), "SSO failed");
    let response = laptop.get(app.url("/account")).fetch().await;
    assert_eq!(response.status(), StatusCode::FOUND);

    // A sid that is not this account's ends nothing.
    let response = post(
        &app,
        &phone,
        "/account/sessions/end",
        &[
            ("csrf_token", &token),
            ("sid", "someone-else"),
            ("lang", "vi"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(sids(&account_page(&app, &phone).await.1).0.len(), 1);
}

#[tokio::test]
async fn the_access_history_lists_a_userinfo_disclosure_in_plain_words() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let token = app.access_token(&citizen, &client, &["profile"]).await;
    assert_eq!(app.userinfo(&token).await.0, StatusCode::OK);

    // The audit writer batches: wait until the row is in.
    let mut page = String::new();
    for _ in 0..50 {
        page = account_page(&app, &app.browser).await.1;
        if page.contains("họ và tên") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let history = &page[page.find("id=\"account-history\"").unwrap()..];
    assert!(
        history.contains("Cổng dịch vụ công thử nghiệm"),
        "{history}"
    );
    assert!(
        history.contains("họ và tên") && history.contains("ngày sinh"),
        "{history}"
    );
}

struct ServiceTokens {
    refresh: String,
    access: String,
}

/// `citizen` logs in at the third-party `client` in `app.browser`, consents, and the
/// service exchanges its code: a live refresh token and access token.
async fn service_tokens(
    app: &TestApp,
    rp: &crate::helpers::RelyingParty,
    client: &TestClient,
    citizen: &TestCitizen,
) -> ServiceTokens {
    let start = rp.authorize_url(&["profile", "offline_access"]);
    let location = after_login(app, &start.url, citizen).await;
    let (_, redirect) = answer_consent(app, &location, "allow").await;
    let code = query_param(&redirect, "code").unwrap();
    let (status, tokens) = token_request(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", start.verifier.secret()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let tokens = ServiceTokens {
        refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
        access: tokens["access_token"].as_str().unwrap().to_owned(),
    };
    assert_eq!(
        introspect(app, client, &tokens.refresh).await["active"],
        Value::Bool(true)
    );
    tokens
}

/// Neither token is honoured any more: introspection says inactive, userinfo refuses.
async fn assert_revoked(app: &TestApp, client: &TestClient, refresh: &str, access: &str) {
    assert_eq!(
        introspect(app, client, refresh).await["active"],
        Value::Bool(false)
    );
    assert_eq!(
        introspect(app, client, access).await["active"],
        Value::Bool(false)
    );
    assert_eq!(app.userinfo(access).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn withdrawing_consent_revokes_the_services_refresh_and_access_tokens() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = third_party(&app);
    let rp = app.relying_party(&client).await;
    let ServiceTokens { refresh, access } = service_tokens(&app, &rp, &client, &citizen).await;

    let (_, page) = account_page(&app, &app.browser).await;
    let services = &page[page.find("id=\"account-services\"").unwrap()..];
    assert!(services.contains("Cổng thuế điện tử") && services.contains("họ và tên"));
    let token = csrf_for(&page, "/account/services/withdraw");
    let response = post(
        &app,
        &app.browser,
        "/account/services/withdraw",
        &[
            ("csrf_token", &token),
            ("client_id", &client.id),
            ("lang", "vi"),
        ],
    )
    .await;
    let page = followed(&app, &app.browser, response).await;
    assert!(page.contains("Đã rút lại sự đồng ý") && page.contains("id=\"account-no-services\""));

    let refused = token_request(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_oauth_error(&refused, StatusCode::BAD_REQUEST, "invalid_grant");
    assert_revoked(&app, &client, &refresh, &access).await;

    // The next request of the service asks again.
    let again = rp.authorize_url(&["profile"]);
    let response = app.browser.get(&again.url).fetch().await;
    assert!(location_of(&response).starts_with("/consent?"));
}

#[tokio::test]
async fn changing_the_password_checks_the_current_one_and_the_new_one_then_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let service = third_party(&app);
    let rp = app.relying_party(&service).await;
    let ServiceTokens { refresh, access } = service_tokens(&app, &rp, &service, &citizen).await;
    let other = http_client(true);
    sign_in(&app, &other, &citizen, PASSWORD).await;
    // The service's login left this browser signed in.
    let (_, page) = account_page(&app, &app.browser).await;
    let token = csrf_for(&page, "/account/password");
    let change = |current: &'static str, new: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            let response = change_password(app, &app.browser, &token, current, new, "vi").await;
            (response.status(), response.text().await.unwrap())
        }
    };

    let (status, page) = change("sai-mật-khẩu", "một câu mới dễ nhớ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("role=\"alert\"") && page.contains("Mật khẩu hiện tại không đúng."));
    assert!(
        !page.contains("một câu mới dễ nhớ"),
        "passwords are never echoed"
    );
    let (status, page) = change(PASSWORD, "ngắn").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("ít nhất 8 ký tự"));
    // The enrolment policy applies here too: a common password is refused with a
    // message of its own.
    let (status, common_page) = change(PASSWORD, "password123").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!alert_of(&common_page).is_empty());
    assert_ne!(alert_of(&common_page), alert_of(&page));

    let (status, _) = change(PASSWORD, "một câu mới dễ nhớ").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = open(&app, &app.browser, "/account?lang=vi&done=password").await;
    assert!(page.contains("Đã đổi mật khẩu."));
    assert_eq!(sids(&page).0.len(), 1, "the other browser's session ended");
    let response = other.get(app.url("/account")).fetch().await;
    assert_eq!(
        response.status(),
        StatusCode::FOUND,
        "the other browser must log in again"
    );
    // The services the old password let in must sign the citizen in again.
    assert_revoked(&app, &service, &refresh, &access).await;

    // The old password no longer works; the new one does.
    let client = app.confidential_client();
    let fresh = app
        .log_in_fresh(&client, &citizen.number, PASSWORD)
        .await
        .status();
    assert_eq!(fresh, StatusCode::UNAUTHORIZED);
    let fresh = app
        .log_in_fresh(&client, &citizen.number, "một câu mới dễ nhớ")
        .await
        .status();
    assert_eq!(fresh, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_current_password_is_throttled_like_a_login() {
    let app = TestApp::spawn_with(|s| {
        s.login_protection.delay_after_failures = 2;
        s.login_protection.first_delay_secs = 60;
    })
    .await;
    let citizen = app.citizen();
    let page = sign_in(&app, &app.browser, &citizen, PASSWORD).await;
    let token = csrf_for(&page, "/account/password");
    let change = |current: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            change_password(
                app,
                &app.browser,
                &token,
                current,
                "một câu mới dễ nhớ",
                "en",
            )
            .await
        }
    };
    assert_eq!(change("guess one").await.status(), StatusCode::BAD_REQUEST);
    let response = change("guess two").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "60");
    let page = response.text().await.unwrap();
    assert!(
        alert_of(&page).contains("Please try again in 60 seconds"),
        "{page}"
    );
    // Refused before the password is looked at: the right one waits too.
    assert_eq!(
        change(PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // The counters are a login's: the number's logins wait as well.
    let client = app.confidential_client();
    let fresh = app
        .log_in_fresh(&client, &citizen.number, PASSWORD)
        .await
        .status();
    assert_eq!(fresh, StatusCode::TOO_MANY_REQUESTS);
    // After the wait, the right password changes it.
    app.advance_clock(Duration::seconds(61));
    let response = change_password(
        &app,
        &app.browser,
        &token,
        PASSWORD,
        "một câu mới dễ nhớ",
        "en",
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_password_change_in_a_login_storm_is_asked_to_wait_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let page = sign_in(&app, &app.browser, &citizen, PASSWORD).await;
    let token = csrf_for(&page, "/account/password");
    // A replica whose password hashing is full (0 turns every hash away as busy); the
    // browser's session is good there too.
    let stormy = app
        .spawn_replica_with(|s| s.password.max_concurrent_hashes = Some(0))
        .await;
    let response = change_password(
        &stormy,
        &app.browser,
        &token,
        PASSWORD,
        "một câu mới dễ nhớ",
        "en",
    )
    .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    let page = response.text().await.unwrap();
    assert!(
        alert_of(&page).contains("Too many people are logging in right now."),
        "{page}"
    );
    assert!(
        !page.contains("một câu mới dễ nhớ"),
        "passwords are never echoed"
    );
    // Nothing changed: the old password still logs in, the new one does not.
    let client = app.confidential_client();
    let fresh = app
        .log_in_fresh(&client, &citizen.number, PASSWORD)
        .await
        .status();
    assert_eq!(fresh, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_account_form_refuses_a_missing_token_and_explains_an_expired_one() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    sign_in(&app, &app.browser, &citizen, PASSWORD).await;
    // A connected service, so that the page has a withdraw form.
    let client = third_party(&app);
    let start = app.relying_party(&client).await.authorize_url(&["profile"]);
    let location = location_of(&app.browser.get(&start.url).fetch().await);
    answer_consent(&app, &location, "allow").await;
    let (_, page) = account_page(&app, &app.browser).await;
    let (_, sid) = sids(&page);
    let forms = [
        ("/account/sessions/end", ("sid", sid.as_str())),
        (
            "/account/services/withdraw",
            ("client_id", client.id.as_str()),
        ),
        ("/account/password", ("current_password", PASSWORD)),
    ];
    for (action, field) in forms {
        let response = post(&app, &app.browser, action, &[field, ("lang", "vi")]).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{action} without a token"
        );
        let response = post(
            &app,
            &app.browser,
            action,
            &[field, ("csrf_token", "1.forged")],
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{action} with a forged token"
        );
        // Another form's token does not fit.
        let wrong = if action == "/account/password" {
            "/account/sessions/end"
        } else {
            "/account/password"
        };
        let token = csrf_for(&page, wrong);
        let response = post(&app, &app.browser, action, &[field, ("csrf_token", &token)]).await;
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{action} with {wrong}'s token"
        );
    }

    // Forms left open past their lifetime get the page again, with a clear message.
    app.advance_clock(Duration::minutes(31));
    for (action, field) in forms {
        let token = csrf_for(&page, action);
        let response = post(
            &app,
            &app.browser,
            action,
            &[
                field,
                ("csrf_token", &token),
                ("lang", "vi"),
                ("new_password", "một câu mới dễ nhớ"),
            ],
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{action} expired"
        );
        let body = response.text().await.unwrap();
        assert!(
            body.contains("Biểu mẫu đã hết hạn. Vui lòng thực hiện lại."),
            "{action}"
        );
        assert!(body.contains("role=\"alert\""));
    }
    // Nothing happened: the session is still there and the password unchanged.
    let (_, page) = account_page(&app, &app.browser).await;
    assert_eq!(sids(&page).0, vec![sid]);
    assert!(
        page.contains("Cổng thuế điện tử"),
        "the consent is still there"
    );
    let client = app.confidential_client();
    assert_eq!(
        app.log_in_fresh(&client, &citizen.number, PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

/// The text of a page's alert.
fn alert_of(page: &str) -> String {
    let start = page.find("role=\"alert\"").expect("an alert");
    let rest = &page[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest.find("</").unwrap();
    rest[open..close].to_owned()
}
