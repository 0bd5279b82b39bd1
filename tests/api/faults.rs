//! Faults survived: a Redis of the test's own is stopped under a running server and
//! started again, empty, as a crash without persistence would leave it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use openidconnect::OAuth2TokenResponse;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Fetch, TestApp, assert_oauth_error, revoke, status_and_json, token_request};

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

/// A token request that needs the database and the store, with a code that is not one.
const UNKNOWN_CODE: [(&str, &str); 3] = [
    ("grant_type", "authorization_code"),
    ("code", "x"),
    ("redirect_uri", "https://portal.example.gov.vn/callback"),
];

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
    let kept = app.access_token(&citizen, &client, &["profile"]).await;
    let revoked = app.access_token(&citizen, &client, &["profile"]).await;
    revoke(&app, &client, &revoked).await;
    assert_eq!(app.userinfo(&kept).await.0, StatusCode::OK);

    redis.crash();
    // What needs the store answers 503 with an OAuth error body; nothing panics.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, body) = token_request(&app, &client, &UNKNOWN_CODE).await;
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
        let status = app.http.get(app.url(path)).fetch().await.status();
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let ready = app.http.get(app.url("/readyz")).fetch().await.status();
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
    assert_oauth_error(
        &token_request(&app, &client, &UNKNOWN_CODE).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
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
            // A replica of the test's app: tokens of either are valid at both.
            .env("CITIZEN_IDP__SERVER__ISSUER", &app.issuer)
            .env("CITIZEN_IDP__DATABASE__URL", &settings.database.url)
            .env("CITIZEN_IDP__KEYS__DIR", &settings.keys.dir)
            .env("CITIZEN_IDP__REDIS__URL", &settings.redis.url)
            .env("CITIZEN_IDP__REDIS__KEY_PREFIX", &settings.redis.key_prefix)
            .env("CITIZEN_IDP__DEMO__ENABLED", "false")
            // As the app it stands in for: its fake relying parties are on 127.0.0.1.
            .env(
                "CITIZEN_IDP__OUTBOUND__ALLOW_PRIVATE_NETWORKS",
                settings.outbound.allow_private_networks.to_string(),
            )
            .env(
                "CITIZEN_IDP__LIMITS__REQUESTS_PER_MINUTE_PER_IP",
                settings.limits.requests_per_minute_per_ip.to_string(),
            )
            .env("CITIZEN_IDP__LOG__FILTER", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let address = format!("http://127.0.0.1:{port}");
        crate::helpers::wait_until_ready(&crate::helpers::http_client(false), &address).await;
        ChildServer { address, child }
    }

    /// Sends SIGTERM, as an orchestrator stopping the service does; the exit status.
    async fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        tokio::task::spawn_blocking(move || self.child.wait().unwrap())
            .await
            .unwrap()
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

    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let mut registration = crate::helpers::TestClient::portal();
    registration.scopes = "openid offline_access".into();
    let client = app.register_client(registration);
    let mut families = Vec::new();
    for _ in 0..6 {
        let tokens = app.tokens(&citizen, &client, &["offline_access"]).await;
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

/// One disclosure a client received in full: which endpoint, and the request id the
/// server answered with (`X-Request-Id`, the id its audit row carries).
async fn disclose(
    http: &reqwest::Client,
    address: &str,
    client: &crate::helpers::TestClient,
    token: &str,
    introspection: bool,
) -> Option<String> {
    let request = if introspection {
        http.post(format!("{address}/introspect"))
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&[("token", token)])
    } else {
        http.get(format!("{address}/userinfo")).bearer_auth(token)
    };
    let response = request.send().await.ok()?;
    if response.status() != StatusCode::OK {
        return None;
    }
    let request_id = response
        .headers()
        .get("x-request-id")?
        .to_str()
        .ok()?
        .to_owned();
    // Received means the whole body, with the citizen in it.
    let body: Value = response.json().await.ok()?;
    body["sub"].is_string().then_some(request_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_load_leaves_an_audit_row_for_every_disclosure_it_answered() {
    use std::collections::HashSet;

    // No rate limit: the load must still run when the kill comes, on a fast machine too.
    let app = TestApp::spawn_with(|settings| settings.limits.requests_per_minute_per_ip = 0).await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let token = app.access_token(&citizen, &client, &["profile"]).await;

    // Userinfo and introspection callers, each as fast as it can, against a separate
    // server process...
    let server = ChildServer::start(&app).await;
    let mut load = tokio::task::JoinSet::new();
    for task in 0..6 {
        let (address, client, token) = (server.address.clone(), client.clone(), token.clone());
        load.spawn(async move {
            let http = crate::helpers::http_client(false);
            let introspection = task % 2 == 1;
            let mut received = Vec::new();
            while let Some(id) = disclose(&http, &address, &client, &token, introspection).await {
                received.push(id);
            }
            received
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // ...which is killed mid-load: no drain, no flush.
    server.kill();
    let received: Vec<String> = load.join_all().await.into_iter().flatten().collect();
    assert!(
        received.len() > 6,
        "the load ran ({} answers)",
        received.len()
    );

    let audited: HashSet<String> = app
        .audit_of(&citizen)
        .into_iter()
        .filter(|row| row.kind == "disclosure")
        .filter(|row| row.outcome == "userinfo" || row.outcome == "introspection")
        .filter_map(|row| row.request_id)
        .collect();
    let missing: Vec<&String> = received
        .iter()
        .filter(|id| !audited.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} disclosures a client received have no audit row: {missing:?}",
        missing.len(),
        received.len()
    );
    // The rows of answers the kill swallowed may be there too: audited, not received.
    eprintln!(
        "{} disclosures received before SIGKILL, each with its audit row; {} rows in all",
        received.len(),
        audited.len()
    );
}

/// A PostgreSQL cluster of the test's own on a loopback port, so that it can be stopped,
/// frozen and started again without touching the machine's server. PostgreSQL refuses
/// to run as root, so under root its commands run as the `postgres` user.
struct PrivatePostgres {
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    /// `None` when PostgreSQL's server programs are not installed; under CI that is a
    /// failure.
    fn start() -> Option<PrivatePostgres> {
        let bin = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .map(|out| std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
            .filter(|bin| bin.join("initdb").exists());
        let Some(bin) = bin else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the fault tests: install PostgreSQL's server programs"
            );
            eprintln!("skipped: initdb is not installed");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        if Self::as_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown the cluster's directory");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let postgres = PrivatePostgres { bin, dir, port };
        let data = postgres.data_dir();
        postgres.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        postgres.resume();
        Some(postgres)
    }

    fn as_root() -> bool {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// One of PostgreSQL's programs, run as `postgres` under root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if Self::as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self.command(program).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the server (again) on the same port and data.
    fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        );
    }

    /// Stops the server at once, as a crash would: no checkpoint, connections cut.
    fn crash(&self) {
        let data = self.data_dir();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }

    /// The postmaster and its backends, for freezing.
    fn processes(&self) -> Vec<String> {
        let pid_file = self.dir.path().join("data/postmaster.pid");
        let postmaster = std::fs::read_to_string(pid_file).unwrap();
        let postmaster = postmaster.lines().next().unwrap().trim().to_owned();
        let children = Command::new("pgrep")
            .args(["-P", &postmaster])
            .output()
            .unwrap();
        let mut pids: Vec<String> = String::from_utf8_lossy(&children.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        pids.push(postmaster);
        pids
    }

    /// Sends `signal` (STOP or CONT) to the whole server: a database that stops
    /// answering without closing its connections.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .args(self.processes())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // A frozen server cannot stop: thaw it first. Errors are moot here (it may be
        // stopped already).
        if self.dir.path().join("data/postmaster.pid").exists() {
            let _ = Command::new("kill")
                .arg("-CONT")
                .args(self.processes())
                .status();
        }
        let data = self.data_dir();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}

async fn status_of(app: &TestApp, path: &str) -> StatusCode {
    app.http.get(app.url(path)).fetch().await.status()
}

/// Discovery, JWKS and liveness answer from memory; readiness tells the truth.
async fn assert_stateless_endpoints_answer_and_not_ready(app: &TestApp) {
    for path in [
        "/.well-known/openid-configuration",
        "/jwks.json",
        "/healthz",
    ] {
        assert_eq!(status_of(app, path).await, StatusCode::OK, "{path}");
    }
    assert_eq!(
        status_of(app, "/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// A citizen's refresh token, from a real login.
async fn refresh_token_of(app: &TestApp) -> (crate::helpers::TestClient, String) {
    let citizen = app.citizen();
    let mut registration = crate::helpers::TestClient::portal();
    registration.scopes = "openid profile offline_access".into();
    let client = app.register_client(registration);
    let tokens = app.tokens(&citizen, &client, &["offline_access"]).await;
    (client, tokens.refresh_token().unwrap().secret().clone())
}

/// Polls until userinfo accepts `token` again; how long that took.
async fn recovery_time(app: &TestApp, token: &str) -> Duration {
    let started = std::time::Instant::now();
    while app.userinfo(token).await.0 != StatusCode::OK {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no recovery within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lost_gives_503s_then_recovers_by_itself_with_nothing_lost() {
    let Some(postgres) = PrivatePostgres::start() else {
        return;
    };
    let app = TestApp::spawn_with(|settings| {
        settings.database.url = postgres.url();
        settings.database.acquire_timeout_secs = 1;
        settings.database.query_timeout_ms = 2000;
    })
    .await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let kept = app.access_token(&citizen, &client, &["profile"]).await;
    let (portal, refresh) = refresh_token_of(&app).await;

    postgres.crash();
    // Past the client cache's TTL, so that the token endpoint must read the client.
    app.advance_clock(citizen_idp::protocol::clients::TTL);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, body) = token_request(&app, &client, &UNKNOWN_CODE).await;
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
        statuses.push(status);
        let (status, body) = app.userinfo(&kept).await;
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
        statuses.push(status);
    }
    // A citizen arriving from a portal sees a page, not an error body.
    let (status, _, page) = app
        .browse(&app.url(&format!(
            "/authorize?client_id={}&response_type=code&scope=openid",
            client.id
        )))
        .await;
    statuses.push(status);
    assert!(page.contains("tạm thời gián đoạn"), "{page}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    assert_stateless_endpoints_answer_and_not_ready(&app).await;
    eprintln!(
        "PostgreSQL down: {} of {} requests answered 503",
        statuses.len(),
        statuses.len()
    );

    // PostgreSQL comes back (crash recovery on the same data); the server, never
    // restarted, reconnects.
    postgres.resume();
    let took = recovery_time(&app, &kept).await;
    eprintln!("PostgreSQL back: served again after {took:?}");
    assert_eq!(status_of(&app, "/readyz").await, StatusCode::OK);
    // What was committed before the crash is all there: the refresh token still works.
    let (status, body) = token_request(
        &app,
        &portal,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_answers_503_within_its_query_timeout_then_recovers() {
    let Some(postgres) = PrivatePostgres::start() else {
        return;
    };
    let app = TestApp::spawn_with(|settings| {
        settings.database.url = postgres.url();
        settings.database.acquire_timeout_secs = 1;
        settings.database.query_timeout_ms = 1000;
    })
    .await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let kept = app.access_token(&citizen, &client, &["profile"]).await;

    // The server accepts connections but never answers: no connection error comes to
    // end the wait, only our own timeouts do.
    postgres.signal("STOP");
    // Past the client cache's TTL, so that the token endpoint must read the client.
    app.advance_clock(citizen_idp::protocol::clients::TTL);
    let mut slowest = Duration::ZERO;
    for _ in 0..6 {
        let started = std::time::Instant::now();
        let (status, body) = token_request(&app, &client, &UNKNOWN_CODE).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    }
    // A bound, not a benchmark: without the timeouts these requests never end.
    assert!(slowest < Duration::from_secs(5), "{slowest:?}");
    assert_stateless_endpoints_answer_and_not_ready(&app).await;
    eprintln!("PostgreSQL frozen: 6 of 6 token requests answered 503, slowest in {slowest:?}");

    postgres.signal("CONT");
    let took = recovery_time(&app, &kept).await;
    eprintln!("PostgreSQL thawed: served again after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_answers_503_within_its_response_timeout_then_recovers() {
    let Some(redis) = PrivateRedis::start() else {
        return;
    };
    let app = TestApp::spawn_with(|settings| {
        settings.redis.url = redis.url();
        settings.redis.key_prefix = "cidp-freeze:".into();
        settings.redis.response_timeout_ms = 300;
        settings.redis.connection_timeout_ms = 300;
    })
    .await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let kept = app.access_token(&citizen, &client, &["profile"]).await;

    let pid = redis.child.as_ref().unwrap().id().to_string();
    let signal = |signal: &str| {
        let status = Command::new("kill")
            .args([format!("-{signal}"), pid.clone()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("STOP");
    let mut slowest = Duration::ZERO;
    for _ in 0..6 {
        let started = std::time::Instant::now();
        let (status, body) = app.userinfo(&kept).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    }
    assert!(slowest < Duration::from_secs(5), "{slowest:?}");
    assert_stateless_endpoints_answer_and_not_ready(&app).await;
    eprintln!("Redis frozen: 6 of 6 userinfo requests answered 503, slowest in {slowest:?}");

    signal("CONT");
    let took = recovery_time(&app, &kept).await;
    eprintln!("Redis thawed: served again after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_then_exits_cleanly_with_the_audit_written() {
    use crate::client_assertion::{
        JWT_BEARER, KeyClient, assertion, jwks_of, register, slow_key_server,
    };
    use citizen_idp::storage::audit_events;
    use citizen_idp::tokens::keys::{SigningAlg, SigningKey};

    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let portal = app.confidential_client();
    let access_token = app.access_token(&citizen, &portal, &["profile"]).await;
    // A client whose key server takes a second to answer: its token request is still in
    // flight when the signal arrives.
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let (uri, _keys) = slow_key_server(Some(jwks_of(&[&key])), Duration::from_secs(1)).await;
    let client = KeyClient {
        id: register(&app, None, Some(uri)),
        key,
    };
    let server = ChildServer::start(&app).await;
    let http = crate::helpers::http_client(false);
    // An audit row queued in the server's memory.
    let response = http
        .get(format!("{}/userinfo", server.address))
        .bearer_auth(&access_token)
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let form = [
        ("grant_type", "client_credentials".to_owned()),
        ("client_assertion_type", JWT_BEARER.to_owned()),
        (
            "client_assertion",
            assertion(&app, &client, &app.issuer, 60, "term-1"),
        ),
    ];
    let in_flight = tokio::spawn(
        http.post(format!("{}/token", server.address))
            .form(&form)
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let exit = server.terminate().await;

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string(), "{body}");
    assert!(exit.success(), "a clean exit: {exit:?}");

    // No waiting: the server wrote its queued rows before it exited.
    let number = citizen.number.clone();
    let rows = app
        .db
        .run(move |conn| audit_events::for_citizen(conn, &number))
        .await
        .unwrap();
    assert!(
        rows.iter().any(|r| r.outcome == "userinfo"),
        "{:?}",
        rows.iter().map(|r| &r.outcome).collect::<Vec<_>>()
    );
}

/// A connection of the test's own that keeps the audit table from taking rows while
/// every other table reads as usual: SQLite's one write lock, PostgreSQL's lock on the
/// table (which lets readers through).
struct AuditWritesBlocked(Box<dyn diesel::connection::SimpleConnection + Send>);

impl AuditWritesBlocked {
    fn start(database_url: &str) -> AuditWritesBlocked {
        use diesel::Connection;

        let mut conn: Box<dyn diesel::connection::SimpleConnection + Send> =
            match database_url.strip_prefix("sqlite://") {
                Some(path) => Box::new(diesel::SqliteConnection::establish(path).unwrap()),
                None => Box::new(diesel::PgConnection::establish(database_url).unwrap()),
            };
        let sql = if database_url.starts_with("sqlite://") {
            // Behind the server's own writer, if it is mid-write.
            "PRAGMA busy_timeout = 5000; BEGIN IMMEDIATE"
        } else {
            "BEGIN; LOCK TABLE audit_events IN EXCLUSIVE MODE"
        };
        conn.batch_execute(sql).unwrap();
        AuditWritesBlocked(conn)
    }

    fn end(mut self) {
        self.0.batch_execute("ROLLBACK").unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disclosure_whose_audit_row_cannot_be_committed_is_refused_with_503() {
    use crate::helpers::client_post;

    let app = TestApp::spawn_with(|settings| {
        settings.database.query_timeout_ms = 1000;
    })
    .await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let token = app.access_token(&citizen, &client, &["profile"]).await;
    assert_eq!(app.userinfo(&token).await.0, StatusCode::OK);

    // Everything userinfo and introspection read still answers; only the audit row
    // cannot be committed.
    let blocked = AuditWritesBlocked::start(&app.database_url);
    let mut slowest = Duration::ZERO;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let (status, body) = app.userinfo(&token).await;
        assert_oauth_error(
            &(status, body.clone()),
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
        );
        assert!(body.get("sub").is_none(), "{body}");
        let (status, body) = client_post(&app, "/introspect", &client, &[("token", &token)]).await;
        slowest = slowest.max(started.elapsed());
        assert_oauth_error(
            &(status, body.clone()),
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
        );
        assert!(
            body.get("sub").is_none() && body.get("active").is_none(),
            "{body}"
        );
    }
    // Each waited the bound (the query timeout, 1 s), not for the database.
    assert!(slowest < Duration::from_secs(4), "{slowest:?}");
    eprintln!("audit blocked: 6 of 6 disclosures refused with 503, slowest pair in {slowest:?}");

    // Once the table takes rows again, the writer's retries land the refused
    // requests' rows (an audited release that did not happen is acceptable), and
    // disclosures are served again.
    blocked.end();
    let took = recovery_time(&app, &token).await;
    eprintln!("audit unblocked: served again after {took:?}");
    // The first answer, the six refused, and at least one since.
    let disclosures = app
        .audit_of(&citizen)
        .iter()
        .filter(|row| row.outcome == "userinfo" || row.outcome == "introspection")
        .count();
    assert!(disclosures >= 8, "{disclosures} disclosure rows");
}

async fn set_eviction_policy(redis: &PrivateRedis, policy: &str) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg(policy)
        .query_async(&mut conn)
        .await
        .unwrap();
}

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    status_and_json(app.http.get(app.url("/readyz")).fetch().await).await
}

/// Eviction would silently drop revocations, single-use `jti`s and throttle counts:
/// a Redis that may evict is reported as not ready.
#[tokio::test]
async fn a_redis_that_may_evict_keys_is_not_ready() {
    let Some(redis) = PrivateRedis::start() else {
        return;
    };
    let url = redis.url();
    let app = TestApp::spawn_with(|s| {
        s.redis.url = url;
        s.redis.cluster_urls = Vec::new();
    })
    .await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);
    for policy in ["allkeys-lru", "volatile-ttl", "allkeys-random"] {
        set_eviction_policy(&redis, policy).await;
        let (status, body) = readyz(&app).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{policy}: {body}");
        assert_eq!(body["store"], "unavailable", "{policy}");
        assert_eq!(body["database"], "ok");
    }
    set_eviction_policy(&redis, "noeviction").await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);
}
