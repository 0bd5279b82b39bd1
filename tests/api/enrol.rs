//! Enrolment at /enrol over HTTP: matching against the register, one answer for every
//! refusal (no enumeration), the password policy, the form keeping what was typed,
//! CSRF, and the per-IP rate limit.

use std::time::Duration;

use citizen_idp::domain::citizen::{Citizen, LifeStatus};
use citizen_idp::storage::{accounts, audit_events, citizens};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;

use crate::helpers::{Fetch, TestApp, TestCitizen, hidden_field, location_of, query_param};

pub const NEW_PASSWORD: &str = "hoa sen nở giữa hồ";

/// A living adult in the register with no account yet.
pub fn unenrolled(app: &TestApp) -> Citizen {
    let citizen = TestCitizen::generate();
    let stored = citizen.clone();
    app.db
        .run_blocking(move |conn| citizens::insert_batch(conn, &[stored]))
        .unwrap();
    citizen
}

/// The form as a citizen fills it in from their ID card.
pub fn details(citizen: &Citizen) -> Vec<(&'static str, String)> {
    vec![
        ("national_id", citizen.national_id.expose().to_owned()),
        ("full_name", citizen.full_name.clone()),
        (
            "birth_date",
            citizen.birth_date.format("%Y-%m-%d").to_string(),
        ),
        ("id_card_number", citizen.id_card_number.clone()),
        ("contact", "0912 345 678".to_owned()),
        ("password", NEW_PASSWORD.to_owned()),
        ("password_confirm", NEW_PASSWORD.to_owned()),
    ]
}

pub fn with(
    mut fields: Vec<(&'static str, String)>,
    name: &str,
    value: &str,
) -> Vec<(&'static str, String)> {
    for field in &mut fields {
        if field.0 == name {
            field.1 = value.to_owned();
        }
    }
    fields
}

/// GETs the form (`query` e.g. "?lang=en") in the app's browser; its HTML.
pub async fn form_page(app: &TestApp, query: &str) -> String {
    let (status, _, html) = app.browse(&app.url(&format!("/enrol{query}"))).await;
    assert_eq!(status, StatusCode::OK);
    html
}

/// Submits `fields` with the hidden fields of `form_html`.
pub async fn submit(
    app: &TestApp,
    form_html: &str,
    fields: &[(&'static str, String)],
) -> (StatusCode, Option<String>, String) {
    let mut form: Vec<(&str, String)> = ["flow", "csrf_token", "lang"]
        .into_iter()
        .map(|name| (name, hidden_field(form_html, name)))
        .collect();
    form.extend(fields.iter().cloned());
    let response = app
        .browser
        .post(app.url("/enrol"))
        .form(&form)
        .fetch()
        .await;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location, response.text().await.unwrap())
}

async fn enrol(app: &TestApp, fields: &[(&'static str, String)]) -> (StatusCode, String) {
    let html = form_page(app, "").await;
    let (status, _, body) = submit(app, &html, fields).await;
    (status, body)
}

/// The alert of a page: what the citizen is told.
fn alert(html: &str) -> String {
    let start = html.find("role=\"alert\"").expect("an alert");
    let end = html[start..]
        .find("</div>")
        .map_or(html.len(), |e| start + e);
    html[start..end].to_owned()
}

async fn log_in_works(app: &TestApp, number: &str, password: &str) -> bool {
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&["profile"]);
    let response = app
        .submit_login_from(&app.browser, &start.url, number, password)
        .await;
    response.status() == StatusCode::SEE_OTHER
        && query_param(&location_of(&response), "code").is_some()
}

#[tokio::test]
async fn a_citizen_whose_details_match_the_register_enrols_and_then_logs_in() {
    let app = TestApp::spawn().await;
    let citizen = unenrolled(&app);
    let (status, body) = enrol(&app, &details(&citizen)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Đăng ký thành công"), "{body}");
    assert!(body.contains("href=\"/account?lang=vi\""));
    assert!(
        body.contains("href=\"/account/contacts?lang=vi\""),
        "the contact given is proven next"
    );

    let number = citizen.national_id.expose().to_owned();
    let id = citizen.national_id.clone();
    let account = app
        .db
        .run_blocking(move |conn| accounts::find_by_national_id(conn, &id))
        .unwrap()
        .expect("an account");
    assert_eq!(account.assurance_level.number(), 1);
    assert_eq!(account.status.as_str(), "active");
    let account_id = account.id.clone();
    let contact = app
        .db
        .run_blocking(move |conn| accounts::contact(conn, &account_id))
        .unwrap();
    assert_eq!(
        contact,
        Some(accounts::AccountContact {
            phone: Some("0912345678".to_owned()),
            email: None
        })
    );
    assert!(log_in_works(&app, &number, NEW_PASSWORD).await);

    // The enrolment is audited, without the details typed.
    let mut rows = Vec::new();
    for _ in 0..100 {
        let number = number.clone();
        rows = app
            .db
            .run_blocking(move |conn| audit_events::for_citizen(conn, &number))
            .unwrap();
        if rows.iter().any(|r| r.kind == "enrolment") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let row = rows
        .iter()
        .find(|r| r.kind == "enrolment")
        .expect("audited");
    assert_eq!(row.outcome, "enrolled");
    assert!(row.detail.is_none());
}

#[tokio::test]
async fn enrolment_from_a_login_page_returns_there_with_a_notice_and_the_login_completes() {
    let app = TestApp::spawn().await;
    let citizen = unenrolled(&app);
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&["profile"]);
    let (_, location, _) = app.browse(&start.url).await;
    let login_path = location.unwrap();
    let flow = query_param(&app.url(&login_path), "flow").unwrap();
    let (_, _, login_html) = app.browse(&app.url(&login_path)).await;
    assert!(login_html.contains(&format!("href=\"/enrol?flow={flow}&amp;lang=vi\"")));

    let html = form_page(&app, &format!("?flow={flow}")).await;
    let (status, location, _) = submit(&app, &html, &details(&citizen)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let back = location.unwrap();
    assert_eq!(back, format!("/login?flow={flow}&lang=vi&enrolled=1"));
    let (status, _, login_html) = app.browse(&app.url(&back)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(login_html.contains("Đăng ký thành công. Vui lòng đăng nhập"));
    let response = app
        .submit_login(&login_html, citizen.national_id.expose(), NEW_PASSWORD)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let redirect = location_of(&response);
    assert!(redirect.starts_with(&client.redirect_uri), "{redirect}");
    assert!(query_param(&redirect, "code").is_some());
}

#[tokio::test]
async fn names_match_whatever_their_case_unicode_composition_or_spacing() {
    let app = TestApp::spawn().await;
    let variants: [fn(&str) -> String; 3] = [
        |name| name.to_uppercase(),
        |name| unicode_decomposed(name),
        |name| format!("  {}  ", name.replace(' ', "   ")),
    ];
    for variant in variants {
        // A name with at least one letter that has a decomposed form.
        let citizen = loop {
            let candidate = TestCitizen::generate();
            if variant(&candidate.full_name) != candidate.full_name {
                let stored = candidate.clone();
                app.db
                    .run_blocking(move |conn| citizens::insert_batch(conn, &[stored]))
                    .unwrap();
                break candidate;
            }
        };
        let typed = variant(&citizen.full_name);
        let (status, body) = enrol(&app, &with(details(&citizen), "full_name", &typed)).await;
        assert_eq!(status, StatusCode::OK, "{typed:?}: {body}");
    }
}

/// NFD, written by hand so the test does not share the server's normaliser: Vietnamese
/// letters as base letter + combining marks.
fn unicode_decomposed(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        match c {
            'ễ' => out.push_str("e\u{302}\u{303}"),
            'ị' => out.push_str("i\u{323}"),
            'ồ' => out.push_str("o\u{302}\u{300}"),
            'ư' => out.push_str("u\u{31b}"),
            'ờ' => out.push_str("o\u{31b}\u{300}"),
            'ạ' => out.push_str("a\u{323}"),
            'ă' => out.push_str("a\u{306}"),
            'ê' => out.push_str("e\u{302}"),
            'ô' => out.push_str("o\u{302}"),
            'á' => out.push_str("a\u{301}"),
            'à' => out.push_str("a\u{300}"),
            'ế' => out.push_str("e\u{302}\u{301}"),
            'ú' => out.push_str("u\u{301}"),
            'ó' => out.push_str("o\u{301}"),
            'í' => out.push_str("i\u{301}"),
            'ấ' => out.push_str("a\u{302}\u{301}"),
            'ầ' => out.push_str("a\u{302}\u{300}"),
            'ậ' => out.push_str("a\u{302}\u{323}"),
            'ứ' => out.push_str("u\u{31b}\u{301}"),
            'ữ' => out.push_str("u\u{31b}\u{303}"),
            'ơ' => out.push_str("o\u{31b}"),
            'ộ' => out.push_str("o\u{302}\u{323}"),
            'ổ' => out.push_str("o\u{302}\u{309}"),
            'ả' => out.push_str("a\u{309}"),
            'ã' => out.push_str("a\u{303}"),
            'ệ' => out.push_str("e\u{302}\u{323}"),
            'ỳ' => out.push_str("y\u{300}"),
            'ý' => out.push_str("y\u{301}"),
            'Đ' | 'đ' => out.push(c), // no decomposition
            other => out.push(other),
        }
    }
    out
}

/// The answer with everything the citizen typed taken out: what remains must be the
/// same for every refusal.
fn without(body: &str, fields: &[(&'static str, String)]) -> String {
    let mut body = body.to_owned();
    for (name, value) in fields {
        if !value.is_empty() && !name.starts_with("password") {
            body = body.replace(&format!("value=\"{value}\""), "value=\"\"");
        }
    }
    body
}

#[tokio::test]
async fn a_mismatch_of_any_field_an_existing_account_and_a_deceased_citizen_get_one_answer() {
    let app = TestApp::spawn().await;
    let citizen = unenrolled(&app);
    let other = unenrolled(&app);
    let mut deceased = TestCitizen::generate();
    deceased.life_status = LifeStatus::Deceased;
    let stored = deceased.clone();
    app.db
        .run_blocking(move |conn| citizens::insert_batch(conn, &[stored]))
        .unwrap();
    let enrolled = app.citizen();
    let next_day = citizen
        .birth_date
        .succ_opt()
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();

    let cases: Vec<(&str, Vec<(&'static str, String)>)> = vec![
        (
            "another name",
            with(details(&citizen), "full_name", "Trần Văn Khác"),
        ),
        (
            "another date of birth",
            with(details(&citizen), "birth_date", &next_day),
        ),
        (
            "another ID card",
            with(details(&citizen), "id_card_number", "079099999999"),
        ),
        (
            "another citizen's number",
            with(details(&citizen), "national_id", other.national_id.expose()),
        ),
        (
            "a number not in the register",
            with(details(&citizen), "national_id", &unregistered_number()),
        ),
        ("a deceased citizen", details(&deceased)),
        ("a citizen who has an account", details(&enrolled.record)),
    ];
    let mut answers = Vec::new();
    for (case, fields) in &cases {
        let (status, body) = enrol(&app, fields).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
        assert!(
            body.contains("chưa khớp với Cơ sở dữ liệu quốc gia về dân cư"),
            "{case}: {body}"
        );
        answers.push((case, without(&body, fields)));
    }
    for (case, answer) in &answers[1..] {
        assert_eq!(
            answer, &answers[0].1,
            "{case} differs from {}",
            answers[0].0
        );
    }
    // None of them created an account, and the enrolled citizen's is untouched.
    for fields in [details(&citizen), details(&deceased)] {
        let number = fields[0].1.clone();
        let found = app
            .db
            .run_blocking(move |conn| {
                accounts::find_by_national_id(
                    conn,
                    &citizen_idp::domain::national_id::NationalId::parse(&number).unwrap(),
                )
            })
            .unwrap();
        assert!(found.is_none());
    }
    assert!(log_in_works(&app, &enrolled.number, crate::helpers::PASSWORD).await);
}

/// A well-formed number that nobody in this test's register has.
fn unregistered_number() -> String {
    TestCitizen::generate().national_id.expose().to_owned()
}

#[tokio::test]
async fn each_refused_password_gets_its_own_message_and_the_form_keeps_the_other_fields() {
    let app = TestApp::spawn().await;
    let citizen = unenrolled(&app);
    let number = citizen.national_id.expose().to_owned();
    let dob = citizen.birth_date.format("%d%m%Y").to_string();
    let long = "dài ".repeat(70);
    let cases: [(&str, &str, &str); 6] = [
        ("short", "ngắn7ký", "Mật khẩu phải có ít nhất 8 ký tự."),
        ("common", "Password123", "Mật khẩu này quá phổ biến"),
        (
            "number",
            &number,
            "không được là số định danh hoặc ngày sinh",
        ),
        (
            "birth date",
            &dob,
            "không được là số định danh hoặc ngày sinh",
        ),
        ("too long", &long, "Mật khẩu quá dài"),
        ("confirmation", "", "Hai mật khẩu không giống nhau."),
    ];
    for (case, password, message) in cases {
        let fields = if case == "confirmation" {
            with(
                details(&citizen),
                "password_confirm",
                "một mật khẩu khác hẳn",
            )
        } else {
            with(
                with(details(&citizen), "password", password),
                "password_confirm",
                password,
            )
        };
        let (status, body) = enrol(&app, &fields).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}");
        assert!(body.contains(message), "{case}: {}", alert(&body));
        assert!(body.contains("aria-invalid=\"true\""), "{case}");
        // Every other field is kept; no password is ever echoed.
        assert!(body.contains(&format!("value=\"{number}\"")), "{case}");
        assert!(
            body.contains(&format!("value=\"{}\"", citizen.full_name)),
            "{case}"
        );
        assert!(body.contains("value=\"0912 345 678\""), "{case}");
        if !password.is_empty() && case != "number" {
            assert!(!body.contains(password), "{case}: the password came back");
        }
    }
    // The English page says the same in English.
    let html = form_page(&app, "?lang=en").await;
    let fields = with(
        with(details(&citizen), "password", "qwertyuiop"),
        "password_confirm",
        "qwertyuiop",
    );
    let (status, _, body) = submit(&app, &html, &fields).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("This password is too common and easy to guess."));
    // Nothing was created by any refused form.
    let id = citizen.national_id.clone();
    assert!(
        app.db
            .run_blocking(move |conn| accounts::find_by_national_id(conn, &id))
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn malformed_fields_are_named_and_kept_and_oversized_ones_are_not_echoed() {
    let app = TestApp::spawn().await;
    let citizen = unenrolled(&app);
    let huge = "x".repeat(5000);
    let fields = with(
        with(
            with(details(&citizen), "national_id", "0123"),
            "contact",
            "not a phone",
        ),
        "birth_date",
        "31/02/1990",
    );
    let fields = with(fields, "full_name", &huge);
    let (status, body) = enrol(&app, &fields).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for message in [
        "Số định danh cá nhân phải gồm đúng 12 chữ số.",
        "Vui lòng nhập số điện thoại (9–15 chữ số) hoặc địa chỉ email hợp lệ.",
        "Vui lòng nhập ngày sinh hợp lệ.",
        "Vui lòng nhập họ và tên.",
    ] {
        assert!(body.contains(message), "{message}: {}", alert(&body));
    }
    assert!(body.contains("value=\"0123\""));
    assert!(body.contains("value=\"not a phone\""));
    assert!(body.contains("value=\"31/02/1990\""));
    assert!(!body.contains(&huge));

    // A body far over the server's limit gets a page, not a crash.
    let response = app
        .browser
        .post(app.url("/enrol"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("full_name={}", "y".repeat(100_000)))
        .fetch()
        .await;
    assert!(response.status().is_client_error(), "{}", response.status());
}

#[tokio::test]
async fn a_missing_foreign_or_expired_csrf_token_is_refused_and_an_expired_form_can_be_sent_again()
{
    let app = TestApp::spawn().await;
    let citizen = unenrolled(&app);
    let fields = details(&citizen);

    // No token at all.
    let html = form_page(&app, "").await;
    let response = app
        .browser
        .post(app.url("/enrol"))
        .form(&fields)
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // Another browser's token.
    let stranger = crate::helpers::http_client(true);
    let stranger_html = stranger.get(app.url("/enrol")).fetch_text().await;
    let (status, _, _) = submit(&app, &stranger_html, &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A form left open past its lifetime.
    app.advance_clock(chrono::Duration::minutes(31));
    let (status, _, body) = submit(&app, &html, &fields).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Biểu mẫu đã hết hạn."), "{body}");
    assert!(body.contains(&format!("value=\"{}\"", citizen.full_name)));
    let none = citizen.national_id.clone();
    assert!(
        app.db
            .run_blocking(move |conn| accounts::find_by_national_id(conn, &none))
            .unwrap()
            .is_none()
    );
    // The page it answers with carries a fresh token that works.
    let (status, _, body) = submit(&app, &body, &fields).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn enrolment_attempts_from_one_address_are_limited_with_429_and_retry_after() {
    let app = TestApp::spawn_with(|s| s.login_protection.enrol_attempts_per_hour = 3).await;
    let citizen = unenrolled(&app);
    let wrong = with(details(&citizen), "full_name", "Không Phải Tên");
    for _ in 0..3 {
        let (status, _) = enrol(&app, &wrong).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    // The fourth is refused before the register is asked, even with the right details.
    let html = form_page(&app, "?lang=en").await;
    let response = app
        .browser
        .post(app.url("/enrol"))
        .form(
            &["csrf_token", "lang"]
                .into_iter()
                .map(|n| (n, hidden_field(&html, n)))
                .chain(details(&citizen))
                .collect::<Vec<_>>(),
        )
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[RETRY_AFTER], "3600");
    let body = response.text().await.unwrap();
    assert!(
        body.contains(
            "Too many enrolment attempts from this address. Please try again in 60 minutes."
        ),
        "{body}"
    );
    assert!(body.contains(&format!("value=\"{}\"", citizen.full_name)));
    let id = citizen.national_id.clone();
    assert!(
        app.db
            .run_blocking(move |conn| accounts::find_by_national_id(conn, &id))
            .unwrap()
            .is_none()
    );
}

/// One host holds a whole IPv6 /64: rotating addresses inside it does not buy more
/// enrolment attempts (each address had a budget of its own), while another network
/// keeps its own.
#[tokio::test]
async fn enrolment_attempts_from_one_ipv6_network_share_one_budget() {
    let app = TestApp::spawn_with(|s| {
        s.login_protection.enrol_attempts_per_hour = 2;
        s.limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let citizen = unenrolled(&app);
    let wrong = with(details(&citizen), "full_name", "Không Phải Tên");
    let attempt = |from: &'static str| {
        let (app, wrong) = (&app, wrong.clone());
        async move {
            let html = form_page(app, "").await;
            let mut form: Vec<(&str, String)> = ["csrf_token", "lang"]
                .into_iter()
                .map(|name| (name, hidden_field(&html, name)))
                .collect();
            form.extend(wrong);
            app.browser
                .post(app.url("/enrol"))
                .header("x-forwarded-for", from)
                .form(&form)
                .fetch()
                .await
                .status()
        }
    };
    assert_eq!(attempt("2001:db8:9:9::1").await, StatusCode::BAD_REQUEST);
    assert_eq!(attempt("2001:db8:9:9::2").await, StatusCode::BAD_REQUEST);
    assert_eq!(
        attempt("2001:db8:9:9:aaaa::3").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(attempt("2001:db8:9:a::1").await, StatusCode::BAD_REQUEST);
}
