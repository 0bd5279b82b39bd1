//! HTTP plumbing shared by every endpoint: security headers, the access log with
//! request ids, request metrics, request limits, health checks, metrics, the OpenAPI
//! document, and the fallback page.

pub mod access_log;
pub mod cookies;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod security_headers;
