//! The examples of docs/relying-parties.md, run as the separate programs they are:
//! the Rust ones (`examples/*.rs`, openidconnect and jsonwebtoken) and the Python ones
//! (`examples/python/`, Authlib). The test plays the citizen's browser in between.
//!
//! `cargo test` builds the examples next to the server binary before it runs any test.
//! `cargo test --test api` alone does not, so build them first there
//! (`cargo build --examples`); a missing or stale example fails with that advice.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use citizen_idp::clock::Clock;
use citizen_idp::domain::client::{ClientKind, SubjectType};
use citizen_idp::domain::client_security::SecurityMetadata;
use citizen_idp::registration::NewClient;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Fetch, PASSWORD, TestApp, TestCitizen, TestClient, query_param};

/// Long enough for a loaded CI machine, short enough that a hung example fails the test.
const TIMEOUT: Duration = Duration::from_secs(60);

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The built example `name`, checked to be newer than its source.
fn rust_example(name: &str) -> PathBuf {
    let server = Path::new(env!("CARGO_BIN_EXE_citizen-idp"));
    let binary = server
        .with_file_name("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let source = manifest_dir().join("examples").join(format!("{name}.rs"));
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    match (modified(&binary), modified(&source)) {
        (Some(built), Some(written)) if built >= written => binary,
        _ => panic!(
            "{} is missing or older than its source: run `cargo build --examples` \
             (plain `cargo test` builds them)",
            binary.display()
        ),
    }
}

/// Whether Python can import the examples' libraries. CI installs them (.ci/run), so
/// there their absence is a failure; on a developer's machine the tests say so and pass.
fn python_ready() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import authlib, joserfc, requests"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if probe.is_ok_and(|s| s.success()) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have the Python examples' requirements (examples/python/requirements.txt)"
    );
    // Straight to stderr, past the harness's capture, so that the skip is seen.
    let _ = writeln!(
        std::io::stderr(),
        "note: skipping a Python example test: \
         python3 -m pip install -r examples/python/requirements.txt"
    );
    false
}

fn python(script: &str) -> Command {
    let mut command = Command::new("python3");
    command.arg(manifest_dir().join("examples/python").join(script));
    command
}

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        assert!(self.success, "the example failed: {}", self.stderr);
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

/// Kills `child` if it outlives the deadline; returns whether it exited by itself.
fn wait_until(child: &mut Child, deadline: Instant) -> bool {
    loop {
        match child.try_wait().unwrap() {
            Some(status) => return status.success(),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("an example ran longer than {TIMEOUT:?}");
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Runs a command to its end, off the async runtime: the examples talk to the server
/// that this test's runtime drives.
async fn run(mut command: Command) -> Run {
    tokio::task::spawn_blocking(move || {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
        let success = wait_until(&mut child, Instant::now() + TIMEOUT);
        Run {
            success,
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        }
    })
    .await
    .unwrap()
}

/// `--name=value`, since random values (client ids, codes, verifiers, tokens) may begin
/// with `-`, which would read as a flag.
fn flag(name: &str, value: &str) -> String {
    format!("--{name}={value}")
}

fn client_args(command: &mut Command, app: &TestApp, client: &TestClient, redirect_uri: &str) {
    command.args([
        flag("issuer", &app.issuer),
        flag("client-id", &client.id),
        flag("redirect-uri", redirect_uri),
    ]);
}

/// One portal (Rust or Python) through the code flow: the authorization URL, the
/// citizen's login in the test's browser, and the exchange. Returns the exchange's JSON.
/// `extra` goes to both steps (the DPoP key of the mobile app).
async fn log_in_through(
    app: &TestApp,
    citizen: &TestCitizen,
    client: &TestClient,
    redirect_uri: &str,
    portal: impl Fn() -> Command,
    scopes: &[&str],
    extra: &[String],
) -> Value {
    let mut command = portal();
    command.arg("authorize-url");
    client_args(&mut command, app, client, redirect_uri);
    command.args(extra);
    for scope in scopes {
        command.arg(flag("scope", scope));
    }
    let start = run(command).await.json();
    let url = start["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/authorize?", app.issuer)),
        "{url}"
    );
    assert_eq!(query_param(url, "code_challenge_method").unwrap(), "S256");
    assert_eq!(query_param(url, "nonce").unwrap(), start["nonce"]);

    let redirect = app.log_in(url, &citizen.number, PASSWORD).await;
    assert!(redirect.starts_with(redirect_uri), "{redirect}");
    assert_eq!(query_param(&redirect, "state").unwrap(), start["state"]);
    assert_eq!(query_param(&redirect, "iss").unwrap(), app.issuer);
    let code = query_param(&redirect, "code").unwrap();

    let mut command = portal();
    command.arg("exchange");
    client_args(&mut command, app, client, redirect_uri);
    command.args(extra);
    command.args([
        flag("code", &code),
        flag("verifier", start["verifier"].as_str().unwrap()),
        flag("nonce", start["nonce"].as_str().unwrap()),
    ]);
    if let Some(secret) = &client.secret {
        command.env("PORTAL_CLIENT_SECRET", secret);
    }
    if client.alg != "RS256" {
        command.arg(flag("id-token-alg", &client.alg));
    }
    run(command).await.json()
}

/// A portal as the guide registers one: confidential, pairwise subjects.
fn portal(app: &TestApp) -> TestClient {
    app.register_client(NewClient {
        subject_type: SubjectType::Pairwise,
        post_logout_redirect_uris: vec![RETURN_URI.into()],
        ..TestClient::portal()
    })
}

const RETURN_URI: &str = "https://portal.example.gov.vn/logged-out";

fn assert_logged_in(result: &Value, citizen: &TestCitizen, client: &TestClient) {
    assert_eq!(result["verified"], true);
    let claims = &result["id_token_claims"];
    let sub = claims["sub"].as_str().unwrap();
    assert_ne!(
        sub, citizen.subject,
        "a pairwise subject, not the account id"
    );
    // One audience may be a string or a one-element array (RFC 7519 §4.1.3).
    let aud = &claims["aud"];
    assert!(
        *aud == client.id.as_str()
            || aud
                .as_array()
                .is_some_and(|a| a.len() == 1 && a[0] == client.id.as_str()),
        "aud {aud}"
    );
    assert_eq!(claims["acr"], "urn:citizen-idp:loa:1");
    assert_eq!(result["userinfo"]["sub"], sub);
    assert_eq!(result["userinfo"]["name"], citizen.record.full_name);
}

fn resource_server(app: &TestApp, token: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(rust_example("resource_server"));
    command.args([flag("issuer", &app.issuer), flag("token", token)]);
    command.args(extra);
    command
}

#[tokio::test]
async fn the_rust_portal_logs_a_citizen_in_and_the_resource_server_accepts_only_its_access_token() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = portal(&app);
    let portal = || Command::new(rust_example("portal"));

    let result = log_in_through(
        &app,
        &citizen,
        &client,
        &client.redirect_uri,
        portal,
        &["profile"],
        &[],
    )
    .await;
    assert_logged_in(&result, &citizen, &client);
    let sub = result["id_token_claims"]["sub"].as_str().unwrap();

    let access_token = result["access_token"].as_str().unwrap();
    let checked = run(resource_server(
        &app,
        access_token,
        &["--require-scope", "profile"],
    ))
    .await
    .json();
    assert_eq!(checked["valid"], true);
    assert_eq!(checked["claims"]["client_id"], client.id);
    assert_eq!(checked["claims"]["sub"], sub);

    // An ID token is signed by the same keys, but is no access token.
    let id_token = result["id_token"].as_str().unwrap();
    let refused = run(resource_server(&app, id_token, &[])).await;
    assert!(!refused.success);
    assert!(refused.stderr.contains("at+jwt"), "{}", refused.stderr);

    // A changed payload breaks the signature.
    let mut parts: Vec<String> = access_token.split('.').map(str::to_owned).collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["scope"] = "openid profile national_id".into();
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    let refused = run(resource_server(&app, &parts.join("."), &[])).await;
    assert!(!refused.success, "a tampered token was accepted");

    let refused = run(resource_server(
        &app,
        access_token,
        &["--require-scope", "address"],
    ))
    .await;
    assert!(!refused.success, "a scope that was not granted");
}

#[tokio::test]
async fn the_rust_portal_as_a_mobile_app_rotates_refresh_tokens_and_a_replay_kills_the_family() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let app_client = app.register_client(NewClient {
        name: "Ứng dụng di động".into(),
        kind: ClientKind::Public,
        redirect_uris: vec![
            "vn.gov.example.app:/callback".into(),
            "http://127.0.0.1/callback".into(),
        ],
        scopes: "openid profile offline_access".into(),
        id_token_alg: "ES256".into(),
        ..NewClient::default()
    });
    assert!(app_client.secret.is_none());
    let portal = || Command::new(rust_example("portal"));
    // RFC 8252 §7.3: the app listens on whatever port it got.
    let loopback = "http://127.0.0.1:51234/callback";
    let first = log_in_through(
        &app,
        &citizen,
        &app_client,
        loopback,
        portal,
        &["profile offline_access"],
        &[],
    )
    .await;
    assert_eq!(first["verified"], true);
    let spent = first["refresh_token"].as_str().expect("a refresh token");

    let refresh = |token: &str| {
        let mut command = portal();
        command.arg("refresh");
        client_args(&mut command, &app, &app_client, loopback);
        command.args([flag("id-token-alg", "ES256"), flag("refresh-token", token)]);
        command
    };
    let second = run(refresh(spent)).await.json();
    assert_eq!(second["verified"], true);
    assert_eq!(
        second["id_token_claims"]["sub"],
        first["id_token_claims"]["sub"]
    );
    let current = second["refresh_token"].as_str().unwrap();
    assert_ne!(current, spent, "rotated");

    let replayed = run(refresh(spent)).await;
    assert!(!replayed.success);
    assert!(
        replayed.stderr.contains("invalid_grant"),
        "{}",
        replayed.stderr
    );
    let killed = run(refresh(current)).await;
    assert!(
        killed.stderr.contains("invalid_grant"),
        "the replay revoked the whole family: {}",
        killed.stderr
    );
}

#[tokio::test]
async fn the_resource_server_accepts_a_back_office_token_with_its_api_scope() {
    let app = TestApp::spawn().await;
    let back_office = app.register_client(NewClient {
        name: "Hệ thống hậu kiểm".into(),
        redirect_uris: vec![],
        scopes: "tax.read".into(),
        grant_types: vec!["client_credentials".into()],
        ..NewClient::default()
    });
    let response: Value = app
        .http
        .post(app.url("/token"))
        .basic_auth(&back_office.id, back_office.secret.as_ref())
        .form(&[("grant_type", "client_credentials")])
        .fetch_json()
        .await;
    let token = response["access_token"].as_str().unwrap();
    let checked = run(resource_server(
        &app,
        token,
        &["--require-scope", "tax.read"],
    ))
    .await
    .json();
    assert_eq!(checked["claims"]["sub"], back_office.id);
    assert!(checked["claims"].get("auth_time").is_none(), "no citizen");
    let other_client = ["--client-id", "someone-else"];
    assert!(
        !run(resource_server(&app, token, &other_client))
            .await
            .success
    );
}

#[tokio::test]
async fn the_python_portal_logs_a_citizen_in_with_authlib() {
    if !python_ready() {
        return;
    }
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = portal(&app);
    let portal = || python("portal.py");
    let result = log_in_through(
        &app,
        &citizen,
        &client,
        &client.redirect_uri,
        portal,
        &["profile"],
        &[],
    )
    .await;
    assert_logged_in(&result, &citizen, &client);

    let client_es = app.register_client(NewClient {
        id_token_alg: "ES256".into(),
        ..TestClient::portal()
    });
    let es = log_in_through(
        &app,
        &citizen,
        &client_es,
        &client_es.redirect_uri,
        portal,
        &[],
        &[],
    )
    .await;
    assert_eq!(es["verified"], true, "ES256 ID tokens verify too");
}

/// Reads lines from a running receiver without blocking the runtime.
struct Lines(tokio::sync::mpsc::UnboundedReceiver<String>);

impl Lines {
    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(TIMEOUT, self.0.recv())
            .await
            .expect("the receiver printed nothing in time")
            .expect("the receiver ended");
        serde_json::from_str(&line).unwrap()
    }
}

#[tokio::test]
async fn the_python_receiver_validates_the_logout_token_of_an_rp_initiated_logout() {
    if !python_ready() {
        return;
    }
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    // The receiver validates `aud`, so the client id is chosen before it starts.
    let client_id = "portal-with-backchannel";
    let mut receiver = python("backchannel_receiver.py")
        .args([flag("issuer", &app.issuer), flag("client-id", client_id)])
        .args(["--once", &flag("timeout", &TIMEOUT.as_secs().to_string())])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (sender, lines) = tokio::sync::mpsc::unbounded_channel();
    let stdout = receiver.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let mut lines = Lines(lines);
    let listening = lines.next().await;
    let backchannel_uri = listening["listening"].as_str().unwrap();

    let client = app.register_client(NewClient {
        id: Some(client_id.into()),
        subject_type: SubjectType::Pairwise,
        post_logout_redirect_uris: vec![RETURN_URI.into()],
        backchannel_logout_uri: Some(backchannel_uri.into()),
        ..TestClient::portal()
    });
    let portal = || python("portal.py");
    let result = log_in_through(
        &app,
        &citizen,
        &client,
        &client.redirect_uri,
        portal,
        &[],
        &[],
    )
    .await;
    let id_token = result["id_token"].as_str().unwrap();

    let query = serde_urlencoded::to_string([
        ("id_token_hint", id_token),
        ("post_logout_redirect_uri", RETURN_URI),
        ("state", "after-logout"),
    ])
    .unwrap();
    let (status, location, _) = app.browse(&app.url(&format!("/logout?{query}"))).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(
        location.unwrap(),
        format!("{RETURN_URI}?state=after-logout")
    );

    let notice = lines.next().await;
    assert_eq!(notice["valid"], true, "{notice}");
    let claims = &notice["claims"];
    let id_claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(claims["sub"], id_claims["sub"]);
    let exited =
        tokio::task::spawn_blocking(move || wait_until(&mut receiver, Instant::now() + TIMEOUT))
            .await
            .unwrap();
    assert!(exited, "the receiver exits 0 after one valid token");
}

/// The test server's clock stands still (`TestApp`'s fixed clock), while the DPoP
/// examples sign their proofs and assertions with the real time: bring it up to date
/// before each of their steps, as a real server's clock would be.
fn catch_up(app: &TestApp) {
    #[allow(
        clippy::disallowed_methods,
        reason = "the examples run on the real clock"
    )]
    let behind = Utc::now() - app.clock.now();
    if behind > chrono::Duration::zero() {
        app.advance_clock(behind);
    }
}

/// A server for the DPoP examples. A step of an example (a Python start, discovery,
/// two or three requests) may take seconds on a loaded machine, during which the
/// fixed clock does not move: allow proofs that much ahead of it.
async fn dpop_server(configure: impl FnOnce(&mut citizen_idp::config::Settings)) -> TestApp {
    TestApp::spawn_with(|settings| {
        settings.dpop.proof_future_skew_secs = 60;
        configure(settings);
    })
    .await
}

/// The claims of one of the provider's JWTs, unverified: the examples verified them.
fn payload_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// GET /userinfo with `Authorization: {scheme} {token}` and no proof: the status and
/// the challenge.
async fn userinfo_without_proof(app: &TestApp, scheme: &str, token: &str) -> (StatusCode, String) {
    let response = app
        .http
        .get(app.url("/userinfo"))
        .header("Authorization", format!("{scheme} {token}"))
        .fetch()
        .await;
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status(), challenge)
}

/// A refused bound token: 401 with a DPoP challenge (RFC 9449 §7.1).
#[track_caller]
fn assert_dpop_challenge((status, challenge): &(StatusCode, String), error: &str) {
    assert_eq!(*status, StatusCode::UNAUTHORIZED, "{challenge}");
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains(&format!("error=\"{error}\"")),
        "{challenge}"
    );
}

const PAR_URN: &str = "urn:ietf:params:oauth:request_uri:";

#[tokio::test]
async fn the_python_fapi_portal_logs_in_with_par_dpop_private_key_jwt_and_an_encrypted_id_token() {
    if !python_ready() {
        return;
    }
    // Nonces required: the example must learn the server's nonce and sign again.
    let app = dpop_server(|settings| settings.dpop.nonce_required = true).await;
    let citizen = app.citizen();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("client-keys.json");
    let dpop_key = dir.path().join("dpop-key.json");
    let fapi_portal = || python("fapi_portal.py");

    // The portal makes its keys; the operator registers their public halves (§14).
    let mut keygen = fapi_portal();
    keygen.args(["keygen", &flag("keys", keys.to_str().unwrap())]);
    let generated = run(keygen).await.json();
    let jwks = &generated["jwks"];
    let uses: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["use"].as_str().unwrap())
        .collect();
    assert_eq!(uses, ["sig", "enc"]);
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("d").is_none()),
        "only public keys are registered"
    );
    let client = app.register_client(NewClient {
        name: "Cổng thuế điện tử".into(),
        subject_type: SubjectType::Pairwise,
        id_token_alg: "ES256".into(),
        jwks: Some(jwks.to_string()),
        token_endpoint_auth_method: Some("private_key_jwt".into()),
        token_endpoint_auth_signing_alg: Some("ES256".into()),
        security: SecurityMetadata {
            profile: Some("fapi2".into()),
            require_pushed_authorization_requests: true,
            dpop_bound_access_tokens: true,
            id_token_encrypted_response_alg: Some("ECDH-ES+A256KW".into()),
            id_token_encrypted_response_enc: Some("A256GCM".into()),
            ..SecurityMetadata::default()
        },
        ..TestClient::portal()
    });
    assert!(client.secret.is_none(), "a key, no secret");

    let authorize_url = |dpop_key: &Path| {
        let mut command = fapi_portal();
        command.arg("authorize-url");
        client_args(&mut command, &app, &client, &client.redirect_uri);
        command.args([
            flag("keys", keys.to_str().unwrap()),
            flag("dpop-key", dpop_key.to_str().unwrap()),
            flag("scope", "profile"),
        ]);
        command
    };
    let exchange = |dpop_key: &Path, code: &str, start: &Value| {
        let mut command = fapi_portal();
        command.arg("exchange");
        client_args(&mut command, &app, &client, &client.redirect_uri);
        command.args([
            flag("keys", keys.to_str().unwrap()),
            flag("dpop-key", dpop_key.to_str().unwrap()),
            flag("code", code),
            flag("verifier", start["verifier"].as_str().unwrap()),
            flag("nonce", start["nonce"].as_str().unwrap()),
        ]);
        command
    };

    catch_up(&app);
    let start = run(authorize_url(&dpop_key)).await.json();
    assert!(
        start["dpop_nonce_retries"].as_u64().unwrap() >= 1,
        "/par asked for the server's nonce: {start}"
    );
    // The front channel carries only the client and the reference (RFC 9126 §4).
    let url = start["url"].as_str().unwrap();
    let request_uri = start["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with(PAR_URN), "{request_uri}");
    let expected = format!(
        "{}?{}",
        app.url("/authorize"),
        serde_urlencoded::to_string([
            ("client_id", client.id.as_str()),
            ("request_uri", request_uri)
        ])
        .unwrap()
    );
    assert_eq!(url, expected);
    assert!(
        start["expires_in"]
            .as_u64()
            .is_some_and(|s| (1..=60).contains(&s)),
        "{start}"
    );

    let redirect = app.log_in(url, &citizen.number, PASSWORD).await;
    assert!(redirect.starts_with(&client.redirect_uri), "{redirect}");
    assert_eq!(query_param(&redirect, "state").unwrap(), start["state"]);
    assert_eq!(query_param(&redirect, "iss").unwrap(), app.issuer);
    let code = query_param(&redirect, "code").unwrap();
    // The pushed request was spent by the login: the same URL leads nowhere.
    let (status, location, _) = app.browse(url).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(location.is_none(), "no redirect: {location:?}");

    catch_up(&app);
    let result = run(exchange(&dpop_key, &code, &start)).await.json();
    assert_logged_in(&result, &citizen, &client);
    assert_eq!(result["token_type"], "DPoP");
    assert!(
        result["dpop_nonce_retries"].as_u64().unwrap() >= 1,
        "the token request learned the nonce: {result}"
    );
    // A nested JWT: encrypted to the client's `use: enc` key, signed inside.
    let id_token = result["id_token"].as_str().unwrap();
    assert_eq!(id_token.split('.').count(), 5, "a JWE");
    let encryption = &result["id_token_encryption"];
    assert_eq!(encryption["alg"], "ECDH-ES+A256KW");
    assert_eq!(encryption["enc"], "A256GCM");
    assert_eq!(encryption["cty"], "JWT");
    assert_eq!(encryption["kid"], jwks["keys"][1]["kid"]);
    assert_eq!(result["id_token_claims"]["nonce"], start["nonce"]);

    // Bound to the key whose proofs went to /par, /token and /userinfo.
    let jkt = result["dpop_jkt"].as_str().unwrap();
    assert_eq!(start["dpop_jkt"], jkt);
    let access_token = result["access_token"].as_str().unwrap();
    assert_eq!(payload_of(access_token)["cnf"]["jkt"], jkt);
    // Copied without the key, the token is worth nothing.
    assert_dpop_challenge(
        &userinfo_without_proof(&app, "Bearer", access_token).await,
        "invalid_token",
    );

    // The proof at /par bound the code to its key (RFC 9449 §10.1): a code that leaks
    // from the browser is redeemed with no other key, even by the client's own assertion.
    catch_up(&app);
    let start = run(authorize_url(&dpop_key)).await.json();
    let redirect = app
        .log_in(start["url"].as_str().unwrap(), &citizen.number, PASSWORD)
        .await;
    let code = query_param(&redirect, "code").unwrap();
    let other_key = dir.path().join("other-dpop-key.json");
    let refused = run(exchange(&other_key, &code, &start)).await;
    assert!(
        !refused.success,
        "a code bound at /par was redeemed with another key"
    );
    assert!(
        refused.stderr.contains("invalid_grant"),
        "{}",
        refused.stderr
    );
}

#[tokio::test]
async fn the_python_mobile_app_binds_its_tokens_to_its_dpop_key_and_a_copied_token_is_refused() {
    if !python_ready() {
        return;
    }
    let app = dpop_server(|_| {}).await;
    let citizen = app.citizen();
    let app_client = app.register_client(NewClient {
        name: "Ứng dụng công dân".into(),
        kind: ClientKind::Public,
        redirect_uris: vec!["http://127.0.0.1/callback".into()],
        scopes: "openid profile offline_access".into(),
        id_token_alg: "ES256".into(),
        security: SecurityMetadata {
            dpop_bound_access_tokens: true,
            ..SecurityMetadata::default()
        },
        ..NewClient::default()
    });
    assert!(app_client.secret.is_none());
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("dpop-key.json");
    let key_arg = flag("dpop-key", key_file.to_str().unwrap());
    let mobile = || python("mobile_dpop.py");
    let loopback = "http://127.0.0.1:51234/callback";

    catch_up(&app);
    let first = log_in_through(
        &app,
        &citizen,
        &app_client,
        loopback,
        mobile,
        &["profile offline_access"],
        std::slice::from_ref(&key_arg),
    )
    .await;
    assert_eq!(first["verified"], true);
    assert_eq!(first["token_type"], "DPoP");
    assert_eq!(first["userinfo"]["name"], citizen.record.full_name);
    let jkt = first["dpop_jkt"].as_str().unwrap();
    let access_token = first["access_token"].as_str().unwrap();
    assert_eq!(payload_of(access_token)["cnf"]["jkt"], jkt);
    let refresh_token = first["refresh_token"].as_str().expect("a refresh token");

    // The example, and a thief, send the token as Bearer: refused.
    catch_up(&app);
    let userinfo = |token: &str, extra: &[&str]| {
        let mut command = mobile();
        command.args([
            "userinfo".to_owned(),
            flag("issuer", &app.issuer),
            key_arg.clone(),
            flag("access-token", token),
        ]);
        command.args(extra);
        command
    };
    let refused = run(userinfo(access_token, &["--as-bearer"])).await;
    assert!(!refused.success, "a bound token was accepted as Bearer");
    assert!(
        refused.stderr.contains("401") && refused.stderr.contains("DPoP error=\"invalid_token\""),
        "{}",
        refused.stderr
    );
    // Even under the DPoP scheme, the token alone is not enough.
    let (status, challenge) = userinfo_without_proof(&app, "DPoP", access_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{challenge}");
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    // With a proof of the key, it works.
    let answer = run(userinfo(access_token, &[])).await.json();
    assert_eq!(answer["userinfo"]["sub"], first["id_token_claims"]["sub"]);

    let refresh = |token: &str, key: &str| {
        let mut command = mobile();
        command.arg("refresh");
        client_args(&mut command, &app, &app_client, loopback);
        command.args([
            flag("dpop-key", key),
            flag("id-token-alg", "ES256"),
            flag("refresh-token", token),
        ]);
        command
    };
    // A refresh token copied off the phone, used with another key: refused.
    let thief_key = dir.path().join("thief-key.json");
    let stolen = run(refresh(refresh_token, thief_key.to_str().unwrap())).await;
    assert!(!stolen.success, "a stolen refresh token was accepted");
    assert!(stolen.stderr.contains("invalid_grant"), "{}", stolen.stderr);

    catch_up(&app);
    let second = run(refresh(refresh_token, key_file.to_str().unwrap()))
        .await
        .json();
    assert_eq!(second["verified"], true);
    assert_eq!(second["token_type"], "DPoP");
    assert_eq!(second["dpop_jkt"], jkt);
    assert_eq!(
        payload_of(second["access_token"].as_str().unwrap())["cnf"]["jkt"],
        jkt,
        "the new access token is bound to the same key"
    );
    assert_eq!(
        second["id_token_claims"]["sub"],
        first["id_token_claims"]["sub"]
    );
    assert_ne!(second["refresh_token"], first["refresh_token"], "rotated");
}
