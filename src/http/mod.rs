//! HTTP plumbing shared by every endpoint: security headers, the access log with
//! request ids, request metrics, request limits, health checks, metrics, the OpenAPI
//! document, and the web vocabulary the pages and the protocol endpoints share (page
//! errors, page language, redirects, cookies, form tokens, and the extractors of page
//! forms and of the signed-in pages). It imports no endpoint and no page.

pub mod access_log;
pub mod client_request;
pub mod cookies;
pub mod csrf;
pub mod dpop;
pub mod health;
pub mod interaction;
pub mod lang;
pub mod limits;
pub mod metrics;
pub mod oauth_error;
pub mod officer;
pub mod openapi;
pub mod page_error;
pub mod page_form;
pub mod params;
pub mod redirect;
pub mod security_headers;
pub mod signed_in;
