//! One log event per request: matched route (never the raw URL, which carries codes),
//! method, status, duration and request id. The request id is also returned in
//! `X-Request-Id`, and every event logged while handling the request carries it. The
//! same facts feed the request metrics, with the internal error an error response hid.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

use crate::metrics::InternalError;
use crate::state::AppState;

/// The id of the request being handled, for audit rows and log lines.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The request id of `req`, set by the access log middleware.
pub fn request_id(req: &actix_web::HttpRequest) -> Option<String> {
    use actix_web::HttpMessage;
    req.extensions().get::<RequestId>().map(|id| id.0.clone())
}

const UNMATCHED: &str = "<unmatched>";

pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let method = req.method().clone();
    actix_web::HttpMessage::extensions_mut(&req).insert(RequestId(request_id.clone()));
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut response = next.call(req).instrument(span.clone()).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(state) = response.request().app_data::<web::Data<AppState>>() {
        state
            .metrics
            .request(&route, method.as_str(), status, elapsed);
        if let Some(error) = response.response().extensions().get::<InternalError>() {
            state.metrics.internal_error(*error);
        }
    }
    span.in_scope(|| {
        tracing::info!(
            target: "access",
            %method,
            route,
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(response)
}
