//! Messages to citizens and proven contacts: a phone number proven with a code sent
//! through a real HTTP SMS gateway, an e-mail address proven with a code sent through
//! a real SMTP relay (aiosmtpd on loopback, STARTTLS with a certificate from its own
//! authority, AUTH), the notification outbox across a gateway that is down, and the
//! rules of a code: wrong, replayed, raced, guessed in parallel, expired, from another
//! account, without its CSRF token. Security notices go to proven contacts only.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::Duration;
use citizen_idp::config::{SecretSetting, SmtpSecurity};
use citizen_idp::storage::notifications::{self, MessageState};
use reqwest::StatusCode;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use tokio::sync::mpsc;

use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestCitizen, free_port, hidden_field, http_client, location_of,
};

const GATEWAY_TOKEN: &str = "gateway-token-for-the-tests";

/// An SMS gateway: records each message (its JSON and its Authorization header),
/// answering `failure` to the first `failures` requests and 202 after.
pub(crate) struct Gateway {
    pub(crate) url: String,
    messages: mpsc::UnboundedReceiver<(Option<String>, Value)>,
    _server: actix_web::dev::ServerHandle,
}

pub(crate) async fn gateway(failures: usize, failure: u16) -> Gateway {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    let (sender, messages) = mpsc::unbounded_channel();
    let remaining = Arc::new(Mutex::new(failures));
    let failure = actix_web::http::StatusCode::from_u16(failure).unwrap();
    let server = HttpServer::new(move || {
        let sender = sender.clone();
        let remaining = remaining.clone();
        App::new().route(
            "/sms",
            web::post().to(move |req: HttpRequest, body: web::Json<Value>| {
                let sender = sender.clone();
                let remaining = remaining.clone();
                async move {
                    {
                        let mut left = remaining.lock().unwrap();
                        if *left > 0 {
                            *left -= 1;
                            return HttpResponse::build(failure).finish();
                        }
                    }
                    let auth = req
                        .headers()
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_owned());
                    sender.send((auth, body.into_inner())).unwrap();
                    HttpResponse::Accepted().finish()
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Gateway {
        url: format!("http://127.0.0.1:{port}/sms"),
        messages,
        _server: handle,
    }
}

/// The next SMS the gateway took, within ten seconds: its Authorization header and
/// its JSON.
pub(crate) async fn next_sms(gateway: &mut Gateway) -> (Option<String>, Value) {
    tokio::time::timeout(StdDuration::from_secs(10), gateway.messages.recv())
        .await
        .expect("an SMS")
        .unwrap()
}

pub(crate) async fn no_more_sms(gateway: &mut Gateway) {
    let more = tokio::time::timeout(StdDuration::from_millis(500), gateway.messages.recv()).await;
    assert!(more.is_err(), "an unexpected SMS: {more:?}");
}

/// A real SMTP relay: aiosmtpd (tests/api/support/smtp_sink.py) in a child process.
pub(crate) struct Relay {
    port: u16,
    ca_file: String,
    messages: mpsc::UnboundedReceiver<Value>,
    _dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The relay, or `None` where Python's aiosmtpd is missing on a developer's machine
/// (CI installs it from tests/requirements.txt, and there its absence fails).
async fn relay(mode: &str) -> Option<Relay> {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have aiosmtpd (tests/requirements.txt)"
        );
        eprintln!("note: skipping an SMTP test: python3 -m pip install -r tests/requirements.txt");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/support/smtp_sink.py"
    );
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .arg(mode)
        .arg(port.to_string())
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Its output is read on a thread of its own: the first line says it listens, each
    // further one is a message it accepted.
    let stdout = child.stdout.take().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (sender, messages) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(first)) = lines.next() {
            let _ = ready_tx.send(first);
        }
        for line in lines.map_while(Result::ok) {
            if sender.send(serde_json::from_str(&line).unwrap()).is_err() {
                break;
            }
        }
    });
    let ready = ready_rx
        .recv_timeout(StdDuration::from_secs(20))
        .expect("the relay says it is ready");
    let ca_file = ready.strip_prefix("ready ").expect("ready CA").to_owned();
    Some(Relay {
        port,
        ca_file,
        messages,
        _dir: dir,
        child,
    })
}

async fn next_mail(relay: &mut Relay) -> Value {
    tokio::time::timeout(StdDuration::from_secs(10), relay.messages.recv())
        .await
        .expect("an e-mail")
        .unwrap()
}

/// An app that sends SMS through `gateway` and, with a relay, e-mail through it.
pub(crate) async fn app_with(gateway: &Gateway, relay: Option<&Relay>) -> TestApp {
    app_configured(gateway, relay, |_| {}).await
}

pub(crate) async fn app_configured(
    gateway: &Gateway,
    relay: Option<&Relay>,
    configure: impl FnOnce(&mut citizen_idp::config::Settings),
) -> TestApp {
    let sms_url = gateway.url.clone();
    let smtp = relay.map(|r| (r.port, r.ca_file.clone()));
    TestApp::spawn_with(move |settings| {
        let notify = &mut settings.notify;
        notify.outbox_poll_ms = 50;
        notify.retry_base_ms = 1000;
        notify.sms.url = sms_url;
        notify.sms.token = SecretSetting::new(GATEWAY_TOKEN.into());
        if let Some((port, ca_file)) = smtp {
            notify.smtp.host = "127.0.0.1".into();
            notify.smtp.port = port;
            notify.smtp.security = SmtpSecurity::Starttls;
            notify.smtp.ca_file = ca_file;
            notify.smtp.username = "relay".into();
            notify.smtp.password = SecretSetting::new("relay-password".into());
            notify.smtp.from = "Định danh điện tử <no-reply@idp.example.vn>".into();
        }
        configure(settings);
    })
    .await
}

/// Signs `citizen` in, in `browser`, at the contacts page: its HTML.
pub(crate) async fn contacts_page(
    app: &TestApp,
    browser: &reqwest::Client,
    citizen: &TestCitizen,
) -> String {
    let back = app
        .sign_in_at(
            browser,
            "/account/contacts?lang=en",
            &citizen.number,
            PASSWORD,
        )
        .await;
    assert_eq!(back, "/account/contacts?lang=en");
    let response = browser.get(app.url(&back)).fetch().await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// Posts `name=value` to `path` in English with the CSRF token of `page`: the answer.
async fn post_from(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    page: &str,
    (name, value): (&str, &str),
) -> reqwest::Response {
    browser
        .post(app.url(path))
        .form(&[
            ("csrf_token", hidden_field(page, "csrf_token").as_str()),
            ("lang", "en"),
            (name, value),
        ])
        .fetch()
        .await
}

/// Posts `contact` from the contacts page `page`: the answer.
pub(crate) async fn send_code(
    app: &TestApp,
    browser: &reqwest::Client,
    page: &str,
    contact: &str,
) -> reqwest::Response {
    post_from(
        app,
        browser,
        "/account/contacts",
        page,
        ("contact", contact),
    )
    .await
}

/// Opens the page to type a code on: its HTML.
pub(crate) async fn verify_page(app: &TestApp, browser: &reqwest::Client) -> String {
    let response = browser
        .get(app.url("/account/contacts/verify?lang=en"))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// Posts `code` from the code page `page`: the answer.
pub(crate) async fn post_code(
    app: &TestApp,
    browser: &reqwest::Client,
    page: &str,
    code: &str,
) -> reqwest::Response {
    post_from(
        app,
        browser,
        "/account/contacts/verify",
        page,
        ("code", code),
    )
    .await
}

/// The six-digit code in a message's text.
pub(crate) fn code_in(text: &str) -> String {
    let at = text
        .as_bytes()
        .windows(6)
        .position(|w| w.iter().all(u8::is_ascii_digit))
        .unwrap_or_else(|| panic!("no code in {text:?}"));
    text[at..at + 6].to_owned()
}

/// Sends a code to `phone` from a signed-in browser: the code the gateway got.
pub(crate) async fn code_by_sms(
    app: &TestApp,
    browser: &reqwest::Client,
    gateway: &mut Gateway,
    page: &str,
    phone: &str,
) -> String {
    let response = send_code(app, browser, page, phone).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location_of(&response), "/account/contacts/verify?lang=en");
    let (_, sms) = next_sms(gateway).await;
    assert_eq!(sms["to"], phone);
    code_in(sms["text"].as_str().unwrap())
}

fn outbox(app: &TestApp) -> Vec<MessageState> {
    app.db.run_blocking(notifications::all).unwrap()
}

fn wrong(code: &str) -> String {
    let last = (code.as_bytes()[5] - b'0' + 1) % 10;
    format!("{}{last}", &code[..5])
}

#[tokio::test]
async fn a_phone_number_and_an_email_address_are_proven_with_codes_sent_by_sms_and_smtp() {
    let mut gateway = gateway(0, 500).await;
    let Some(mut relay) = relay("starttls").await else {
        return;
    };
    let app = app_with(&gateway, Some(&relay)).await;
    let citizen = app.citizen();
    let browser = http_client(true);
    let page = contacts_page(&app, &browser, &citizen).await;
    assert!(page.contains("No contact yet."), "{page}");

    // By SMS: the gateway gets the number, the text and our bearer token.
    let response = send_code(&app, &browser, &page, "0912 345 678").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (auth, sms) = next_sms(&mut gateway).await;
    assert_eq!(auth.as_deref(), Some(&*format!("Bearer {GATEWAY_TOKEN}")));
    assert_eq!(sms["to"], "0912345678");
    assert_eq!(sms["from"], "DinhDanh");
    let text = sms["text"].as_str().unwrap();
    assert!(
        text.contains("valid for 10 minutes"),
        "in the page's language: {text}"
    );
    let code = code_in(text);

    let verify = verify_page(&app, &browser).await;
    assert!(
        verify.contains("•••678"),
        "where the code went, masked: {verify}"
    );
    assert!(!verify.contains("0912345678"));
    let response = post_code(&app, &browser, &verify, &wrong(&code)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("Attempts left: 4"));
    let response = post_code(&app, &browser, &verify, &code).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location_of(&response),
        "/account/contacts?lang=en&done=verified"
    );
    // The proven number is told so.
    let (_, notice) = next_sms(&mut gateway).await;
    assert_eq!(notice["to"], "0912345678");
    assert!(
        notice["text"]
            .as_str()
            .unwrap()
            .contains("was just verified")
    );
    // The same code again proves nothing.
    let response = post_code(&app, &browser, &verify, &code).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("No code is waiting")
    );

    // By e-mail, through the relay: STARTTLS with its authority's certificate, AUTH.
    let page = contacts_page_again(&app, &browser).await;
    assert!(
        page.contains("0912345678") && page.contains("(verified)"),
        "{page}"
    );
    let response = send_code(&app, &browser, &page, "lan@example.vn").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mail = next_mail(&mut relay).await;
    assert_eq!(mail["to"], serde_json::json!(["lan@example.vn"]));
    assert_eq!(mail["from"], "no-reply@idp.example.vn");
    assert_eq!(mail["tls"], true, "STARTTLS was required");
    assert_eq!(mail["authenticated"], true);
    let data = mail["data"].as_str().unwrap();
    assert!(data.contains("Subject: Your verification code"), "{data}");
    let code = code_in(data.split("\r\n\r\n").nth(1).unwrap());
    let verify = verify_page(&app, &browser).await;
    assert!(verify.contains("l•••@example.vn"), "{verify}");
    let response = post_code(&app, &browser, &verify, &code).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let confirmation = next_mail(&mut relay).await;
    assert!(
        confirmation["data"]
            .as_str()
            .unwrap()
            .contains("Subject: Contact verified")
    );

    // Both proofs are in the audit trail, with the channel and nothing of the contact.
    let proofs: Vec<_> = app
        .audit_of(&citizen)
        .into_iter()
        .filter(|e| e.outcome == "contact_verified")
        .map(|e| e.detail.unwrap())
        .collect();
    assert_eq!(proofs, ["channel=sms", "channel=email"]);

    // A sent message keeps neither its recipient nor its text.
    wait_for(&app, "four messages sent", |rows| {
        rows.len() == 4 && rows.iter().all(|row| row.status == "sent")
    })
    .await;
    for row in outbox(&app) {
        assert!(row.recipient.is_empty() && row.body.is_empty(), "{row:?}");
    }

    // A security notice goes to every proven contact: here, a password change.
    let account = browser
        .get(app.url("/account?lang=en"))
        .fetch()
        .await
        .text()
        .await
        .unwrap();
    let at = account.find("action=\"/account/password\"").unwrap();
    let response = browser
        .post(app.url("/account/password"))
        .form(&[
            ("csrf_token", hidden_field(&account[at..], "csrf_token")),
            ("lang", "en".to_owned()),
            ("current_password", PASSWORD.to_owned()),
            ("new_password", "another long passphrase 2026".to_owned()),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, sms) = next_sms(&mut gateway).await;
    assert!(
        sms["text"]
            .as_str()
            .unwrap()
            .contains("password of your e-ID account")
    );
    let mail = next_mail(&mut relay).await;
    assert!(
        mail["data"]
            .as_str()
            .unwrap()
            .contains("Subject: Password changed")
    );
}

pub(crate) async fn contacts_page_again(app: &TestApp, browser: &reqwest::Client) -> String {
    let response = browser
        .get(app.url("/account/contacts?lang=en"))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_code_is_spent_once_when_raced_and_void_after_too_many_guesses_even_in_parallel() {
    let mut gateway = gateway(0, 500).await;
    let app = app_with(&gateway, None).await;
    let citizen = app.citizen();
    let browser = http_client(true);
    let page = contacts_page(&app, &browser, &citizen).await;

    // The right code posted twice at once proves the contact once.
    let code = code_by_sms(&app, &browser, &mut gateway, &page, "0912345678").await;
    let verify = verify_page(&app, &browser).await;
    let (a, b) = tokio::join!(
        post_code(&app, &browser, &verify, &code),
        post_code(&app, &browser, &verify, &code)
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::SEE_OTHER, StatusCode::BAD_REQUEST]);
    let proven = app
        .audit_of(&citizen)
        .iter()
        .filter(|e| e.outcome == "contact_verified")
        .count();
    assert_eq!(proven, 1);
    let _confirmation = next_sms(&mut gateway).await;

    // Ten wrong guesses at once: five count, then the code is void, and even the right
    // one no longer works.
    let page = contacts_page_again(&app, &browser).await;
    let code = code_by_sms(&app, &browser, &mut gateway, &page, "0987654321").await;
    let verify = verify_page(&app, &browser).await;
    let mut guesses = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (browser, url) = (browser.clone(), app.url("/account/contacts/verify"));
        let form = [
            ("csrf_token", hidden_field(&verify, "csrf_token")),
            ("lang", "en".to_owned()),
            ("code", wrong(&code)),
        ];
        guesses.spawn(async move { browser.post(url).form(&form).fetch().await.status() });
    }
    let statuses = guesses.join_all().await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::BAD_REQUEST),
        "every guess is refused: {statuses:?}"
    );
    let response = post_code(&app, &browser, &verify, &code).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.unwrap();
    assert!(page.contains("No code is waiting"), "{page}");
    let contacts = contacts_page_again(&app, &browser).await;
    assert!(
        !contacts.contains("0987654321"),
        "the unproven number was not stored: {contacts}"
    );
}

#[tokio::test]
async fn a_code_works_only_for_its_account_in_its_time_and_with_the_forms_token() {
    let mut gateway = gateway(0, 500).await;
    // Codes of a minute, so that one expires within the re-authentication's five.
    let app = app_configured(&gateway, None, |s| s.notify.code_ttl_secs = 60).await;
    let (citizen, other) = (app.citizen(), app.citizen());
    let browser = http_client(true);
    let page = contacts_page(&app, &browser, &citizen).await;
    let code = code_by_sms(&app, &browser, &mut gateway, &page, "0912345678").await;

    // Another citizen, in another browser, with the code: with no code waiting they
    // get no form to type it in, and with a code of their own it is a wrong one.
    let stranger = http_client(true);
    let their_page = contacts_page(&app, &stranger, &other).await;
    let response = stranger
        .get(app.url("/account/contacts/verify?lang=en"))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let theirs = response.text().await.unwrap();
    assert!(
        !theirs.contains("action=\"/account/contacts/verify\""),
        "{theirs}"
    );
    let their_code = code_by_sms(&app, &stranger, &mut gateway, &their_page, "0977777777").await;
    if their_code != code {
        let their_verify = verify_page(&app, &stranger).await;
        let response = post_code(&app, &stranger, &their_verify, &code).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.text().await.unwrap().contains("Wrong code"));
    }
    let forged = stranger
        .post(app.url("/account/contacts/verify"))
        .form(&[
            ("csrf_token", hidden_field(&their_page, "csrf_token")),
            ("lang", "en".to_owned()),
            ("code", code.clone()),
        ])
        .fetch()
        .await;
    assert_eq!(
        forged.status(),
        StatusCode::FORBIDDEN,
        "a token of another form"
    );

    // Without the form's token: refused, and nothing is spent.
    let verify = verify_page(&app, &browser).await;
    let response = browser
        .post(app.url("/account/contacts/verify"))
        .form(&[("lang", "en"), ("code", code.as_str())])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = browser
        .post(app.url("/account/contacts"))
        .form(&[("lang", "en"), ("contact", "0911111111")])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    no_more_sms(&mut gateway).await;

    // Past its minute, the right code proves nothing.
    app.advance_clock(Duration::seconds(61));
    let response = post_code(&app, &browser, &verify, &code).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("No code is waiting")
    );

    // Bad input: not a contact, and a contact far too long.
    let page = contacts_page_again(&app, &browser).await;
    for contact in ["not a contact", &format!("{}@example.vn", "a".repeat(300))] {
        let response = send_code(&app, &browser, &page, contact).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("not a valid phone number")
        );
    }
    // No relay configured: an e-mail address cannot be proven here.
    let response = send_code(&app, &browser, &page, "lan@example.vn").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("cannot send messages")
    );
}

#[tokio::test]
async fn codes_to_one_number_are_rate_limited() {
    let mut gateway = gateway(0, 500).await;
    let app = app_with(&gateway, None).await;
    let browser = http_client(true);
    let page = contacts_page(&app, &browser, &app.citizen()).await;
    for _ in 0..5 {
        let _ = code_by_sms(&app, &browser, &mut gateway, &page, "0912345678").await;
    }
    // A sixth code to the same number within the hour, even from another account.
    let other = http_client(true);
    let their_page = contacts_page(&app, &other, &app.citizen()).await;
    let response = send_code(&app, &other, &their_page, "0912345678").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.text().await.unwrap().contains("Too many codes"));
    no_more_sms(&mut gateway).await;
    // Another number is still served.
    let _ = code_by_sms(&app, &other, &mut gateway, &their_page, "0987654321").await;
}

#[tokio::test]
async fn a_gateway_that_is_down_gets_the_message_later_and_an_expired_code_is_never_sent() {
    // Down for the first two requests.
    let mut gateway = gateway(2, 503).await;
    let app = app_with(&gateway, None).await;
    let browser = http_client(true);
    let page = contacts_page(&app, &browser, &app.citizen()).await;
    let response = send_code(&app, &browser, &page, "0912345678").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    wait_for(&app, "a failed attempt", |rows| rows[0].attempts == 1).await;
    assert_eq!(
        outbox(&app)[0].last_error.as_deref(),
        Some("sms gateway 503")
    );
    // Due again after the retry wait (1 s, then 2 s), on the server's clock.
    app.advance_clock(Duration::seconds(1));
    wait_for(&app, "a second attempt", |rows| rows[0].attempts == 2).await;
    app.advance_clock(Duration::seconds(2));
    let (_, sms) = next_sms(&mut gateway).await;
    assert_eq!(sms["to"], "0912345678");
    wait_for(&app, "sent", |rows| rows[0].status == "sent").await;

    // A code whose message could not go within the code's life is dropped unsent.
    let down = self::gateway(usize::MAX, 503).await;
    let app = app_with(&down, None).await;
    let browser = http_client(true);
    let page = contacts_page(&app, &browser, &app.citizen()).await;
    let response = send_code(&app, &browser, &page, "0912345678").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    wait_for(&app, "a failed attempt", |rows| rows[0].attempts == 1).await;
    app.advance_clock(Duration::minutes(11));
    wait_for(&app, "expired", |rows| rows[0].status == "expired").await;
    let row = &outbox(&app)[0];
    assert_eq!(row.attempts, 1, "no attempt after the code expired");
    assert!(row.recipient.is_empty() && row.body.is_empty());
}

/// Waits until the outbox satisfies `done`.
async fn wait_for(app: &TestApp, what: &str, done: impl Fn(&[MessageState]) -> bool) {
    for _ in 0..200 {
        let rows = outbox(app);
        if !rows.is_empty() && done(&rows) {
            return;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    panic!("the outbox never reached {what}: {:?}", outbox(app));
}

#[tokio::test]
async fn an_officers_level_change_and_lock_are_told_to_the_proven_contacts() {
    let mut gateway = gateway(0, 500).await;
    let app = app_with(&gateway, None).await;
    let citizen = app.citizen();
    let browser = http_client(true);
    let page = contacts_page(&app, &browser, &citizen).await;
    let code = code_by_sms(&app, &browser, &mut gateway, &page, "0912345678").await;
    let verify = verify_page(&app, &browser).await;
    assert_eq!(
        post_code(&app, &browser, &verify, &code).await.status(),
        StatusCode::SEE_OTHER
    );
    let _verified = next_sms(&mut gateway).await;

    // From the command line, another process: the server's worker finds the messages,
    // once its (fixed) clock reaches the command's real time.
    let number = citizen.number.as_str();
    let args = [
        "accounts",
        "set-level",
        number,
        "2",
        "--officer",
        "cb-042",
        "--reason",
        "ID card checked",
    ];
    crate::helpers::assert_succeeded(&app.cli(&args, None).await);
    app.advance_clock(Duration::minutes(1));
    let (_, sms) = next_sms(&mut gateway).await;
    let text = sms["text"].as_str().unwrap();
    assert!(text.contains("được chuyển sang mức 2"), "{text}");
    crate::helpers::assert_succeeded(&app.cli(&["accounts", "lock", number], None).await);
    app.advance_clock(Duration::minutes(1));
    let (_, sms) = next_sms(&mut gateway).await;
    let text = sms["text"].as_str().unwrap();
    assert!(text.contains("đã bị khóa"), "{text}");
    // Unlocking tells nothing; the outbox holds nothing more.
    crate::helpers::assert_succeeded(&app.cli(&["accounts", "unlock", number], None).await);
    app.advance_clock(Duration::minutes(1));
    no_more_sms(&mut gateway).await;
}

/// A browser that says it is Firefox on Windows.
fn firefox_on_windows() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_login_from_a_new_kind_of_device_is_told_once_to_the_proven_contacts() {
    let mut gateway = gateway(0, 500).await;
    let app = app_with(&gateway, None).await;
    let citizen = app.citizen();
    let browser = http_client(true);
    let page = contacts_page(&app, &browser, &citizen).await;
    let code = code_by_sms(&app, &browser, &mut gateway, &page, "0912345678").await;
    let verify = verify_page(&app, &browser).await;
    let proven = post_code(&app, &browser, &verify, &code).await;
    assert_eq!(proven.status(), StatusCode::SEE_OTHER);
    let _verified = next_sms(&mut gateway).await;

    // The first device on record (the one that proved the phone) was not announced;
    // a login from Firefox on Windows is, in the login's language.
    let laptop = firefox_on_windows();
    app.sign_in_at(
        &laptop,
        "/account?lang=en",
        &citizen.number,
        crate::helpers::PASSWORD,
    )
    .await;
    let (_, sms) = next_sms(&mut gateway).await;
    let text = sms["text"].as_str().unwrap();
    assert!(text.contains("new device: Firefox, Windows"), "{text}");
    // The same kind of device again, even another one, is not new.
    let second_laptop = firefox_on_windows();
    app.sign_in_at(
        &second_laptop,
        "/account?lang=en",
        &citizen.number,
        crate::helpers::PASSWORD,
    )
    .await;
    no_more_sms(&mut gateway).await;
}

#[tokio::test]
async fn with_the_new_device_notice_off_a_new_device_is_not_told() {
    let mut gateway = gateway(0, 500).await;
    let app = app_configured(&gateway, None, |s| s.notify.new_device_notice = false).await;
    let citizen = app.citizen();
    let browser = http_client(true);
    let page = contacts_page(&app, &browser, &citizen).await;
    let code = code_by_sms(&app, &browser, &mut gateway, &page, "0912345678").await;
    let verify = verify_page(&app, &browser).await;
    post_code(&app, &browser, &verify, &code).await;
    let _verified = next_sms(&mut gateway).await;
    app.sign_in_at(
        &firefox_on_windows(),
        "/account?lang=en",
        &citizen.number,
        crate::helpers::PASSWORD,
    )
    .await;
    no_more_sms(&mut gateway).await;
}
