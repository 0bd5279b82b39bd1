//! HTTP plumbing shared by every endpoint: security headers, the access log with
//! request ids, request metrics, health checks, metrics, and the fallback page.

pub mod access_log;
pub mod health;
pub mod metrics;
pub mod params;
pub mod security_headers;
