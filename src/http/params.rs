//! The name/value pairs of a request, from its query string or its form body, for the
//! endpoints that accept both (authorization, end-session). `None` when malformed.

use actix_web::{HttpRequest, web};

pub type Pairs = Vec<(String, String)>;

pub fn from_query(req: &HttpRequest) -> Option<Pairs> {
    serde_urlencoded::from_str(req.query_string()).ok()
}

pub fn from_body(body: Result<web::Bytes, actix_web::Error>) -> Option<Pairs> {
    body.ok()
        .and_then(|bytes| serde_urlencoded::from_bytes(&bytes).ok())
}
