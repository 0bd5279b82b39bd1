//! Request limits: oversized request heads, too many requests or connections from one
//! address. Programs get OAuth error JSON, browsers a page; health checks are exempt.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE, RETRY_AFTER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Fetch, TestApp, assert_oauth_error, status_and_json, token_request};

/// A citizen's whole login from `url` (an authorization request), to the code: what a
/// flood must leave working.
async fn assert_a_citizen_logs_in(app: &TestApp, url: &str) {
    let citizen = app.citizen();
    let redirect = app
        .log_in(url, &citizen.number, crate::helpers::PASSWORD)
        .await;
    assert!(
        crate::helpers::query_param(&redirect, "code").is_some(),
        "{redirect}"
    );
}

#[tokio::test]
async fn oversized_uris_get_414_and_oversized_headers_431_as_oauth_errors_or_pages() {
    let app = TestApp::spawn().await;
    let long = "a".repeat(app.settings.limits.max_uri_bytes);

    let response = app
        .http
        .get(app.url(&format!("/authorize?client_id={long}")))
        .fetch()
        .await;
    assert_oauth_error(
        &status_and_json(response).await,
        StatusCode::URI_TOO_LONG,
        "invalid_request",
    );

    // A browser gets a page in its language.
    let response = app
        .http
        .get(app.url(&format!("/authorize?client_id={long}")))
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .header(ACCEPT_LANGUAGE, "en")
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::URI_TOO_LONG);
    let page = response.text().await.unwrap();
    assert!(page.contains("The request is too long"), "{page}");

    // Twenty 1 KB headers pass actix-web's own bound but not ours.
    let mut request = app.http.post(app.url("/token"));
    for i in 0..20 {
        request = request.header(format!("x-padding-{i}"), "b".repeat(1000));
    }
    assert_oauth_error(
        &status_and_json(request.fetch().await).await,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "invalid_request",
    );

    // Just under the bounds, requests are served.
    let fits = "a".repeat(app.settings.limits.max_uri_bytes - 200);
    let response = app
        .http
        .get(app.url(&format!("/jwks.json?pad={fits}")))
        .header("x-padding", "b".repeat(10_000))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_address_over_its_request_rate_gets_429_with_retry_after_until_the_window_ends() {
    let app = TestApp::spawn_with(|s| s.limits.requests_per_minute_per_ip = 5).await;
    let client = app.confidential_client();
    for _ in 0..5 {
        let response = app.http.get(app.url("/jwks.json")).fetch().await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    let response = app.http.get(app.url("/jwks.json")).fetch().await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[RETRY_AFTER], "60");
    let (_, body) = status_and_json(response).await;
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");

    // Every endpoint shares the address's budget, the token endpoint included.
    assert_oauth_error(
        &token_request(&app, &client, &[("grant_type", "client_credentials")]).await,
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
    );

    // A citizen's browser is told in Vietnamese, the default.
    let response = app
        .browser
        .get(app.url("/login"))
        .header(ACCEPT, "text/html")
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = response.text().await.unwrap();
    assert!(page.contains("Có quá nhiều yêu cầu"), "{page}");

    // Health checks are never limited.
    let response = app.http.get(app.url("/healthz")).fetch().await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.http.get(app.url("/readyz")).fetch().await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let app = TestApp::spawn_with(|s| {
        s.limits.requests_per_minute_per_ip = 2;
        s.limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let from = |client: &'static str| {
        app.http
            .get(app.url("/jwks.json"))
            .header("x-forwarded-for", client)
    };
    for _ in 0..2 {
        assert_eq!(from("203.0.113.7").fetch().await.status(), StatusCode::OK);
    }
    assert_eq!(
        from("203.0.113.7").fetch().await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another citizen behind the same proxy is unaffected; an address the client
    // prepended itself is not believed over the one the proxy appended.
    assert_eq!(from("203.0.113.8").fetch().await.status(), StatusCode::OK);
    assert_eq!(
        from("198.51.100.1, 203.0.113.7").fetch().await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// One host holds a whole IPv6 /64: its addresses share one budget (a count per
/// address gave it 2^64 budgets), and another /64 has its own.
#[tokio::test]
async fn the_addresses_of_one_ipv6_network_share_one_request_budget() {
    let app = TestApp::spawn_with(|s| {
        s.limits.requests_per_minute_per_ip = 3;
        s.limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let from = |client: &str| {
        app.http
            .get(app.url("/jwks.json"))
            .header("x-forwarded-for", client.to_owned())
            .send()
    };
    for client in ["2001:db8:5:5::1", "2001:db8:5:5::2", "2001:db8:5:5:ffff::3"] {
        assert_eq!(from(client).await.unwrap().status(), StatusCode::OK);
    }
    let refused = from("2001:db8:5:5:abcd:1234:5678:9").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        from("2001:db8:5:6::1").await.unwrap().status(),
        StatusCode::OK
    );
    // An IPv4 client written as an IPv4-mapped IPv6 address is that IPv4 client.
    for _ in 0..3 {
        from("192.0.2.44").await.unwrap();
    }
    assert_eq!(
        from("::ffff:192.0.2.44").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// An attacker with many IPv6 networks makes one request count per /64. Those counts
/// never made the in-process store drop one, so they filled it, and every citizen's
/// login after them failed as an unavailable store; now the oldest counts go.
#[tokio::test]
async fn request_counts_from_many_networks_do_not_fill_the_store() {
    let app = TestApp::spawn_with(|s| {
        s.redis.in_process_max_entries = 1000;
        s.limits.requests_per_minute_per_ip = 100;
        s.limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    for batch in 0..25 {
        let mut requests = tokio::task::JoinSet::new();
        for i in 0..50 {
            let request = app
                .http
                .get(app.url("/jwks.json"))
                .header("x-forwarded-for", format!("2001:db8:{batch:x}:{i:x}::1"))
                .send();
            requests.spawn(async move { request.await.unwrap().status() });
        }
        while let Some(status) = requests.join_next().await {
            assert_eq!(status.unwrap(), StatusCode::OK);
        }
    }
    let client = app.confidential_client();
    let url = app.relying_party(&client).await.authorize_url(&[]).url;
    assert_a_citizen_logs_in(&app, &url).await;
}

#[tokio::test]
async fn untrusted_peers_cannot_choose_their_address_with_x_forwarded_for() {
    let app = TestApp::spawn_with(|s| s.limits.requests_per_minute_per_ip = 2).await;
    for client in ["203.0.113.1", "203.0.113.2"] {
        let response = app
            .http
            .get(app.url("/jwks.json"))
            .header("x-forwarded-for", client)
            .fetch()
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = app
        .http
        .get(app.url("/jwks.json"))
        .header("x-forwarded-for", "203.0.113.3")
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// One HTTP/1.1 request on a raw connection that stays open: its status code.
async fn request_on(connection: &mut TcpStream, path: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n");
    connection.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(5), connection.read(&mut byte))
            .await
            .expect("the server answers")
            .unwrap();
        assert_eq!(read, 1, "the server closed the connection mid-answer");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    connection.read_exact(&mut body).await.unwrap();
    head[9..12].parse().unwrap()
}

#[tokio::test]
async fn an_address_holding_too_many_connections_is_refused_until_it_closes_one() {
    let app = TestApp::spawn_with(|s| s.limits.max_connections_per_ip = 2).await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let connect = || TcpStream::connect(format!("127.0.0.1:{port}"));
    // The start-up readiness probe's connection is closing; let the server see it go.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut first = connect().await.unwrap();
    let mut second = connect().await.unwrap();
    assert_eq!(request_on(&mut first, "/jwks.json").await, 200);
    assert_eq!(request_on(&mut second, "/jwks.json").await, 200);

    let mut third = connect().await.unwrap();
    assert_eq!(request_on(&mut third, "/jwks.json").await, 429);
    // The refused connection is closed by the server.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0))), "{closed:?}");

    // The first two still work; once one closes, a new connection is served.
    assert_eq!(request_on(&mut first, "/jwks.json").await, 200);
    drop(second);
    let mut served = None;
    for _ in 0..50 {
        let mut fresh = connect().await.unwrap();
        let status = request_on(&mut fresh, "/jwks.json").await;
        if status == 200 {
            served = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served, Some(200), "a closed connection frees its slot");
}

/// Each pending login is held in the store until it ends: one network, or one browser,
/// can only hold so many at once; the others are unaffected.
#[tokio::test]
async fn one_network_or_one_browser_can_hold_only_so_many_pending_logins() {
    let app = TestApp::spawn_with(|s| {
        s.limits.login_flows_per_ip = 5;
        s.limits.login_flows_per_browser = 3;
        s.limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let client = app.confidential_client();
    let url = app.relying_party(&client).await.authorize_url(&[]).url;
    let location =
        |response: &reqwest::Response| response.headers()["location"].to_str().unwrap().to_owned();
    // Anonymous requests (no cookie kept) from one IPv6 /64, each from another address.
    let anonymous = crate::helpers::http_client(false);
    for i in 1..=5 {
        let response = anonymous
            .get(&url)
            .header("x-forwarded-for", format!("2001:db8:7:7::{i}"))
            .fetch()
            .await;
        assert!(location(&response).starts_with("/login?flow="), "{i}");
    }
    let refused = anonymous
        .get(&url)
        .header("x-forwarded-for", "2001:db8:7:7::99")
        .fetch()
        .await;
    let refused = location(&refused);
    assert!(refused.starts_with(&client.redirect_uri), "{refused}");
    assert!(
        refused.contains("error=temporarily_unavailable"),
        "{refused}"
    );
    // Another network is unaffected.
    let response = anonymous
        .get(&url)
        .header("x-forwarded-for", "2001:db8:8:8::1")
        .fetch()
        .await;
    assert!(location(&response).starts_with("/login?flow="));

    // One browser (its cookie kept), from addresses of its own.
    for i in 1..=3 {
        let response = app
            .browser
            .get(&url)
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .fetch()
            .await;
        assert!(location(&response).starts_with("/login?flow="), "{i}");
    }
    let response = app
        .browser
        .get(&url)
        .header("x-forwarded-for", "198.51.100.50")
        .fetch()
        .await;
    assert!(location(&response).contains("error=temporarily_unavailable"));
}

/// A flood of new browsers (no cookie kept) from one network, past its limit of pending
/// logins: each request still leaves a count for its browser, and those counts are
/// dropped under pressure like the pending logins themselves, so the flood cannot fill
/// the in-process store and a citizen arriving after it logs in. The network's own
/// count is never dropped: it stays refused.
#[tokio::test]
async fn a_flood_of_new_browsers_past_the_network_limit_leaves_room_for_citizens() {
    let app = TestApp::spawn_with(|s| {
        s.redis.in_process_max_entries = 1000;
        s.limits.requests_per_minute_per_ip = 0;
        s.limits.login_flows_per_ip = 5;
        s.limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let client = app.confidential_client();
    let url = app.relying_party(&client).await.authorize_url(&[]).url;
    let anonymous = crate::helpers::http_client(false);
    let attack = |i: usize| {
        anonymous
            .get(&url)
            .header("x-forwarded-for", format!("2001:db8:7:7::{i:x}"))
            .send()
    };
    for round in 0..30 {
        let mut batch = tokio::task::JoinSet::new();
        for i in 0..50 {
            let request = attack(round * 50 + i + 1);
            batch.spawn(async move {
                let response = request.await.unwrap();
                let location = response.headers()["location"].to_str().unwrap().to_owned();
                (response.status(), location)
            });
        }
        while let Some(answer) = batch.join_next().await {
            let (status, location) = answer.unwrap();
            assert_eq!(status, StatusCode::FOUND);
            assert!(
                location.starts_with("/login?flow=")
                    || location.contains("error=temporarily_unavailable"),
                "{location}"
            );
        }
    }
    let refused = attack(5000).await.unwrap();
    let refused = refused.headers()["location"].to_str().unwrap();
    assert!(
        refused.contains("error=temporarily_unavailable"),
        "{refused}"
    );

    // A citizen from another address, after the flood: the whole login, to the code.
    assert_a_citizen_logs_in(&app, &url).await;
}

/// New browsers (no cookie) that their network's limit refuses leave nothing in the
/// store: each one used to leave a count of its own for a login's lifetime, so a flood
/// refused at the door still filled Redis (100,000 keys for 100,000 requests).
#[tokio::test]
async fn new_browsers_refused_by_their_network_leave_no_count_behind() {
    let app = TestApp::spawn_with(|s| {
        s.limits.requests_per_minute_per_ip = 0;
        s.limits.login_flows_per_ip = 5;
    })
    .await;
    let client = app.confidential_client();
    let url = app.relying_party(&client).await.authorize_url(&[]).url;
    let anonymous = crate::helpers::http_client(false);
    let mut refused = 0;
    for _ in 0..200 {
        let response = anonymous.get(&url).fetch().await;
        let location = response.headers()["location"].to_str().unwrap();
        if location.contains("error=temporarily_unavailable") {
            refused += 1;
        } else {
            assert!(location.starts_with("/login?flow="), "{location}");
        }
    }
    assert_eq!(refused, 195);

    if let Some(prefix) = &app.redis_prefix {
        let redis = redis::Client::open(std::env::var("TEST_REDIS_URL").unwrap()).unwrap();
        let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
        let counts: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}flows:browser:*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(counts.len(), 5, "one count per browser let in");
    } else {
        let metrics = app.http.get(app.url("/metrics")).fetch_text().await;
        let entries: f64 = metrics
            .lines()
            .find_map(|line| line.strip_prefix("citizen_idp_store_entries "))
            .unwrap()
            .parse()
            .unwrap();
        // Five flows, their browsers' counts, the network's count, and little else.
        assert!(entries < 50.0, "{entries}");
    }
}
