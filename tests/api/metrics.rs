//! `/metrics`: what a login and a token exchange leave in it, that it parses as the
//! Prometheus text format, that each server counts only its own traffic, and who may
//! read it.

use std::collections::{BTreeMap, HashMap};

use citizen_idp::config::SecretSetting;
use citizen_idp::domain::citizen::{AccountStatus, LifeStatus};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};

use crate::helpers::{Fetch, PASSWORD, TestApp, query_param};

/// One sample line: `name{label="value",...} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(raw: &str) -> Result<f64, String> {
    match raw {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => raw.parse().map_err(|_| format!("bad value {raw:?}")),
    }
}

/// `{a="x",b="y"}` (after the name), with the text format's escapes; returns the
/// labels and the rest of the line.
fn parse_labels(mut rest: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    rest = rest.strip_prefix('{').ok_or("no {")?;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("unquoted label value")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => return Err(format!("bad escape \\{c}")),
                },
                (_, c) => value.push(c),
            }
        };
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("label {name} repeated"));
        }
        rest = &rest[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Parses the text exposition format (version 0.0.4), failing on any line outside its
/// grammar, on a sample whose family has no TYPE, and on a histogram whose buckets are
/// not cumulative or whose +Inf bucket differs from its count.
fn parse_exposition(text: &str) -> Result<Vec<Sample>, String> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let fail = |why: String| format!("line {}: {why}: {line:?}", number + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), _) if is_metric_name(name) => {}
                (Some("TYPE"), Some(name), Some(kind)) if is_metric_name(name) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(fail(format!("unknown type {kind}")));
                    }
                    if types.insert(name.to_owned(), kind.to_owned()).is_some() {
                        return Err(fail("TYPE given twice".into()));
                    }
                }
                _ => return Err(fail("bad comment".into())),
            }
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| fail("no value".into()))?;
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(fail("bad metric name".into()));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(fail)?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let mut fields = rest.split_whitespace();
        let value =
            parse_value(fields.next().ok_or_else(|| fail("no value".into()))?).map_err(fail)?;
        if let Some(timestamp) = fields.next() {
            timestamp
                .parse::<i64>()
                .map_err(|_| fail("bad timestamp".into()))?;
        }
        if fields.next().is_some() {
            return Err(fail("trailing text".into()));
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| types.get(*base).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        if !types.contains_key(family) {
            return Err(fail("sample before its TYPE".into()));
        }
        if name.ends_with("_bucket") && !labels.contains_key("le") {
            return Err(fail("bucket without le".into()));
        }
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    check_histograms(&samples)?;
    Ok(samples)
}

/// A histogram series: its name and labels (without `le`).
type SeriesKey = (String, Vec<(String, String)>);

fn check_histograms(samples: &[Sample]) -> Result<(), String> {
    // Each series' buckets as (le, cumulative count).
    let mut series: BTreeMap<SeriesKey, Vec<(f64, f64)>> = BTreeMap::new();
    for sample in samples.iter().filter(|s| s.name.ends_with("_bucket")) {
        let mut key_labels: Vec<_> = sample
            .labels
            .iter()
            .filter(|(k, _)| *k != "le")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        key_labels.sort();
        let le = parse_value(&sample.labels["le"])?;
        let base = sample.name.trim_end_matches("_bucket").to_owned();
        series
            .entry((base, key_labels))
            .or_default()
            .push((le, sample.value));
    }
    for ((base, labels), buckets) in series {
        let cumulative = buckets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
        let inf = buckets.last().filter(|(le, _)| le.is_infinite());
        let count = samples.iter().find(|s| {
            s.name == format!("{base}_count")
                && s.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Vec<_>>()
                    == labels
        });
        match (cumulative, inf, count) {
            (true, Some((_, n)), Some(count)) if *n == count.value => {}
            _ => return Err(format!("histogram {base} {labels:?} is inconsistent")),
        }
    }
    Ok(())
}

/// The value of the sample named `name` whose labels include `labels`; `None` if no
/// sample matches, the sum if several do.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

async fn scrape(app: &TestApp) -> Vec<Sample> {
    let response = app.http.get(app.url("/metrics")).fetch().await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

const REQUESTS: &str = "citizen_idp_http_request_duration_seconds_count";

fn requests(samples: &[Sample], route: &str, method: &str, status: &str) -> f64 {
    value(
        samples,
        REQUESTS,
        &[("route", route), ("method", method), ("status", status)],
    )
    .unwrap_or(0.0)
}

fn logins(samples: &[Sample], outcome: &str) -> f64 {
    value(samples, "citizen_idp_logins_total", &[("outcome", outcome)])
        .unwrap_or_else(|| panic!("no series for login outcome {outcome}"))
}

fn tokens(samples: &[Sample], kind: &str, grant_type: &str) -> f64 {
    value(
        samples,
        "citizen_idp_tokens_issued_total",
        &[("kind", kind), ("grant_type", grant_type)],
    )
    .unwrap_or_else(|| panic!("no series for {kind} by {grant_type}"))
}

#[tokio::test]
async fn a_login_and_a_token_exchange_show_in_the_metrics_by_route_outcome_and_kind() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;

    // One failed login, then a successful one and the code exchange.
    let start = rp.authorize_url(&["openid"]);
    let (_, location, _) = app.browse(&start.url).await;
    let (_, _, html) = app.browse(&app.url(&location.unwrap())).await;
    let refused = app
        .submit_login(&html, &citizen.number, "wrong-password")
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let redirect = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    let code = query_param(&redirect, "code").unwrap();
    rp.exchange(&app.http, &code, start.verifier).await.unwrap();

    let samples = scrape(&app).await;
    assert_eq!(requests(&samples, "/token", "POST", "2xx"), 1.0);
    assert_eq!(requests(&samples, "/login", "POST", "3xx"), 1.0);
    assert_eq!(requests(&samples, "/login", "POST", "4xx"), 1.0);
    assert_eq!(requests(&samples, "/authorize", "GET", "3xx"), 2.0);
    assert!(requests(&samples, "/.well-known/openid-configuration", "GET", "2xx") >= 1.0);
    // Routes are patterns, never raw URLs: no code, no query string, in any label.
    for sample in &samples {
        for value in sample.labels.values() {
            assert!(!value.contains('?') && !value.contains(&code), "{value}");
        }
    }

    assert_eq!(logins(&samples, "success"), 1.0);
    assert_eq!(logins(&samples, "invalid_credentials"), 1.0);
    assert_eq!(logins(&samples, "refused_locked"), 0.0);
    assert_eq!(tokens(&samples, "access_token", "authorization_code"), 1.0);
    assert_eq!(tokens(&samples, "id_token", "authorization_code"), 1.0);
    assert_eq!(tokens(&samples, "refresh_token", "authorization_code"), 0.0);
    assert_eq!(tokens(&samples, "access_token", "client_credentials"), 0.0);

    let pool = |name: &str, labels: &[(&str, &str)]| {
        value(&samples, name, labels).unwrap_or_else(|| panic!("no {name}"))
    };
    let max = pool("citizen_idp_db_pool_max_connections", &[]);
    assert_eq!(max, f64::from(app.settings.database.pool_size));
    let in_use = pool("citizen_idp_db_pool_connections", &[("state", "in_use")]);
    let idle = pool("citizen_idp_db_pool_connections", &[("state", "idle")]);
    assert!(in_use >= 0.0 && idle >= 0.0 && in_use + idle <= max);
    assert_eq!(pool("citizen_idp_db_pool_acquire_timeouts_total", &[]), 0.0);
    assert!(pool("citizen_idp_db_pool_acquire_duration_seconds_count", &[]) >= 1.0);

    // The scrape itself is counted by the next one.
    let again = scrape(&app).await;
    assert_eq!(requests(&again, "/metrics", "GET", "2xx"), 1.0);
}

#[tokio::test]
async fn a_login_refused_by_the_account_status_counts_as_refused() {
    let app = TestApp::spawn().await;
    let locked = app.citizen_with(LifeStatus::Living, AccountStatus::Locked);
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let (_, location, _) = app.browse(&rp.authorize_url(&["openid"]).url).await;
    let (_, _, html) = app.browse(&app.url(&location.unwrap())).await;
    let response = app.submit_login(&html, &locked.number, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let samples = scrape(&app).await;
    assert_eq!(logins(&samples, "refused_locked"), 1.0);
    assert_eq!(logins(&samples, "success"), 0.0);
    assert_eq!(requests(&samples, "/login", "POST", "4xx"), 1.0);
}

#[tokio::test]
async fn a_database_failure_is_counted_by_kind_and_the_client_sees_only_server_error() {
    let app = TestApp::spawn().await;
    let client = app.confidential_client();
    // The client table disappears under the server: its next lookup fails as a query.
    app.db
        .run_blocking(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("ALTER TABLE clients RENAME TO clients_gone")
                .execute(conn)
                .map_err(citizen_idp::storage::StorageError::from)
        })
        .unwrap();
    let response = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "server_error");

    let samples = scrape(&app).await;
    let errors = |source: &str, kind: &str| {
        value(
            &samples,
            "citizen_idp_internal_errors_total",
            &[("source", source), ("kind", kind)],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(errors("database", "query"), 1.0);
    assert_eq!(errors("store", "unavailable"), 0.0);
    assert_eq!(requests(&samples, "/token", "POST", "5xx"), 1.0);
}

#[tokio::test]
async fn each_server_in_a_process_counts_only_its_own_requests() {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn().await;
    for _ in 0..3 {
        first.get_json("/jwks.json").await;
    }
    // Unknown paths and invented methods fold into one route and one method label.
    first.http.get(first.url("/no/such/page/123")).fetch().await;
    let brew = reqwest::Method::from_bytes(b"BREW").unwrap();
    first
        .http
        .request(brew, first.url("/jwks.json"))
        .fetch()
        .await;

    let samples = scrape(&first).await;
    assert_eq!(requests(&samples, "/jwks.json", "GET", "2xx"), 3.0);
    assert_eq!(requests(&samples, "<unmatched>", "GET", "4xx"), 1.0);
    assert!(
        value(&samples, REQUESTS, &[("method", "other")]).is_some(),
        "an invented method is counted as other"
    );
    assert!(
        samples
            .iter()
            .all(|s| !s.labels.values().any(|v| v.contains("123")))
    );
    let theirs = scrape(&second).await;
    assert_eq!(requests(&theirs, "/jwks.json", "GET", "2xx"), 0.0);
}

#[tokio::test]
async fn with_a_token_configured_metrics_need_it() {
    let token = "m".repeat(40);
    let configured = token.clone();
    let app = TestApp::spawn_with(move |s| s.metrics.token = SecretSetting::new(configured)).await;
    let url = app.url("/metrics");

    let missing = app.http.get(&url).fetch().await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(
        missing.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert!(missing.text().await.unwrap().is_empty());
    for wrong in [
        format!("Bearer {}", "x".repeat(40)),
        format!("Basic {token}"),
    ] {
        let response = app
            .http
            .get(&url)
            .header(AUTHORIZATION, wrong)
            .fetch()
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = app.http.get(&url).bearer_auth(&token).fetch().await;
    assert_eq!(response.status(), StatusCode::OK);
    parse_exposition(&response.text().await.unwrap()).unwrap();
}

#[tokio::test]
async fn without_a_token_metrics_are_hidden_on_an_https_issuer_and_when_disabled() {
    let https = TestApp::spawn_with(|s| s.server.issuer = "https://id.example.gov.vn".into()).await;
    let response = https.http.get(https.url("/metrics")).fetch().await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "even from loopback"
    );

    let disabled = TestApp::spawn_with(|s| s.metrics.enabled = false).await;
    let response = disabled.http.get(disabled.url("/metrics")).fetch().await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[test]
fn the_parser_refuses_what_is_not_the_text_format() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"\"} 3\n";
    assert_eq!(parse_exposition(good).unwrap()[0].labels["x"], "1\"");
    for bad in [
        "a_total 1\n",                  // no TYPE
        "# TYPE a counter\na{x=1} 1\n", // unquoted value
        "# TYPE a counter\na 1 2 3\n",  // trailing text
        "# TYPE a counter\na one\n",    // not a number
        "# TYPE 1a counter\n",          // bad name
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
    ] {
        assert!(parse_exposition(bad).is_err(), "{bad}");
    }
}

/// The in-process store is bounded, and /metrics shows what it holds: a flood of
/// anonymous authorization requests leaves it within its bounds, the oldest pending
/// logins dropped, and a citizen's login still works.
#[tokio::test]
async fn a_flood_of_pending_logins_stays_within_the_store_bounds() {
    let app = TestApp::spawn_with(|s| {
        s.redis.in_process_max_entries = 1000;
        s.limits.requests_per_minute_per_ip = 0;
        // One address stands for many: its own limit would stop the flood at 300.
        s.limits.login_flows_per_ip = 0;
    })
    .await;
    if app.redis_prefix.is_some() {
        // Redis is bounded by its own maxmemory (with noeviction, see /readyz).
        assert!(value(&scrape(&app).await, "citizen_idp_store_entries", &[]).is_none());
        return;
    }
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let url = rp.authorize_url(&[]).url;
    let http = crate::helpers::http_client(false);
    for _ in 0..30 {
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let request = http.get(&url).send();
            batch.spawn(async move { request.await.unwrap().status() });
        }
        while let Some(status) = batch.join_next().await {
            assert_eq!(status.unwrap(), StatusCode::FOUND);
        }
    }
    let samples = scrape(&app).await;
    let entries = value(&samples, "citizen_idp_store_entries", &[]).unwrap();
    assert!((900.0..=1000.0).contains(&entries), "{entries}");
    assert!(value(&samples, "citizen_idp_store_bytes", &[]).unwrap() > 0.0);
    let evicted = value(&samples, "citizen_idp_store_evicted_flows_total", &[]).unwrap();
    assert!(evicted >= 500.0, "{evicted}");
    // A citizen who starts now logs in.
    let citizen = app.citizen();
    let redirect = app.log_in(&url, &citizen.number, PASSWORD).await;
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
}
