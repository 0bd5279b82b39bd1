//! The stylesheet and the passkey script, built into the binary so the server needs no
//! files beside it.

use actix_web::HttpResponse;
use actix_web::http::header;

const STYLE_CSS: &str = include_str!("static/style.css");
const PASSKEY_JS: &str = include_str!("static/passkey.js");

pub async fn style_get() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .content_type("text/css; charset=utf-8")
        .body(STYLE_CSS)
}

pub async fn passkey_js_get() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .content_type("text/javascript; charset=utf-8")
        .body(PASSKEY_JS)
}
