//! `GET /metrics`: the server's metrics in the Prometheus text format, for the
//! operator's scraper, not for the public. Error rates and login counts tell an
//! attacker how an attack is going, so:
//!
//! - with `metrics.token` set, the scraper must send it as a Bearer token (from any
//!   address: Prometheus usually scrapes over the network);
//! - without a token, only loopback peers are served, judged by the socket's peer
//!   address (never by `X-Forwarded-For`, which anyone can send), and only on an http
//!   issuer: an https issuer has a TLS-terminating proxy in front, and a proxy on the
//!   same host makes every visitor's connection come from loopback;
//! - with `metrics.enabled = false`, or neither of the above, it is not found.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::page_error::PageError;
use crate::state::AppState;
use crate::tokens::random;

#[derive(Debug, PartialEq, Eq)]
enum Access {
    Granted,
    /// A token is configured and the request's is missing or wrong.
    Unauthorized,
    /// Not served to this caller at all.
    Hidden,
}

fn access(req: &HttpRequest, state: &AppState) -> Access {
    let settings = &state.settings.metrics;
    if !settings.enabled {
        return Access::Hidden;
    }
    let expected = settings.token.expose();
    if expected.is_empty() {
        let loopback = req.peer_addr().is_some_and(|peer| peer.ip().is_loopback());
        return if loopback && !state.secure_cookies {
            Access::Granted
        } else {
            Access::Hidden
        };
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or("");
    // Digests first, so that the comparison takes the same time whatever the length.
    let ok = random::constant_time_eq(
        &random::sha256(presented.trim().as_bytes()),
        &random::sha256(expected.as_bytes()),
    );
    if ok {
        Access::Granted
    } else {
        Access::Unauthorized
    }
}

pub async fn metrics_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    match access(&req, &state) {
        Access::Granted => {}
        Access::Hidden => return Err(PageError::not_found()),
        Access::Unauthorized => {
            tracing::warn!(target: "security", "metrics request with a missing or wrong token");
            return Ok(HttpResponse::build(StatusCode::UNAUTHORIZED)
                .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish());
        }
    }
    let body = state
        .metrics
        .render(state.db.pool_status(), state.store.usage())
        .map_err(|e| PageError::internal(&e, false))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(body))
}
