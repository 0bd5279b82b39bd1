//! The redirects the pages and the authorization endpoint answer with.

use actix_web::HttpResponse;
use actix_web::http::header;

/// 302 for GET flows; 303 after a form POST so the browser follows with GET.
pub fn redirect(location: &str, after_post: bool) -> HttpResponse {
    let mut builder = if after_post {
        HttpResponse::SeeOther()
    } else {
        HttpResponse::Found()
    };
    builder
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
