//! Faults survived: a Redis of the test's own is stopped under a running server and
//! started again, empty, as a crash without persistence would leave it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

/// A `redis-server` on a loopback port of its own, with nothing kept on disk.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// `None` when no `redis-server` is installed; under CI that is a failure.
    fn start() -> Option<PrivateRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = PrivateRedis { port, child: None };
        if !redis.resume() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the fault tests: install redis-server"
            );
            eprintln!("skipped: redis-server is not installed");
            return None;
        }
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again) on the same port; `false` if it cannot run.
    fn resume(&mut self) -> bool {
        let spawned = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = spawned else { return false };
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// Kills the server, losing everything it held.
    fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.crash();
    }
}

async fn token_request(app: &TestApp, client_id: &str, secret: &str) -> (StatusCode, Value) {
    let response = app
        .http
        .post(app.url("/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", "https://portal.example.gov.vn/callback"),
        ])
        .send()
        .await
        .unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_lost_gives_503s_then_recovers_by_itself_and_revocations_survive() {
    let Some(mut redis) = PrivateRedis::start() else {
        return;
    };
    let app = TestApp::spawn_with(|settings| {
        settings.redis.url = redis.url();
        settings.redis.key_prefix = "cidp-fault:".into();
        settings.redis.response_timeout_ms = 300;
        settings.redis.connection_timeout_ms = 300;
    })
    .await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let secret = client.secret.clone().unwrap();
    let kept = app.access_token(&citizen, &client, &["profile"]).await;
    let revoked = app.access_token(&citizen, &client, &["profile"]).await;
    let response = app
        .http
        .post(app.url("/revoke"))
        .basic_auth(&client.id, Some(&secret))
        .form(&[("token", revoked.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.userinfo(&kept).await.0, StatusCode::OK);

    redis.crash();
    // What needs the store answers 503 with an OAuth error body; nothing panics.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, body) = token_request(&app, &client.id, &secret).await;
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
        statuses.push(status);
        let (status, body) = app.userinfo(&kept).await;
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
        statuses.push(status);
    }
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    // What does not need it keeps answering.
    for path in [
        "/.well-known/openid-configuration",
        "/jwks.json",
        "/healthz",
    ] {
        let status = app.http.get(app.url(path)).send().await.unwrap().status();
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let ready = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        ready,
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready without its store"
    );

    // Redis comes back empty. No restart of the server: the connection recovers, and
    // the revocation list is rebuilt from the database before it is relied on.
    assert!(redis.resume());
    let mut recovered = false;
    for _ in 0..50 {
        if app.userinfo(&kept).await.0 == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "userinfo recovers once Redis is back");
    assert_eq!(
        app.userinfo(&revoked).await.0,
        StatusCode::UNAUTHORIZED,
        "still revoked"
    );
    let (status, body) = token_request(&app, &client.id, &secret).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}
