//! Requests the server makes to relying parties' URLs (`jwks_uri`,
//! `backchannel_logout_uri`): never to internal addresses unless
//! `outbound.allow_private_networks` is on, checked at registration (admin API and
//! command line) and again at each connection; and a `jwks_uri` fetched at most once
//! per interval whatever unauthenticated callers send.
//!
//! The fake relying-party servers here count the TCP connections they accept, so a
//! test sees whether the server even tried to connect (a TLS handshake against them
//! fails, but the connection has been made by then).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use citizen_idp::storage::logout_outbox::{self, DeliveryState};
use citizen_idp::tokens::keys::{SigningAlg, SigningKey};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::client_assertion::{JWT_BEARER, KeyClient, assertion, jwks_of, register, token_with};
use crate::helpers::{Fetch, TestApp, assert_succeeded};
use crate::logout::{id_token, logout_url, portal_with_logout};

/// URLs a relying party must not make this server call, as the issue reported them,
/// and the reason each must be refused for.
const FORBIDDEN: [(&str, &str); 7] = [
    ("http://127.0.0.1:9/jwks.json", "must be an https URL"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://[::1]/jwks.json", "loopback"),
    ("https://10.0.0.5/jwks.json", "private"),
    ("https://[::ffff:127.0.0.1]/jwks.json", "loopback"),
    ("https://100.64.0.1/jwks.json", "carrier-grade NAT"),
    ("https://localhost/jwks.json", "localhost"),
];

/// A TCP server on 127.0.0.1 that counts the connections it accepts and answers each
/// request, after `delay`, with `body` as JSON (or closes when there is none).
struct CountingServer {
    port: u16,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingServer {
    async fn start(body: Option<String>, delay: Duration) -> CountingServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16384 {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    tokio::time::sleep(delay).await;
                    if let Some(body) = body {
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = socket.write_all(response.as_bytes()).await;
                    }
                    let _ = socket.shutdown().await;
                });
            }
        });
        CountingServer {
            port,
            connections,
            task,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An app with the outbound policy as in production, and the admin API on.
async fn strict_app() -> TestApp {
    TestApp::spawn_with_admin(|settings| {
        settings.outbound.allow_private_networks = false;
        settings.logout.outbox_poll_ms = 50;
        settings.logout.backchannel_retry_base_ms = 50;
    })
    .await
}

async fn admin_create(app: &TestApp, metadata: Value) -> (StatusCode, Value) {
    app.admin(Method::POST, "/admin/clients", Some(&metadata))
        .await
}

fn key_client_metadata(jwks_uri: &str) -> Value {
    json!({
        "client_name": "Hệ thống bảo hiểm",
        "grant_types": ["client_credentials"],
        "scope": "insurance.read",
        "jwks_uri": jwks_uri,
    })
}

fn portal_metadata(backchannel_logout_uri: &str) -> Value {
    json!({
        "client_name": "Cổng thuế",
        "redirect_uris": ["https://thue.example.gov.vn/cb"],
        "backchannel_logout_uri": backchannel_logout_uri,
    })
}

#[tokio::test]
async fn the_admin_api_refuses_jwks_and_logout_uris_that_name_internal_hosts() {
    let app = strict_app().await;
    for (uri, reason) in FORBIDDEN {
        let (status, body) = admin_create(&app, key_client_metadata(uri)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "jwks_uri {uri}: {body}");
        assert_eq!(body["error"], "invalid_client_metadata", "{uri}");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.starts_with("jwks_uri") && description.contains(reason),
            "{uri}: {description}"
        );

        let (status, body) = admin_create(&app, portal_metadata(uri)).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "backchannel_logout_uri {uri}: {body}"
        );
        assert_eq!(body["error"], "invalid_client_metadata", "{uri}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with("backchannel_logout_uri"),
            "{body}"
        );
    }
    let (_, listed) = app.admin(Method::GET, "/admin/clients", None).await;
    assert_eq!(listed["clients"], json!([]), "nothing was stored");

    // A replacement (PUT) is checked too: a stored client cannot be moved inside.
    // `.invalid` never resolves (RFC 6761 §6.4), so this one is taken on its face.
    let (status, created) = admin_create(
        &app,
        key_client_metadata("https://keys.bhxh.invalid/jwks.json"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["client_id"].as_str().unwrap();
    let (status, body) = app
        .admin(
            Method::PUT,
            &format!("/admin/clients/{id}"),
            Some(&key_client_metadata("https://[fd00::5]/jwks.json")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("unique-local"),
        "{body}"
    );
}

#[tokio::test]
async fn with_private_networks_allowed_a_developer_registers_a_loopback_jwks_uri() {
    let app = TestApp::spawn_with_admin(|settings| {
        assert!(
            settings.outbound.allow_private_networks,
            "the test harness allows private networks"
        );
    })
    .await;
    let (status, body) =
        admin_create(&app, key_client_metadata("http://127.0.0.1:9/jwks.json")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Still not any scheme at all.
    let (status, _) = admin_create(&app, key_client_metadata("ftp://127.0.0.1/jwks")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_command_line_refuses_internal_jwks_and_logout_uris_with_a_reason() {
    let app = strict_app().await;
    let strict = [("CITIZEN_IDP__OUTBOUND__ALLOW_PRIVATE_NETWORKS", "false")];
    for (uri, reason) in FORBIDDEN {
        let output = app
            .cli_with_env(
                &[
                    "clients",
                    "create",
                    "--confidential",
                    "--name",
                    "Bảo hiểm",
                    "--grant-type",
                    "client_credentials",
                    "--scope",
                    "insurance.read",
                    "--jwks-uri",
                    uri,
                ],
                &strict,
            )
            .await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{uri} was accepted");
        assert!(
            stderr.contains("jwks_uri") && stderr.contains(reason),
            "{uri}: {stderr}"
        );
        let output = app
            .cli_with_env(
                &[
                    "clients",
                    "create",
                    "--confidential",
                    "--name",
                    "Cổng thuế",
                    "--redirect-uri",
                    "https://thue.example.gov.vn/cb",
                    "--backchannel-logout-uri",
                    uri,
                ],
                &strict,
            )
            .await;
        assert!(!output.status.success(), "{uri} was accepted");
        assert!(String::from_utf8_lossy(&output.stderr).contains("backchannel_logout_uri"));
    }

    // An update that would move a client's logout URI inside is refused, and the
    // client keeps what it had.
    let created = app
        .cli_with_env(
            &[
                "clients",
                "create",
                "--confidential",
                "--id",
                "tax-portal",
                "--name",
                "Cổng thuế",
                "--redirect-uri",
                "https://thue.example.gov.vn/cb",
            ],
            &strict,
        )
        .await;
    assert_succeeded(&created);
    let updated = app
        .cli_with_env(
            &[
                "clients",
                "update",
                "tax-portal",
                "--backchannel-logout-uri",
                "https://[::ffff:a9fe:a9fe]/logout",
            ],
            &strict,
        )
        .await;
    assert!(!updated.status.success());
    assert!(String::from_utf8_lossy(&updated.stderr).contains("link-local"));
    let shown = app.cli(&["clients", "show", "tax-portal"], None).await;
    assert!(String::from_utf8_lossy(&shown.stdout).contains("backchannel_logout_uri: \n"));
}

/// A client registered while the policy allowed it (or whose name now resolves
/// inside): the check at each connection still stops the fetch.
#[tokio::test]
async fn a_stored_jwks_uri_pointing_inside_is_never_fetched_at_token_time() {
    let app = strict_app().await;
    let signing: Vec<SigningKey> = (0..4)
        .map(|_| SigningKey::generate(SigningAlg::Es256).unwrap().0)
        .collect();
    let published = jwks_of(&signing.iter().collect::<Vec<_>>());
    let keys = CountingServer::start(Some(published), Duration::ZERO).await;
    let port = keys.port;
    let uris = [
        // Plain http to a loopback literal: refused before any connection.
        format!("http://127.0.0.1:{port}/jwks.json"),
        // An https literal: the connector skips the resolver for these.
        format!("https://127.0.0.1:{port}/jwks.json"),
        format!("https://[::ffff:127.0.0.1]:{port}/jwks.json"),
        // A name that resolves to loopback, as a rebound name would: refused by the
        // resolver at connection time.
        format!("https://localhost:{port}/jwks.json"),
    ];
    for (n, (uri, key)) in uris.iter().zip(signing).enumerate() {
        // Stored directly: registration would refuse it now.
        let client = KeyClient {
            id: register(&app, None, Some(uri.clone())),
            key,
        };
        let (status, body) = token_with(
            &app,
            &assertion(&app, &client, &app.issuer, 60, &format!("inside-{n}")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}: {body}");
        assert_eq!(body["error"], "invalid_client", "{uri}");
    }
    assert_eq!(
        keys.connections(),
        0,
        "no connection to an internal address"
    );
}

/// Delivered outbox rows, or the failures of the policy: waits until every row ended.
async fn finished_deliveries(app: &TestApp, expected: usize) -> Vec<DeliveryState> {
    for _ in 0..200 {
        let rows = app.db.run_blocking(logout_outbox::all).unwrap();
        if rows.len() == expected && rows.iter().all(|r| r.finished_at.is_some()) {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the outbox never finished: {:?}",
        app.db.run_blocking(logout_outbox::all).unwrap()
    );
}

#[tokio::test]
async fn a_back_channel_logout_is_not_delivered_to_an_internal_address() {
    let app = strict_app().await;
    let receiver = CountingServer::start(Some("{}".into()), Duration::ZERO).await;
    let port = receiver.port;
    let uris = [
        format!("http://127.0.0.1:{port}/backchannel"),
        format!("https://127.0.0.1:{port}/backchannel"),
        format!("https://localhost:{port}/backchannel"),
    ];
    for uri in &uris {
        let citizen = app.citizen();
        let portal = portal_with_logout(&app, Some(uri));
        let hint = id_token(&app, &citizen, &portal).await;
        let (status, _, _) = app
            .browse(&logout_url(&app, &[("id_token_hint", &hint)]))
            .await;
        assert!(status.is_success() || status.is_redirection(), "{status}");
    }
    let rows = finished_deliveries(&app, uris.len()).await;
    for row in &rows {
        assert_eq!(row.status, "failed", "{row:?}");
        assert_eq!(row.attempts, 1, "not retried: {row:?}");
        assert!(
            row.last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("address not allowed")),
            "{row:?}"
        );
    }
    assert_eq!(receiver.connections(), 0, "nothing reached the address");
}

/// Parallel token requests, each with an assertion signed by a key the client never
/// published (an attacker needs only the client id), all sent at once.
async fn flood(app: &TestApp, client_id: &str, requests: usize, round: &str) {
    let token_endpoint = app.url("/token");
    let mut running = tokio::task::JoinSet::new();
    for n in 0..requests {
        let (stranger, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
        let forged = KeyClient {
            id: client_id.to_owned(),
            key: stranger,
        };
        // A new client accepts only the issuer as the audience (issue 15 point 1).
        let forged = assertion(app, &forged, &app.issuer, 60, &format!("{round}-{n}"));
        let (http, url) = (app.http.clone(), token_endpoint.clone());
        running.spawn(async move {
            let response = http
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", &forged),
                ])
                .fetch()
                .await;
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        });
    }
    for (status, body) in running.join_all().await {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"], "invalid_client");
    }
}

#[tokio::test]
async fn a_flood_of_assertions_with_unknown_keys_fetches_the_jwks_uri_once() {
    // The policy on: the key server is on loopback.
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    // A slow key server, so that the parallel requests all arrive during the fetch.
    let keys = CountingServer::start(Some(jwks_of(&[&key])), Duration::from_millis(300)).await;
    let uri = format!("http://127.0.0.1:{}/jwks.json", keys.port);
    let client = KeyClient {
        id: register(&app, None, Some(uri)),
        key,
    };

    flood(&app, &client.id, 20, "first").await;
    assert_eq!(keys.connections(), 1, "20 parallel requests, one fetch");
    // Later unknown keys within the interval do not fetch again either.
    flood(&app, &client.id, 20, "second").await;
    assert_eq!(keys.connections(), 1, "40 requests, one fetch");
    eprintln!(
        "jwks flood: 40 forged assertions (2 rounds of 20 in parallel) -> {} fetch(es)",
        keys.connections()
    );

    // The client itself is served from what was fetched.
    let (status, body) =
        token_with(&app, &assertion(&app, &client, &app.issuer, 60, "genuine")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(keys.connections(), 1);
}
