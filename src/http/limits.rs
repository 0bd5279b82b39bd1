//! Limits that keep one noisy client from starving the others (`[limits]`):
//!
//! - the request line and headers are bounded (414 and 431), below what actix-web
//!   itself would buffer;
//! - each client IP may hold a bounded number of open connections;
//! - each client IP (each IPv6 /64) may send a bounded number of requests per minute.
//!   The counter lives in the store, so with Redis the limit holds across every
//!   instance.
//!
//! Refusals are OAuth-shaped JSON for programs and a localised page for browsers. The
//! health checks are never limited: a load balancer must always see the truth.

use std::any::Any;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse, ResponseError, web};

use crate::config::LimitSettings;
use crate::http::page_error::{PageError, PageMessage};
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::state::AppState;

/// Requests are counted per IP over windows of this length.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// After the store fails, rate limiting is skipped for this long instead of making
/// every request wait for the store's timeout: discovery and JWKS must keep answering
/// while Redis is away, and a limiter that cannot count should not refuse.
const STORE_BACKOFF: Duration = Duration::from_secs(5);

/// Paths never limited, so that health checks report the server rather than the limiter.
const UNLIMITED_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The limits of one server, shared by its workers.
pub struct RequestLimits {
    settings: LimitSettings,
    trusted_proxies: Vec<IpAddr>,
    connections: Arc<ConnectionCounts>,
    /// Monotonic time base of `store_backoff_until`.
    started: Instant,
    /// Milliseconds after `started` until which the store is not asked.
    store_backoff_until: AtomicU64,
}

impl RequestLimits {
    /// `trusted_proxies` were validated with the settings.
    pub fn new(settings: &LimitSettings) -> Self {
        RequestLimits {
            trusted_proxies: settings
                .trusted_proxies
                .iter()
                .filter_map(|ip| ip.parse().ok())
                .collect(),
            settings: settings.clone(),
            connections: Arc::default(),
            started: Instant::now(),
            store_backoff_until: AtomicU64::new(0),
        }
    }

    /// The hook actix-web calls for each accepted connection: counts it against its
    /// peer's IP until the connection closes.
    pub fn on_connect(
        self: &Arc<Self>,
    ) -> impl Fn(&dyn Any, &mut Extensions) + Send + Sync + 'static {
        let limits = self.clone();
        move |connection, extensions| {
            let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
                return;
            };
            let Ok(peer) = stream.peer_addr() else { return };
            let open = limits.connections.open(peer.ip());
            let max = limits.settings.max_connections_per_ip;
            extensions.insert(ConnectionSlot {
                ip: peer.ip(),
                counts: limits.connections.clone(),
                over_limit: max > 0 && open > max,
            });
        }
    }

    /// The client's address: the peer, or, when the peer is a trusted proxy, the
    /// nearest address in `X-Forwarded-For` that is not one of ours.
    fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        forwarded
            .iter()
            .rev()
            .filter_map(|ip| ip.parse::<IpAddr>().ok())
            .find(|ip| !self.trusted_proxies.contains(ip))
            .or(Some(peer))
    }

    fn millis_since_start(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn store_backing_off(&self) -> bool {
        self.store_backoff_until.load(Ordering::Relaxed) > self.millis_since_start()
    }

    fn back_off_store(&self) {
        let until = self.millis_since_start() + STORE_BACKOFF.as_millis() as u64;
        self.store_backoff_until.store(until, Ordering::Relaxed);
    }
}

/// The client's address as the request limits see it (trusted proxies honoured), for
/// handlers that count per IP themselves (login protection, enrolment).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    match req.app_data::<web::Data<RequestLimits>>() {
        Some(limits) => limits.client_ip(req),
        None => req.peer_addr().map(|peer| peer.ip()),
    }
}

/// Open connections per client IP.
#[derive(Default)]
struct ConnectionCounts(Mutex<HashMap<IpAddr, usize>>);

impl ConnectionCounts {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Each operation is a single map update, so a poisoned lock holds no half-write.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a new connection; returns how many the IP now holds.
    fn open(&self, ip: IpAddr) -> usize {
        let mut counts = self.lock();
        let count = counts.entry(ip).or_default();
        *count += 1;
        *count
    }

    fn close(&self, ip: IpAddr) {
        let mut counts = self.lock();
        if let Some(count) = counts.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&ip);
            }
        }
    }
}

/// Lives in a connection's data for as long as the connection is open.
struct ConnectionSlot {
    ip: IpAddr,
    counts: Arc<ConnectionCounts>,
    over_limit: bool,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.counts.close(self.ip);
    }
}

/// Why a request was refused.
enum Refusal {
    UriTooLong,
    HeadersTooLarge,
    TooManyConnections,
    TooManyRequests,
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::UriTooLong => StatusCode::URI_TOO_LONG,
            Refusal::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Refusal::TooManyConnections | Refusal::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The OAuth error (RFC 6749 §5.2 and §4.1.2.1) a program is answered with.
    fn oauth_error(&self) -> OAuthError {
        let (code, description) = match self {
            Refusal::UriTooLong => (ErrorCode::InvalidRequest, "the request URI is too long"),
            Refusal::HeadersTooLarge => (
                ErrorCode::InvalidRequest,
                "the request headers are too large",
            ),
            Refusal::TooManyConnections => (
                ErrorCode::TemporarilyUnavailable,
                "too many open connections from this address",
            ),
            Refusal::TooManyRequests => (
                ErrorCode::TemporarilyUnavailable,
                "too many requests from this address; retry later",
            ),
        };
        OAuthError::new(code, description)
    }

    fn response(&self, req: &ServiceRequest) -> HttpResponse {
        let wants_page = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
        let mut response = if wants_page {
            let message = match self {
                Refusal::UriTooLong | Refusal::HeadersTooLarge => PageMessage::RequestTooLarge,
                Refusal::TooManyConnections | Refusal::TooManyRequests => {
                    PageMessage::TooManyRequests
                }
            };
            let lang = crate::http::lang::page_lang(req.request(), None);
            PageError::with_status(self.status(), message)
                .in_lang(lang)
                .error_response()
        } else {
            self.oauth_error().response_with_status(self.status())
        };
        if matches!(self, Refusal::TooManyRequests) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, RATE_WINDOW.as_secs().into());
        }
        if matches!(self, Refusal::TooManyConnections) {
            // Closing is the point: the client holds too many connections already.
            response
                .head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
        }
        response
    }
}

fn header_bytes(req: &ServiceRequest) -> usize {
    req.headers()
        .iter()
        // Name, ": ", value and CRLF, as on the wire.
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

async fn check(req: &ServiceRequest, limits: &RequestLimits, state: &AppState) -> Option<Refusal> {
    let settings = &limits.settings;
    let uri_bytes = req.uri().path().len() + req.query_string().len();
    if uri_bytes > settings.max_uri_bytes {
        return Some(Refusal::UriTooLong);
    }
    if header_bytes(req) > settings.max_header_bytes {
        return Some(Refusal::HeadersTooLarge);
    }
    if UNLIMITED_PATHS.contains(&req.path()) {
        return None;
    }
    if req
        .conn_data::<ConnectionSlot>()
        .is_some_and(|slot| slot.over_limit)
    {
        return Some(Refusal::TooManyConnections);
    }
    let per_minute = settings.requests_per_minute_per_ip;
    if per_minute == 0 || limits.store_backing_off() {
        return None;
    }
    let ip = limits.client_ip(req.request())?;
    // One budget per IPv6 /64: a single host holds a whole /64, and a count per address
    // would let it send 2^64 times the limit and fill the store with counts.
    let bucket = crate::authn::throttle::client_bucket(ip);
    match state
        .store
        .increment(&crate::store::keys::request_rate(&bucket), RATE_WINDOW)
        .await
    {
        Ok(count) if count > per_minute => Some(Refusal::TooManyRequests),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "rate limiting paused: the store is unavailable");
            limits.back_off_store();
            None
        }
    }
}

/// The middleware: refuses a request over a limit before any handler sees it.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let limits = req.app_data::<web::Data<RequestLimits>>().cloned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    if let (Some(limits), Some(state)) = (limits, state)
        && let Some(refusal) = check(&req, &limits, &state).await
    {
        let response = refusal.response(&req);
        return Ok(req.into_response(response).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}
