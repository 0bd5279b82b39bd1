//! The OpenAPI 3.1 document of every JSON endpoint (`openapi.json` beside this file):
//! discovery, keys, token, introspection, revocation, userinfo, health and the admin
//! API. It is the one description of them; tests/api/openapi.rs checks that it lists
//! exactly the JSON routes of `startup::routes` and that answers match it.

use actix_web::HttpResponse;
use actix_web::http::header;

const DOCUMENT: &str = include_str!("openapi.json");

/// Public: it holds no secret. Served at `/openapi.json`, and at `/admin/openapi.json`
/// where the admin API's tools first found it.
pub async fn openapi_get() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .content_type("application/json")
        .body(DOCUMENT)
}
