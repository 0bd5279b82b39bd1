//! The server on a Redis Cluster of the test's own (three masters, no replicas): the
//! whole flow works on it, a lost master gives 503s rather than errors and the cluster
//! recovers without a restart of the server, and a master that loses its data never
//! revives a revoked token.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use openidconnect::OAuth2TokenResponse;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    Fetch, PASSWORD, TestApp, TestClient, assert_oauth_error, client_post, query_param,
    token_request,
};
use crate::redis_cluster::RedisCluster;

/// A server whose store is `cluster`, with short timeouts so that faults show fast.
async fn app_on(cluster: &RedisCluster) -> TestApp {
    let urls = cluster.urls();
    TestApp::spawn_with(move |settings| {
        settings.redis.url.clear();
        settings.redis.cluster_urls = urls;
        settings.redis.key_prefix = format!("cidp-cluster:{}:", uuid::Uuid::new_v4().simple());
        settings.redis.response_timeout_ms = 500;
        settings.redis.connection_timeout_ms = 300;
    })
    .await
}

async fn status_of(app: &TestApp, path: &str) -> StatusCode {
    app.http.get(app.url(path)).fetch().await.status()
}

fn offline_client(app: &TestApp) -> TestClient {
    let mut registration = TestClient::portal();
    registration.scopes = "openid profile offline_access".into();
    app.register_client(registration)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_exchange_refresh_and_revocation_work_on_a_redis_cluster() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let app = app_on(&cluster).await;
    let started = Instant::now();
    assert_eq!(status_of(&app, "/readyz").await, StatusCode::OK);
    let citizen = app.citizen();
    let client = offline_client(&app);

    // Log in, get a code, exchange it; the relying party checks the ID token.
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&["profile", "offline_access"]);
    let redirect = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    let code = query_param(&redirect, "code").unwrap();
    let verifier = start.verifier.secret().clone();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let claims = rp.verify(&tokens, &start.nonce);
    assert_eq!(claims.subject().as_str(), citizen.subject);
    let access_token = tokens.access_token().secret().clone();
    assert_eq!(app.userinfo(&access_token).await.0, StatusCode::OK);

    // Refresh, then revoke the new refresh token: its family's access tokens die too.
    let refresh_token = tokens.refresh_token().unwrap().secret().clone();
    let (status, refreshed) = client_post(
        &app,
        "/token",
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let refreshed_access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(app.userinfo(refreshed_access).await.0, StatusCode::OK);
    let new_refresh = refreshed["refresh_token"].as_str().unwrap();
    let (status, _) = client_post(&app, "/revoke", &client, &[("token", new_refresh)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.userinfo(refreshed_access).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, answer) = client_post(&app, "/introspect", &client, &[("token", new_refresh)]).await;
    assert_eq!(answer["active"], false);

    // Single sign-on: the session is in the cluster.
    let again = rp.authorize_url(&[]);
    let (status, location, _) = app.browse(&again.url).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.unwrap().starts_with(&client.redirect_uri));

    // The code is single-use on the cluster too (last: a replay revokes what
    // the code gave).
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    assert_oauth_error(
        &client_post(&app, "/token", &client, &exchange).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );

    let keys = cluster.keys_per_node(app.redis_prefix.as_deref().unwrap());
    assert!(
        keys.iter().sum::<usize>() > 0,
        "the state is in the cluster"
    );
    eprintln!(
        "flow on the cluster: {:?} (keys per master: {keys:?})",
        started.elapsed()
    );
}

async fn code_exchange(app: &TestApp, client: &TestClient) -> (StatusCode, Value) {
    token_request(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", client.redirect_uri.as_str()),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_master_gives_503s_and_the_cluster_recovers_without_a_restart() {
    let Some(mut cluster) = RedisCluster::start() else {
        return;
    };
    let app = app_on(&cluster).await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let kept = app.access_token(&citizen, &client, &["profile"]).await;
    let revoked = app.access_token(&citizen, &client, &["profile"]).await;
    let (status, _) = client_post(&app, "/revoke", &client, &[("token", revoked.as_str())]).await;
    assert_eq!(status, StatusCode::OK);

    // The survivors declare the cluster failed (no master serves a third of the slots)
    // and refuse every command, so every store-dependent request fails the same way.
    tokio::task::block_in_place(|| {
        cluster.kill(0);
        cluster.wait_for_state(1, "fail");
    });
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (status, body) = code_exchange(&app, &client).await;
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
    for path in [
        "/.well-known/openid-configuration",
        "/jwks.json",
        "/healthz",
    ] {
        assert_eq!(status_of(&app, path).await, StatusCode::OK, "{path}");
    }
    assert_eq!(
        status_of(&app, "/readyz").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready while a master is lost"
    );

    // The master comes back empty and takes its slots again; the server follows.
    tokio::task::block_in_place(|| {
        cluster.restart(0);
        for node in 0..cluster.len() {
            cluster.wait_for_state(node, "ok");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.userinfo(&kept).await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "userinfo recovers");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status_of(&app, "/readyz").await, StatusCode::OK);
    assert_eq!(
        app.userinfo(&revoked).await.0,
        StatusCode::UNAUTHORIZED,
        "still revoked"
    );
    assert_oauth_error(
        &code_exchange(&app, &client).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_master_losing_its_data_revives_a_revoked_token() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let app = app_on(&cluster).await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let kept = app.access_token(&citizen, &client, &["profile"]).await;
    // Enough revocations that, were they spread over the slots, some would sit on a
    // master other than the one holding the list's "complete" sentinel.
    let mut revoked = Vec::new();
    for _ in 0..6 {
        let token = app.access_token(&citizen, &client, &["profile"]).await;
        let (status, _) = client_post(&app, "/revoke", &client, &[("token", token.as_str())]).await;
        assert_eq!(status, StatusCode::OK);
        revoked.push(token);
    }
    assert_eq!(app.userinfo(&kept).await.0, StatusCode::OK);

    for node in 0..cluster.len() {
        cluster.flush(node);
        for token in &revoked {
            assert_eq!(
                app.userinfo(token).await.0,
                StatusCode::UNAUTHORIZED,
                "a revoked token came back after master {node} lost its data"
            );
        }
        assert_eq!(app.userinfo(&kept).await.0, StatusCode::OK);
    }
}

/// The binary run as its own process, killed when dropped (also when the test fails).
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_takes_its_cluster_from_the_environment_but_not_with_a_url_as_well() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let app = TestApp::spawn().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    // The environment gives a list as comma-separated URLs.
    let cluster_urls = cluster.urls().join(",");

    let refused = app
        .cli_with_env(
            &["serve"],
            &[
                ("CITIZEN_IDP__SERVER__LISTEN", &listen),
                ("CITIZEN_IDP__REDIS__CLUSTER_URLS", &cluster_urls),
                ("CITIZEN_IDP__REDIS__URL", "redis://127.0.0.1:6379/"),
            ],
        )
        .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("redis.cluster_urls") && stderr.contains("not both"),
        "{stderr}"
    );

    let _server = Serving(
        Command::new(env!("CARGO_BIN_EXE_citizen-idp"))
            .arg("serve")
            .env("CITIZEN_IDP__SERVER__LISTEN", &listen)
            .env("CITIZEN_IDP__DATABASE__URL", &app.settings.database.url)
            .env("CITIZEN_IDP__KEYS__DIR", &app.settings.keys.dir)
            .env("CITIZEN_IDP__REDIS__CLUSTER_URLS", &cluster_urls)
            .env_remove("CITIZEN_IDP__REDIS__URL")
            .env("CITIZEN_IDP__DEMO__ENABLED", "false")
            .env("CITIZEN_IDP__LOG__FILTER", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let address = format!("http://{listen}");
    crate::helpers::wait_until_ready(&app.http, &address).await;
    let ready = app
        .http
        .get(format!("{address}/readyz"))
        .fetch()
        .await
        .status();
    assert_eq!(ready, StatusCode::OK, "ready on the cluster");
}
