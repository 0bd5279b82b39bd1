//! Prometheus metrics of one server: requests per route, logins by outcome, tokens by
//! kind, internal errors by source, store errors by operation, and the database pool.
//!
//! Each server owns its registry, held in `AppState`: tests run many servers in one
//! process, and a global registry would mix their counts. Every label takes its value
//! from a small fixed set (matched route patterns, never raw paths, which carry codes;
//! no client ids, no citizens), so a caller cannot grow the number of series. Handlers
//! record through the small methods here and never see `prometheus` itself.

mod store;

use std::time::Duration;

pub use store::MeteredStore;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::registry::Ineligible;
use crate::storage::{PoolObserver, PoolStatus, StorageError};
use crate::store::StoreUsage;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

// From 1 ms (JWKS, discovery) to 10 s (a login queued behind Argon2id, a pool timeout).
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
// Waiting for a pooled connection is ~0 until the pool is saturated.
const ACQUIRE_BUCKETS: [f64; 9] = [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

const GRANT_TYPES: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];

/// How a login attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Success,
    /// Unknown number, malformed number or wrong password (one answer, as on the page).
    InvalidCredentials,
    /// The password was right, but the register or the account forbids login.
    Refused(Ineligible),
    /// The form failed its CSRF or browser-binding check.
    FormRejected,
    /// The database or the password hasher failed.
    Error,
}

impl LoginOutcome {
    const ALL: [LoginOutcome; 7] = [
        LoginOutcome::Success,
        LoginOutcome::InvalidCredentials,
        LoginOutcome::Refused(Ineligible::Deceased),
        LoginOutcome::Refused(Ineligible::Locked),
        LoginOutcome::Refused(Ineligible::Suspended),
        LoginOutcome::FormRejected,
        LoginOutcome::Error,
    ];

    fn label(self) -> &'static str {
        match self {
            LoginOutcome::Success => "success",
            LoginOutcome::InvalidCredentials => "invalid_credentials",
            LoginOutcome::Refused(Ineligible::Deceased) => "refused_deceased",
            LoginOutcome::Refused(Ineligible::Locked) => "refused_locked",
            LoginOutcome::Refused(Ineligible::Suspended) => "refused_suspended",
            LoginOutcome::FormRejected => "form_rejected",
            LoginOutcome::Error => "error",
        }
    }
}

/// What an error response hid from its caller, for `citizen_idp_internal_errors_total`.
/// The error types put it in the response's extensions; the access log counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InternalError {
    /// `database`, `store`, `signing`, `password`, `audit` or `other`.
    pub source: &'static str,
    /// For the database: `unavailable` (no pooled connection), `query`, `corrupt` or
    /// `migration`; for the store: `unavailable`, or `full` (the in-process store's
    /// bounds); `unavailable` for the audit; otherwise `error`.
    pub kind: &'static str,
}

impl InternalError {
    pub const STORE: InternalError = InternalError::new("store", "unavailable");
    /// The in-process store refused a write for lack of room.
    pub const STORE_FULL: InternalError = InternalError::new("store", "full");
    pub const SIGNING: InternalError = InternalError::new("signing", "error");
    pub const PASSWORD: InternalError = InternalError::new("password", "error");
    pub const OTHER: InternalError = InternalError::new("other", "error");
    /// A disclosure refused because its audit row could not be committed in time.
    pub const AUDIT: InternalError = InternalError::new("audit", "unavailable");

    const fn new(source: &'static str, kind: &'static str) -> Self {
        InternalError { source, kind }
    }

    pub fn database(e: &StorageError) -> Self {
        let kind = match e {
            StorageError::Unavailable(_) => "unavailable",
            StorageError::Query(_) => "query",
            StorageError::Corrupt(_) => "corrupt",
            StorageError::Migration(_) => "migration",
        };
        InternalError::new("database", kind)
    }
}

/// The metrics of one server. Cloning is cheap: every metric is shared.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: HistogramVec,
    logins: IntCounterVec,
    tokens: IntCounterVec,
    internal_errors: IntCounterVec,
    store_errors: IntCounterVec,
    pool_connections: IntGaugeVec,
    pool_max: IntGauge,
    pool_acquire_timeouts: IntCounter,
    pool_acquire_wait: Histogram,
    store_entries: IntGauge,
    store_bytes: IntGauge,
    store_evicted: IntCounter,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = HistogramVec::new(
            HistogramOpts::new(
                "citizen_idp_http_request_duration_seconds",
                "HTTP requests by matched route, method and status class; _count is the request count",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "method", "status"],
        )?;
        let logins = IntCounterVec::new(
            Opts::new("citizen_idp_logins_total", "Login attempts by outcome"),
            &["outcome"],
        )?;
        let tokens = IntCounterVec::new(
            Opts::new(
                "citizen_idp_tokens_issued_total",
                "Tokens issued by the token endpoint, by kind and grant type",
            ),
            &["kind", "grant_type"],
        )?;
        let internal_errors = IntCounterVec::new(
            Opts::new(
                "citizen_idp_internal_errors_total",
                "Requests answered server_error or temporarily_unavailable, by hidden cause",
            ),
            &["source", "kind"],
        )?;
        let store_errors = IntCounterVec::new(
            Opts::new(
                "citizen_idp_store_errors_total",
                "Failed store (Redis or in-process) operations, by operation",
            ),
            &["operation"],
        )?;
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "citizen_idp_db_pool_connections",
                "Open database connections of the pool, in use or idle, at scrape time",
            ),
            &["state"],
        )?;
        let pool_max = IntGauge::new(
            "citizen_idp_db_pool_max_connections",
            "The pool's size (database.pool_size)",
        )?;
        let pool_acquire_timeouts = IntCounter::new(
            "citizen_idp_db_pool_acquire_timeouts_total",
            "Requests for a pooled connection that waited database.acquire_timeout_secs in vain",
        )?;
        let pool_acquire_wait = Histogram::with_opts(
            HistogramOpts::new(
                "citizen_idp_db_pool_acquire_duration_seconds",
                "Time spent waiting for a pooled database connection",
            )
            .buckets(ACQUIRE_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(logins.clone()))?;
        registry.register(Box::new(tokens.clone()))?;
        registry.register(Box::new(internal_errors.clone()))?;
        registry.register(Box::new(store_errors.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        registry.register(Box::new(pool_acquire_timeouts.clone()))?;
        registry.register(Box::new(pool_acquire_wait.clone()))?;
        let store_entries = IntGauge::new(
            "citizen_idp_store_entries",
            "Entries held by the in-process store (store.max_entries bounds it); absent with Redis",
        )?;
        let store_bytes = IntGauge::new(
            "citizen_idp_store_bytes",
            "Bytes held by the in-process store, keys and values (store.max_bytes bounds it); absent with Redis",
        )?;
        let store_evicted = IntCounter::new(
            "citizen_idp_store_evicted_flows_total",
            "Pending login flows the in-process store dropped, oldest first, to stay within its bounds",
        )?;

        // Series that exist from the start, at zero, so that rate() and alerts see the
        // first event instead of a series appearing from nothing.
        for outcome in LoginOutcome::ALL {
            logins.with_label_values(&[outcome.label()]);
        }
        for grant in GRANT_TYPES {
            tokens.with_label_values(&["access_token", grant]);
        }
        for grant in ["authorization_code", "refresh_token"] {
            tokens.with_label_values(&["id_token", grant]);
            tokens.with_label_values(&["refresh_token", grant]);
        }
        Ok(Metrics {
            registry,
            requests,
            logins,
            tokens,
            internal_errors,
            store_errors,
            pool_connections,
            pool_max,
            pool_acquire_timeouts,
            pool_acquire_wait,
            store_entries,
            store_bytes,
            store_evicted,
        })
    }

    /// One answered request. `route` is the matched pattern (a registered route, or one
    /// fixed value when nothing matched).
    pub fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[route, method_label(method), status_class(status)])
            .observe(elapsed.as_secs_f64());
    }

    pub fn login(&self, outcome: LoginOutcome) {
        self.logins.with_label_values(&[outcome.label()]).inc();
    }

    /// A successful token response: always an access token, maybe an ID token and a
    /// refresh token.
    pub fn tokens_issued(&self, grant_type: &'static str, id_token: bool, refresh_token: bool) {
        self.tokens
            .with_label_values(&["access_token", grant_type])
            .inc();
        if id_token {
            self.tokens
                .with_label_values(&["id_token", grant_type])
                .inc();
        }
        if refresh_token {
            self.tokens
                .with_label_values(&["refresh_token", grant_type])
                .inc();
        }
    }

    pub fn internal_error(&self, error: InternalError) {
        self.internal_errors
            .with_label_values(&[error.source, error.kind])
            .inc();
    }

    pub fn store_error(&self, operation: &'static str) {
        self.store_errors.with_label_values(&[operation]).inc();
    }

    /// The text exposition of every metric, with the pool's and the in-process store's
    /// gauges read now.
    pub fn render(
        &self,
        pool: PoolStatus,
        store: Option<StoreUsage>,
    ) -> Result<String, prometheus::Error> {
        let idle = i64::from(pool.idle);
        let open = i64::from(pool.connections);
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(open - idle);
        self.pool_connections.with_label_values(&["idle"]).set(idle);
        self.pool_max.set(i64::from(pool.max));
        let mut families = self.registry.gather();
        if let Some(usage) = store {
            let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
            self.store_entries.set(gauge(usage.entries));
            self.store_bytes.set(gauge(usage.bytes));
            self.store_evicted
                .inc_by(usage.evicted.saturating_sub(self.store_evicted.get()));
            for metric in [
                &self.store_entries as &dyn prometheus::core::Collector,
                &self.store_bytes,
                &self.store_evicted,
            ] {
                families.extend(metric.collect());
            }
        }
        TextEncoder::new().encode_to_string(&families)
    }
}

impl PoolObserver for Metrics {
    fn acquired(&self, waited: Duration) {
        self.pool_acquire_wait.observe(waited.as_secs_f64());
    }

    fn timed_out(&self) {
        self.pool_acquire_timeouts.inc();
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Methods outside the usual ones share one label value, so that a client inventing
/// methods cannot create series.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        _ => "other",
    }
}

fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusual_methods_and_statuses_fold_into_few_label_values() {
        assert_eq!(method_label("BREW"), "other");
        assert_eq!(method_label("get"), "other");
        assert_eq!(status_class(302), "3xx");
        assert_eq!(status_class(999), "5xx");
    }
}
