//! The stylesheet, the passkey script and the form-post script, built into the binary so the server needs no
//! files beside it.

use actix_web::HttpResponse;
use actix_web::http::header;

const STYLE_CSS: &str = include_str!("static/style.css");
const PASSKEY_JS: &str = include_str!("static/passkey.js");
const FORM_POST_JS: &str = include_str!("static/form_post.js");

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

pub async fn form_post_js_get() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .content_type("text/javascript; charset=utf-8")
        .body(FORM_POST_JS)
}
