//! The logs of the real binary, as an operator's collector reads them: JSON lines,
//! access lines carrying the request id the client saw, and no personal data or
//! secrets, even at debug level for the crate.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Seek};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{Fetch, PASSWORD, TestApp, http_client, location_of, login_form, query_param};

/// The binary serving on the test's database with JSON logs, its stderr in a file.
struct JsonLoggingServer {
    child: Child,
    base: String,
    log: std::fs::File,
}

impl JsonLoggingServer {
    async fn start(app: &TestApp) -> JsonLoggingServer {
        let log = tempfile::tempfile().unwrap();
        let settings = &app.settings;
        let mut child = Command::new(env!("CARGO_BIN_EXE_citizen-idp"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("CITIZEN_IDP__DATABASE__URL", &settings.database.url)
            .env("CITIZEN_IDP__KEYS__DIR", &settings.keys.dir)
            .env("CITIZEN_IDP__REDIS__URL", &settings.redis.url)
            .env("CITIZEN_IDP__REDIS__KEY_PREFIX", &settings.redis.key_prefix)
            .env("CITIZEN_IDP__DEMO__ENABLED", "false")
            .env("CITIZEN_IDP__LOG__FORMAT", "json")
            // Debug for the crate: its spans and events are what must stay clean.
            .env("CITIZEN_IDP__LOG__FILTER", "info,citizen_idp=debug")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(log.try_clone().unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let base = tokio::task::spawn_blocking(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .find_map(|line| {
                    line.strip_prefix("citizen-idp is listening on ")
                        .map(str::to_owned)
                })
                .expect("the server prints its address")
        })
        .await
        .unwrap();
        crate::helpers::wait_until_ready(&http_client(false), &base).await;
        JsonLoggingServer { child, base, log }
    }

    /// Stops the server as systemd would (SIGTERM) and returns everything it logged.
    async fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let sent = Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .unwrap();
        assert!(sent.success());
        let mut exited = false;
        for _ in 0..200 {
            if self.child.try_wait().unwrap().is_some() {
                exited = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !exited {
            let _ = self.child.kill();
        }
        let status = self.child.wait().unwrap();
        assert!(
            exited && status.success(),
            "a SIGTERM ends the server cleanly"
        );
        let mut text = String::new();
        self.log.rewind().unwrap();
        self.log.read_to_string(&mut text).unwrap();
        text
    }
}

#[tokio::test]
async fn json_logs_carry_the_request_id_and_no_personal_data_or_secrets() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let secret = client.secret.clone().unwrap();
    let server = JsonLoggingServer::start(&app).await;
    let base = server.base.clone();
    let browser = http_client(true);
    let mut request_ids = Vec::new();
    let mut remember = |response: &reqwest::Response| {
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        request_ids.push(id);
    };

    let authorize = format!(
        "{base}/authorize?response_type=code&scope=openid%20profile&state=s-1&nonce=n-1&client_id={}&redirect_uri={}",
        client.id,
        url::form_urlencoded::byte_serialize(client.redirect_uri.as_bytes()).collect::<String>()
    );
    let response = browser.get(&authorize).fetch().await;
    remember(&response);
    let login = format!("{base}{}", location_of(&response));
    let response = browser.get(&login).fetch().await;
    remember(&response);
    let html = response.text().await.unwrap();
    let wrong_password = "sai-mật-khẩu-9";
    let submit = async |password: &str| {
        let form = login_form(&html, &citizen.number, password);
        browser
            .post(format!("{base}/login"))
            .form(&form)
            .fetch()
            .await
    };
    let refused = submit(wrong_password).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let accepted = submit(PASSWORD).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    let session = accepted
        .cookies()
        .find(|c| c.name() == app.settings.session.cookie_name)
        .map(|c| c.value().to_owned())
        .expect("a session cookie");
    remember(&refused);
    remember(&accepted);
    let code = query_param(&location_of(&accepted), "code").unwrap();

    let response = app
        .http
        .post(format!("{base}/token"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
        ])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    remember(&response);
    let tokens: serde_json::Value = response.json().await.unwrap();
    let access_token = tokens["access_token"].as_str().unwrap().to_owned();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    // A replayed code fails and revokes: the error paths log too.
    let replay = app
        .http
        .post(format!("{base}/token"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
        ])
        .fetch()
        .await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    remember(&replay);
    let response = app
        .http
        .get(format!("{base}/userinfo"))
        .bearer_auth(&access_token)
        .fetch()
        .await;
    remember(&response);

    let log = server.stop().await;
    let mut logged_ids = HashSet::new();
    let mut lines = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        lines += 1;
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        if event["target"] == "access" {
            let id = event["span"]["request_id"]
                .as_str()
                .unwrap_or_else(|| panic!("an access line without a request id: {line}"));
            logged_ids.insert(id.to_owned());
        }
        let secrets = [
            ("the national id", citizen.number.as_str()),
            ("the password", PASSWORD),
            ("the wrong password", wrong_password),
            ("the client secret", &secret),
            ("the authorization code", &code),
            ("the access token", &access_token),
            ("the ID token", &id_token),
            ("the session", &session),
        ];
        for (what, value) in secrets {
            assert!(!line.contains(value), "{what} is in the log: {line}");
        }
        // Nor the citizen's name from the register.
        assert!(!line.contains(&citizen.record.full_name), "{line}");
    }
    assert!(lines > request_ids.len(), "{log}");
    for id in &request_ids {
        assert!(logged_ids.contains(id), "no access line for request {id}");
    }
    // The token path is traced: its spans show in the events logged inside it.
    assert!(
        log.contains("\"name\":\"token\"") && log.contains("\"grant_type\":\"authorization_code\""),
        "{log}"
    );
}
