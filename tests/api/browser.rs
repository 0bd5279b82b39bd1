//! The pages in a real browser: headless Chromium driven over WebDriver (chromedriver).
//!
//! Runs when TEST_CHROMEDRIVER names a chromedriver binary (`.ci/run` installs
//! Debian's chromium and chromium-driver and sets it). Under CI it must not be skipped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Fetch, TestApp};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub(crate) struct Browser {
    driver: Child,
    base: String,
    http: reqwest::Client,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A headless Chromium, or `None` when browser tests are not configured here.
    pub(crate) async fn launch() -> Option<Browser> {
        let Some(chromedriver) = std::env::var("TEST_CHROMEDRIVER")
            .ok()
            .filter(|p| !p.is_empty())
        else {
            assert!(
                std::env::var("CI").is_err(),
                "CI must run the browser tests: set TEST_CHROMEDRIVER"
            );
            eprintln!("browser test skipped: TEST_CHROMEDRIVER is not set");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let binary = std::env::var("TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        // Flags that keep Chromium off the network and quiet on a closed machine.
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--lang=vi",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": binary, "args": args }
        }}});
        let response: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .fetch_json()
            .await;
        let session = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {response}"))
            .to_owned();
        Some(Browser {
            driver,
            base,
            http,
            session,
            _profile: profile,
        })
    }

    pub(crate) async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response: Value = request.fetch_json().await;
        response["value"].clone()
    }

    pub(crate) async fn open(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    pub(crate) async fn current_url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", Value::Null)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub(crate) async fn source(&self) -> String {
        self.command(reqwest::Method::GET, "/source", Value::Null)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub(crate) async fn find(&self, css: &str) -> String {
        for _ in 0..50 {
            let found = self
                .command(
                    reqwest::Method::POST,
                    "/element",
                    json!({ "using": "css selector", "value": css }),
                )
                .await;
            if let Some(id) = found[ELEMENT_KEY].as_str() {
                return id.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no element {css} in {}", self.source().await);
    }

    pub(crate) async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// Waits until the page shows `text` (a click's navigation may still be running).
    pub(crate) async fn wait_for_text(&self, text: &str) {
        for _ in 0..100 {
            if self.source().await.contains(text) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {text:?}: {}", self.source().await);
    }

    pub(crate) async fn wait_for_url(&self, prefix: &str) -> String {
        for _ in 0..100 {
            let url = self.current_url().await;
            if url.starts_with(prefix) {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never reached {prefix}: at {}", self.current_url().await);
    }

    /// Clears a field, then types into it.
    pub(crate) async fn replace_text(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            json!({}),
        )
        .await;
        self.type_into(css, text).await;
    }

    /// Runs a script in the page (WebDriver's own channel; the pages themselves carry
    /// no inline script) and returns its value.
    pub(crate) async fn eval(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// Sets the window's size, e.g. a phone's 390×844.
    pub(crate) async fn resize(&self, width: u32, height: u32) {
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            json!({ "width": width, "height": height }),
        )
        .await;
    }

    /// Saves a PNG of the page to `target/screenshots/{name}.png`; docs/screenshots/
    /// holds copies of the ones the documentation shows.
    pub(crate) async fn screenshot(&self, name: &str) {
        let encoded = self
            .command(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            encoded.as_str().expect("a screenshot"),
        )
        .expect("base64 PNG");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.quit_session();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Asks chromedriver to close Chromium (WebDriver's DELETE /session/{id}), on a
    /// plain socket because `drop` cannot await. Killing chromedriver alone left its
    /// Chromium running: about 90 processes per run of the suite, until a day of runs
    /// filled the machine's memory and PostgreSQL stopped answering.
    fn quit_session(&self) {
        use std::io::{Read, Write};
        let Some(addr) = self.base.strip_prefix("http://") else {
            return;
        };
        let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.session
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
        }
    }
}

pub(crate) async fn demo_app() -> TestApp {
    TestApp::spawn_with(|s| {
        s.demo.enabled = true;
        // On PostgreSQL too, when the suite runs there.
        s.demo.allow_in_production = true;
        s.demo.population = 10;
        s.server.workers = 2;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_logs_in_through_the_demo_portal_in_a_real_browser() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = demo_app().await;
    browser.open(&app.url("/demo?lang=vi")).await;
    browser
        .wait_for_text("Đăng nhập bằng định danh công dân")
        .await;
    browser.click("#demo-login").await;
    browser.wait_for_url(&app.url("/login?")).await;
    // The login page names the service the citizen is logging in to.
    browser.wait_for_text("Cổng dịch vụ công (demo)").await;
    // At a phone's width the page needs no horizontal scrolling.
    browser.resize(390, 844).await;
    let fits = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await;
    assert_eq!(fits, Value::Bool(true), "the login page scrolls sideways");
    browser.screenshot("login-vi-phone").await;

    browser.type_into("#national_id", "001090000001").await;
    browser.type_into("#password", "not-the-password").await;
    browser.click("button[type=submit]").await;
    browser
        .wait_for_text("Số định danh hoặc mật khẩu không đúng.")
        .await;

    // The page keeps the number; the citizen retypes it anyway, as people do.
    browser.replace_text("#national_id", "001090000001").await;
    browser.type_into("#password", "demo-password-2026").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&app.url("/demo/callback")).await;
    browser.wait_for_text("Đăng nhập thành công").await;
    let result = browser.source().await;
    assert!(result.contains("urn:citizen-idp:loa:1"), "{result}");
    assert!(result.contains("Nguyễn Văn An"), "{result}");

    // SSO: a second login goes straight through, without the password page.
    browser.open(&app.url("/demo/login?lang=vi")).await;
    browser.wait_for_url(&app.url("/demo/callback")).await;
    browser.wait_for_text("Đăng nhập thành công").await;

    // RP-initiated logout brings the browser back to the portal, and ends SSO.
    browser.click("#demo-logout").await;
    browser.wait_for_url(&app.url("/demo")).await;
    browser.wait_for_text("id=\"demo-login\"").await;
    browser.open(&app.url("/demo/login?lang=vi")).await;
    browser.wait_for_url(&app.url("/login?")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_switches_to_english_in_a_real_browser() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = demo_app().await;
    browser.open(&app.url("/demo?lang=en")).await;
    browser.click("#demo-login").await;
    browser.wait_for_url(&app.url("/login?")).await;
    browser
        .wait_for_text("Personal identification number")
        .await;
    browser.click(".lang a").await;
    browser.wait_for_text("Số định danh cá nhân").await;
}

/// A relying party's redirect URI that records the first request it gets (its request
/// line and body) and answers with a page that says so.
fn record_one_request() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!(
        "http://127.0.0.1:{}/cb",
        listener.local_addr().unwrap().port()
    );
    let (sent, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 4096];
            // Reads the head, then as much body as Content-Length says.
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if request.len() >= head_end + 4 + length {
                        break;
                    }
                }
            }
            let body = "<!doctype html><title>received</title><p id=received>received</p>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let text = String::from_utf8_lossy(&request).into_owned();
            // Browsers also ask for /favicon.ico: only the callback counts.
            if text.contains(" /cb") && sent.send(text).is_err() {
                return;
            }
        }
    });
    (uri, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_post_delivers_the_code_in_a_post_under_the_strict_csp_in_a_real_browser() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.server.workers = 2).await;
    let (redirect_uri, received) = record_one_request();
    let client = app.register_client(citizen_idp::registration::NewClient {
        redirect_uris: vec![redirect_uri.clone()],
        ..crate::helpers::TestClient::portal()
    });
    let citizen = app.citizen();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    browser
        .open(&format!("{}&response_mode=form_post", start.url))
        .await;
    browser.wait_for_url(&app.url("/login?")).await;
    browser.type_into("#national_id", &citizen.number).await;
    browser
        .type_into("#password", crate::helpers::PASSWORD)
        .await;
    browser.click("button[type=submit]").await;
    // The page posts itself by its script (no click here): the CSP admits it.
    browser.wait_for_url(&redirect_uri).await;
    browser.wait_for_text("id=\"received\"").await;

    let request = received
        .recv_timeout(Duration::from_secs(10))
        .expect("the redirect URI got the response");
    assert!(request.starts_with("POST /cb HTTP/1.1"), "{request}");
    assert!(
        !request.lines().next().unwrap().contains("code="),
        "the code is not in the URL: {request}"
    );
    let body = &request[request.find("\r\n\r\n").unwrap() + 4..];
    let fields: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(fields["state"], *start.state.secret());
    assert_eq!(fields["iss"], app.issuer);
    rp.exchange(&app.http, &fields["code"], start.verifier)
        .await
        .expect("the posted code is redeemed");
}
