//! HTTP plumbing shared by every endpoint: security headers, the access log with
//! request ids, request limits, health checks, the OpenAPI document, and the fallback
//! page.

pub mod access_log;
pub mod health;
pub mod limits;
pub mod openapi;
pub mod params;
pub mod security_headers;
