//! The login page: CSRF protection, no user enumeration, and the register's verdict.

use citizen_idp::domain::citizen::{AccountStatus, LifeStatus};
use reqwest::StatusCode;

use crate::helpers::{
    Fetch, PASSWORD, TestApp, hidden_field, http_client, location_of, login_form, login_form_in,
};

/// Starts an authorization request and returns the login page's HTML.
async fn login_page(app: &TestApp) -> String {
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    app.login_page_in(&app.browser, &rp.authorize_url(&[]).url)
        .await
}

#[tokio::test]
async fn the_login_page_is_vietnamese_by_default_and_english_on_request() {
    let app = TestApp::spawn().await;
    let html = login_page(&app).await;
    assert!(html.contains("lang=\"vi\"") && html.contains("Số định danh cá nhân"));
    let flow = hidden_field(&html, "flow");
    let (_, _, english) = app
        .browse(&app.url(&format!("/login?flow={flow}&lang=en")))
        .await;
    assert!(english.contains("Personal identification number"));
}

#[tokio::test]
async fn an_unknown_number_and_a_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let html = login_page(&app).await;

    let wrong_password = app
        .submit_login(&html, &citizen.number, "not-the-password")
        .await;
    let status_a = wrong_password.status();
    let body_a = wrong_password.text().await.unwrap();
    let unknown = app.submit_login(&html, "001099999999", PASSWORD).await;
    let status_b = unknown.status();
    let body_b = unknown.text().await.unwrap();
    let malformed = app.submit_login(&html, "12345", PASSWORD).await;
    let status_c = malformed.status();
    let body_c = malformed.text().await.unwrap();

    assert_eq!(status_a, StatusCode::UNAUTHORIZED);
    assert_eq!(status_a, status_b);
    assert_eq!(status_b, status_c);
    let message = "Số định danh hoặc mật khẩu không đúng.";
    for body in [&body_a, &body_b, &body_c] {
        assert!(body.contains(message));
    }
    // The pages differ only in the echoed number, never in what they reveal.
    assert_eq!(
        body_a.replace(&citizen.number, "N"),
        body_b.replace("001099999999", "N")
    );
}

#[tokio::test]
async fn a_deceased_citizen_or_a_locked_or_suspended_account_cannot_log_in() {
    let app = TestApp::spawn().await;
    for citizen in [
        app.citizen_with(LifeStatus::Deceased, AccountStatus::Active),
        app.citizen_with(LifeStatus::Living, AccountStatus::Locked),
        app.citizen_with(LifeStatus::Living, AccountStatus::Suspended),
    ] {
        let html = login_page(&app).await;
        let response = app.submit_login(&html, &citizen.number, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.headers().get("location").is_none());
    }
}

#[tokio::test]
async fn a_login_form_without_its_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let html = login_page(&app).await;
    let flow = hidden_field(&html, "flow");
    for form in [
        vec![
            ("flow", flow.as_str()),
            ("national_id", citizen.number.as_str()),
            ("password", PASSWORD),
        ],
        vec![
            ("flow", flow.as_str()),
            ("csrf_token", "forged"),
            ("national_id", citizen.number.as_str()),
            ("password", PASSWORD),
        ],
    ] {
        let response = app.post_login(&app.browser, &form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.headers().get("location").is_none());
    }
}

#[tokio::test]
async fn a_login_form_posted_from_another_browser_is_refused() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let html = login_page(&app).await;
    // An attacker's page posting a flow it started itself, from the victim's browser:
    // the victim's browser lacks the cookie that binds the flow.
    let victim = http_client(true);
    let form = login_form(&html, &citizen.number, PASSWORD);
    let response = app.post_login(&victim, &form).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_unknown_or_expired_login_flow_gets_an_html_page() {
    let app = TestApp::spawn().await;
    let (status, location, body) = app.browse(&app.url("/login?flow=nonsense")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(location.is_none());
    assert!(body.contains("<html"));
    let (status, _, _) = app.browse(&app.url("/login")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let response = app
        .browser
        .post(app.url("/login"))
        .body("%%%")
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let html = login_page(&app).await;
    let response = app.submit_login(&html, &citizen.number, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("cidp_session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http issuer: no Secure flag expected ({cookie})"
    );
}

#[tokio::test]
async fn behind_an_https_issuer_cookies_are_secure_and_hsts_is_sent() {
    let app = TestApp::spawn_with(|s| s.server.issuer = "https://id.example.gov.vn".into()).await;
    let client = app.confidential_client();
    let response = app
        .http
        .get(app.url(&authorize_path(&client)))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let hsts = response.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert!(hsts.contains("max-age="), "{hsts}");
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    // RFC 6265bis __Host-: Secure, Path=/, no Domain, so no sibling domain can plant it.
    assert!(cookie.starts_with("__Host-cidp_browser="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    let discovery: serde_json::Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(discovery["issuer"], "https://id.example.gov.vn");
}

/// A plain authorization request of `client`, built by hand: a relying party would
/// discover the issuer over https, which the test server does not serve.
fn authorize_path(client: &crate::helpers::TestClient) -> String {
    let query = serde_urlencoded::to_string([
        ("client_id", client.id.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("response_type", "code"),
        ("scope", "openid"),
    ])
    .unwrap();
    format!("/authorize?{query}")
}

/// The `name=value` of the cookie `name` among a response's Set-Cookie headers.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
}

#[tokio::test]
async fn behind_an_https_issuer_the_session_cookie_has_the_host_prefix() {
    let app = TestApp::spawn_with(|s| s.server.issuer = "https://id.example.gov.vn".into()).await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    // The browser's cookies are Secure, which a cookie jar keeps off plain http: carry
    // them by hand as a browser would over https.
    let response = app
        .http
        .get(app.url(&authorize_path(&client)))
        .fetch()
        .await;
    let browser = set_cookie(&response, "__Host-cidp_browser").expect("a browser cookie");
    let browser = browser.split(';').next().unwrap().to_owned();
    let login = app
        .http
        .get(app.url(&location_of(&response)))
        .header("cookie", &browser)
        .fetch_text()
        .await;
    let response = app
        .http
        .post(app.url("/login"))
        .header("cookie", &browser)
        .form(&login_form(&login, &citizen.number, PASSWORD))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&response, "__Host-cidp_session").expect("a __Host- session cookie");
    assert!(
        session.contains("Secure") && session.contains("Path=/"),
        "{session}"
    );
    assert!(set_cookie(&response, "cidp_session").is_none());
}

#[tokio::test]
async fn a_browser_cookie_this_server_did_not_issue_is_replaced_not_adopted() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    // A value planted by someone else (a sibling domain's script, a man in the middle
    // on http): the shape of a random token, but no MAC of ours.
    let planted = "A".repeat(43);
    let response = app
        .http
        .get(rp.authorize_url(&[]).url)
        .header("cookie", format!("cidp_browser={planted}"))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let issued = set_cookie(&response, "cidp_browser").expect("a new browser cookie");
    assert!(!issued.contains(&format!("={planted}")), "{issued}");
    // The flow is bound to the new value: the planted one cannot post its login form.
    let login = app
        .http
        .get(app.url(&location_of(&response)))
        .header("cookie", format!("cidp_browser={planted}"))
        .fetch_text()
        .await;
    let citizen = app.citizen();
    let response = app
        .http
        .post(app.url("/login"))
        .header("cookie", format!("cidp_browser={planted}"))
        .form(&login_form(&login, &citizen.number, PASSWORD))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn logins_started_in_two_tabs_both_work() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let portal = app.confidential_client();
    let other = app.confidential_client();
    let first_rp = app.relying_party(&portal).await;
    let second_rp = app.relying_party(&other).await;
    // Two services send the same browser to log in before either login is finished.
    let (_, first, _) = app.browse(&first_rp.authorize_url(&[]).url).await;
    let (_, second, _) = app.browse(&second_rp.authorize_url(&[]).url).await;
    let (_, _, first_page) = app.browse(&app.url(&first.unwrap())).await;
    let (_, _, second_page) = app.browse(&app.url(&second.unwrap())).await;

    let response = app
        .submit_login(&first_page, &citizen.number, PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(crate::helpers::location_of(&response).starts_with(&portal.redirect_uri));
    let response = app
        .submit_login(&second_page, &citizen.number, PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(crate::helpers::location_of(&response).starts_with(&other.redirect_uri));
}

/// A login storm: when every hashing slot is taken and the queue for one is full, the
/// form is answered at once with "busy, try again" (503 and Retry-After) in the page's
/// language, the number kept, instead of waiting in a queue until the request times out.
/// `max_concurrent_hashes = 0` makes every login find the queue full.
#[tokio::test]
async fn a_full_password_queue_answers_busy_at_once_in_the_page_language() {
    let app = TestApp::spawn_with(|settings| {
        settings.password.max_concurrent_hashes = Some(0);
        settings.password.max_queued_hashes = 0;
    })
    .await;
    let citizen = app.citizen();
    let html = login_page(&app).await;
    let busy = app.submit_login(&html, &citizen.number, PASSWORD).await;
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers()["retry-after"], "5");
    let body = busy.text().await.unwrap();
    assert!(body.contains("lang=\"vi\""));
    assert!(
        body.contains("Hệ thống đang có quá nhiều người đăng nhập cùng lúc."),
        "{body}"
    );
    assert!(body.contains("Vui lòng thử lại sau 5 giây."), "{body}");
    assert!(body.contains(&citizen.number), "the number is kept");
    // The page is still a login form: the citizen only has to send it again.
    assert!(!hidden_field(&body, "csrf_token").is_empty());

    let flow = hidden_field(&html, "flow");
    let (_, _, english) = app
        .browse(&app.url(&format!("/login?flow={flow}&lang=en")))
        .await;
    let form = login_form_in("en", &english, &citizen.number, "a wrong one");
    let busy = app.post_login(&app.browser, &form).await;
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = busy.text().await.unwrap();
    assert!(
        body.contains("Too many people are logging in right now."),
        "{body}"
    );
    assert!(body.contains("Please try again in 5 seconds."), "{body}");
}
