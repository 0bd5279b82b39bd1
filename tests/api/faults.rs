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

/// The real binary, run as its own process on the test's database, so that it can be
/// killed with SIGKILL.
struct ChildServer {
    address: String,
    child: Child,
}

impl ChildServer {
    async fn start(app: &TestApp) -> ChildServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let settings = &app.settings;
        let child = Command::new(env!("CARGO_BIN_EXE_citizen-idp"))
            .arg("serve")
            .env("CITIZEN_IDP__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("CITIZEN_IDP__DATABASE__URL", &settings.database.url)
            .env("CITIZEN_IDP__KEYS__DIR", &settings.keys.dir)
            .env("CITIZEN_IDP__REDIS__URL", &settings.redis.url)
            .env("CITIZEN_IDP__REDIS__KEY_PREFIX", &settings.redis.key_prefix)
            .env("CITIZEN_IDP__DEMO__ENABLED", "false")
            .env("CITIZEN_IDP__LOG__FILTER", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let address = format!("http://127.0.0.1:{port}");
        crate::helpers::wait_until_ready(&crate::helpers::http_client(false), &address).await;
        ChildServer { address, child }
    }

    fn kill(mut self) {
        // Child::kill sends SIGKILL: no drain, no flush, no goodbye.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

async fn rotate(
    http: &reqwest::Client,
    address: &str,
    client: &crate::helpers::TestClient,
    token: &str,
) -> Option<String> {
    let response = http
        .post(format!("{address}/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .ok()?;
    if response.status() != StatusCode::OK {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    body["refresh_token"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_load_loses_no_refresh_token_it_delivered() {
    use citizen_idp::storage::refresh_tokens;
    use citizen_idp::tokens::random::sha256_b64;
    use openidconnect::OAuth2TokenResponse;

    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let mut registration = crate::helpers::TestClient::portal();
    registration.scopes = "openid offline_access".into();
    let client = app.register_client(registration);
    let mut families = Vec::new();
    for _ in 0..6 {
        let rp = app.relying_party(&client).await;
        let start = rp.authorize_url(&["offline_access"]);
        let redirect = app
            .log_in(&start.url, &citizen.number, crate::helpers::PASSWORD)
            .await;
        let code = crate::helpers::query_param(&redirect, "code").unwrap();
        let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
        families.push(tokens.refresh_token().unwrap().secret().clone());
    }

    // Every family rotates as fast as it can against a separate server process...
    let server = ChildServer::start(&app).await;
    let mut load = tokio::task::JoinSet::new();
    for first in families {
        let (address, client) = (server.address.clone(), client.clone());
        load.spawn(async move {
            let http = crate::helpers::http_client(false);
            let mut delivered = vec![first];
            while let Some(next) = rotate(&http, &address, &client, delivered.last().unwrap()).await
            {
                delivered.push(next);
            }
            delivered
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // ...which is killed mid-load.
    server.kill();
    let delivered: Vec<Vec<String>> = load.join_all().await;
    let rotations: usize = delivered.iter().map(|d| d.len() - 1).sum();
    assert!(rotations > 6, "the load ran ({rotations} rotations)");
    eprintln!("{rotations} refresh rotations delivered before SIGKILL");

    // After a restart, every token a client received is in the database; the last one
    // of each family works, unless the server committed one more rotation whose answer
    // the kill swallowed (then a newer token of the family exists).
    let server = ChildServer::start(&app).await;
    let http = crate::helpers::http_client(false);
    let mut usable = 0;
    for family in &delivered {
        for token in family {
            let hash = sha256_b64(token);
            let row = app
                .db
                .run(move |conn| refresh_tokens::find(conn, &hash))
                .await
                .unwrap();
            assert!(row.is_some(), "a delivered refresh token was lost");
        }
        let last = family.last().unwrap();
        let hash = sha256_b64(last);
        let row = app
            .db
            .run(move |conn| refresh_tokens::find(conn, &hash))
            .await
            .unwrap()
            .unwrap();
        if row.used_at.is_none() {
            usable += 1;
            assert!(
                rotate(&http, &server.address, &client, last)
                    .await
                    .is_some(),
                "the last delivered token of a family works after the restart"
            );
        }
    }
    eprintln!(
        "after restart: every delivered token found; {usable} of {} families' last token works, the others were rotated by a request whose answer the kill swallowed",
        delivered.len()
    );
    server.kill();
}
