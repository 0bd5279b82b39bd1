//! The name/value pairs of a request, from its query string or its form body, for the
//! endpoints that accept both (authorization, end-session). `None` when malformed.

use actix_web::{HttpRequest, web};

pub type Pairs = Vec<(String, String)>;

pub fn from_query(req: &HttpRequest) -> Option<Pairs> {
    parse(req.query_string().as_bytes())
}

pub fn from_body(body: Result<web::Bytes, actix_web::Error>) -> Option<Pairs> {
    body.ok().and_then(|bytes| parse(&bytes))
}

/// Decodes `application/x-www-form-urlencoded` bytes, a query string or a body. Public
/// so that the fuzz targets (`fuzz/`) feed untrusted bytes through the same decoding.
pub fn parse(raw: &[u8]) -> Option<Pairs> {
    serde_urlencoded::from_bytes(raw).ok()
}
