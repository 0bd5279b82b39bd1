//! Login protection over HTTP: progressive delays then a lockout per submitted number,
//! refusals before the password is looked at, a per-IP limit, the account locked at
//! the cap, the same answer for unknown numbers, and counts shared through Redis.

use std::time::Instant;

use citizen_idp::domain::citizen::AccountStatus;
use citizen_idp::storage::{accounts, audit_events};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestCitizen, TestClient, assert_succeeded, login_form, login_form_in,
};

struct Attempt {
    status: StatusCode,
    retry_after: Option<String>,
    body: String,
}

impl Attempt {
    /// What the citizen is told: the page's alert.
    fn alert(&self) -> &str {
        let start = self.body.find("role=\"alert\"").expect("an alert");
        let end = self.body[start..].find("</p>").unwrap() + start;
        &self.body[start..end]
    }
}

/// Starts a fresh login at `client` in a fresh browser (so no session answers for the
/// citizen, and flows never outlive the advancing clock) and submits it.
async fn attempt(app: &TestApp, client: &TestClient, number: &str, password: &str) -> Attempt {
    let rp = app.relying_party(client).await;
    let start = rp.authorize_url(&["profile"]);
    let browser = crate::helpers::http_client(true);
    let response = app
        .submit_login_from(&browser, &start.url, number, password)
        .await;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    Attempt {
        status,
        retry_after,
        body: response.text().await.unwrap(),
    }
}

fn advance(app: &TestApp, secs: i64) {
    app.advance_clock(chrono::Duration::seconds(secs));
}

#[tokio::test]
async fn failures_earn_doubling_delays_then_a_lockout_that_refuses_even_the_right_password() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();

    for _ in 0..4 {
        let a = attempt(&app, &client, &citizen.number, "sai mật khẩu rồi").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert!(a.retry_after.is_none());
    }
    // The fifth failure starts a 30 s wait, said in words and in Retry-After.
    let a = attempt(&app, &client, &citizen.number, "sai mật khẩu rồi").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.retry_after.as_deref(), Some("30"));
    assert!(
        a.alert().contains("Vui lòng thử lại sau 30 giây."),
        "{}",
        a.alert()
    );
    // During the wait the right password is refused too, without being checked.
    let a = attempt(&app, &client, &citizen.number, PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.retry_after.as_deref(), Some("30"));

    // Each further failure doubles the wait: 60, 120, 240, 480 s, then 15 min.
    for expected in ["60", "120", "240", "480", "900", "900"] {
        advance(&app, 31 * 60);
        let a = attempt(&app, &client, &citizen.number, "sai mật khẩu rồi").await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(a.retry_after.as_deref(), Some(expected));
    }
    // Locked out: the right password is refused for the 15 minutes, in English too.
    advance(&app, 899);
    let a = attempt(&app, &client, &citizen.number, PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.retry_after.as_deref(), Some("1"));
    // After the lockout the right password works, and the count starts again.
    advance(&app, 1);
    let a = attempt(&app, &client, &citizen.number, PASSWORD).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let a = attempt(&app, &client, &citizen.number, "sai mật khẩu rồi").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_too_many_attempts_page_is_in_english_when_asked() {
    let app = TestApp::spawn_with(|s| {
        s.login_protection.delay_after_failures = 1;
        s.login_protection.lockout_after_failures = 2;
    })
    .await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&["profile"]);
    let (_, location, _) = app.browse(&format!("{}&ui_locales=en", start.url)).await;
    let (_, _, html) = app.browse(&app.url(&location.unwrap())).await;
    let form = login_form_in("en", &html, &citizen.number, "wrong password");
    let response = app.post_login(&app.browser, &form).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("Too many failed attempts: logging in is paused for a while to protect the account. Please try again in 30 seconds."),
        "{body}"
    );
    assert!(body.contains(&format!("value=\"{}\"", citizen.number)));
}

#[tokio::test]
async fn an_unknown_number_gets_the_same_answer_in_about_the_same_time_as_a_wrong_password() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let unknown = TestCitizen::generate().national_id.expose().to_owned();
    let client = app.confidential_client();

    let mut known_times = Vec::new();
    let mut unknown_times = Vec::new();
    for round in 1..=6 {
        let started = Instant::now();
        let known = attempt(&app, &client, &citizen.number, "sai mật khẩu rồi").await;
        known_times.push(started.elapsed());
        let started = Instant::now();
        let other = attempt(&app, &client, &unknown, "sai mật khẩu rồi").await;
        unknown_times.push(started.elapsed());
        // Same status, same words, same Retry-After: 401 four times, then 429 for 30 s.
        assert_eq!(known.status, other.status, "round {round}");
        assert_eq!(known.retry_after, other.retry_after, "round {round}");
        assert_eq!(known.alert(), other.alert(), "round {round}");
        let expected = if round < 5 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(known.status, expected, "round {round}");
    }
    // The four checked attempts each hash: an unknown number is not answered faster.
    known_times.truncate(4);
    unknown_times.truncate(4);
    known_times.sort();
    unknown_times.sort();
    let (known, unknown) = (known_times[1], unknown_times[1]);
    eprintln!("median-ish login time: wrong password {known:?}, unknown number {unknown:?}");
    assert!(
        unknown * 3 > known,
        "unknown number {unknown:?} answered much faster than a wrong password {known:?}"
    );
}

#[tokio::test]
async fn one_address_trying_many_numbers_is_made_to_wait() {
    let app = TestApp::spawn_with(|s| s.login_protection.ip_failures_per_hour = 3).await;
    let client = app.confidential_client();
    let citizen = app.citizen();
    for _ in 0..2 {
        let number = TestCitizen::generate().national_id.expose().to_owned();
        let a = attempt(&app, &client, &number, "đoán bừa thôi").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let number = TestCitizen::generate().national_id.expose().to_owned();
    let a = attempt(&app, &client, &number, "đoán bừa thôi").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.retry_after.as_deref(), Some("3600"));
    // A citizen never tried before, from the same address, waits too.
    let a = attempt(&app, &client, &citizen.number, PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    advance(&app, 3600);
    let a = attempt(&app, &client, &citizen.number, PASSWORD).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn at_the_cap_the_account_is_locked_audited_and_stays_locked_until_an_officer_unlocks_it() {
    let app = TestApp::spawn_with(|s| {
        let p = &mut s.login_protection;
        p.delay_after_failures = 2;
        p.first_delay_secs = 1;
        p.lockout_after_failures = 3;
        p.lockout_secs = 1;
        p.lock_account_after_failures = 3;
    })
    .await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    for _ in 0..3 {
        advance(&app, 2);
        attempt(&app, &client, &citizen.number, "sai mật khẩu rồi").await;
    }
    let id = citizen.record.national_id.clone();
    let account = app
        .db
        .run_blocking(move |conn| accounts::find_by_national_id(conn, &id))
        .unwrap()
        .unwrap();
    assert_eq!(account.status, AccountStatus::Locked);

    // The right password after the wait: refused as a locked account.
    advance(&app, 2);
    let a = attempt(&app, &client, &citizen.number, PASSWORD).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);

    let mut locked_rows = 0;
    for _ in 0..100 {
        let number = citizen.number.clone();
        let rows = app
            .db
            .run_blocking(move |conn| audit_events::for_citizen(conn, &number))
            .unwrap();
        locked_rows = rows
            .iter()
            .filter(|r| r.outcome == "account_locked")
            .count();
        if locked_rows > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(locked_rows, 1);

    // An officer unlocks it with the command line; the citizen logs in.
    let output = app
        .cli(&["accounts", "unlock", &citizen.number], None)
        .await;
    assert_succeeded(&output);
    let a = attempt(&app, &client, &citizen.number, PASSWORD).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
}

#[tokio::test]
async fn the_failure_count_holds_across_two_instances_sharing_redis() {
    let first = TestApp::spawn().await;
    if first.redis_prefix.is_none() {
        eprintln!("skipped: several instances need the shared Redis store");
        return;
    }
    let second = first.spawn_replica().await;
    let citizen = first.citizen();
    let client = first.confidential_client();
    for app in [&first, &second, &first, &second] {
        let a = attempt(app, &client, &citizen.number, "sai mật khẩu rồi").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    // The fifth failure, on the second instance, makes the first refuse the right password.
    let a = attempt(&second, &client, &citizen.number, "sai mật khẩu rồi").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    let a = attempt(&first, &client, &citizen.number, PASSWORD).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.retry_after.as_deref(), Some("30"));
}

/// A login page opened in a fresh browser: the browser and the page.
async fn open_login(app: &TestApp, client: &TestClient) -> (reqwest::Client, String) {
    let browser = crate::helpers::http_client(true);
    let rp = app.relying_party(client).await;
    let start = rp.authorize_url(&["profile"]);
    let page = app.login_page_in(&browser, &start.url).await;
    (browser, page)
}

#[tokio::test]
async fn wrong_passwords_sent_in_parallel_are_checked_only_up_to_the_budget() {
    let mut app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    // Twenty login forms, each in its own browser, all submitted at once.
    let mut opened = Vec::new();
    for _ in 0..20 {
        opened.push(open_login(&app, &client).await);
    }
    let mut sent = tokio::task::JoinSet::new();
    for (browser, page) in opened {
        let form = login_form(&page, &citizen.number, "sai mật khẩu rồi");
        let request = browser.post(app.url("/login")).form(&form);
        sent.spawn(async move { request.fetch().await.status() });
    }
    let statuses = sent.join_all().await;
    let unauthorized = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // Five checked (four 401s, the fifth starting the wait), the rest refused unchecked.
    assert_eq!((unauthorized, refused), (4, 16), "{statuses:?}");
    // They counted as five failures, not twenty: after the first wait (30 s, not the
    // 15-minute lockout twenty would earn) the right password works.
    advance(&app, 30);
    let a = attempt(&app, &client, &citizen.number, PASSWORD).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);

    app.stop().await;
    let checked = app
        .audit_of(&citizen)
        .into_iter()
        .filter(|r| r.outcome == "invalid_credentials")
        .count();
    assert_eq!(checked, 5, "only the budget was checked: {statuses:?}");
}

#[tokio::test]
async fn ipv6_clients_behind_a_trusted_proxy_are_counted_per_64() {
    let app = TestApp::spawn_with(|s| {
        s.login_protection.ip_failures_per_hour = 3;
        s.limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let client = app.confidential_client();
    let from = |address: &'static str| {
        let app = &app;
        let client = &client;
        async move {
            let (browser, page) = open_login(app, client).await;
            let number = TestCitizen::generate().national_id.expose().to_owned();
            browser
                .post(app.url("/login"))
                .header("x-forwarded-for", address)
                .form(&login_form(&page, &number, "đoán bừa thôi"))
                .fetch()
                .await
        }
    };
    // Three addresses of one /64, each guessing another number: one client.
    assert_eq!(
        from("2001:db8:7:1::a").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        from("2001:db8:7:1:ffff::b").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let third = from("2001:db8:7:1::c").await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        third.headers().get(RETRY_AFTER).unwrap().to_str().unwrap(),
        "3600"
    );
    // Any address of that /64 now waits; the next /64 does not.
    assert_eq!(
        from("2001:db8:7:1::d").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        from("2001:db8:7:2::a").await.status(),
        StatusCode::UNAUTHORIZED
    );
}
