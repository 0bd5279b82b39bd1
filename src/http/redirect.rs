//! The redirects the pages and the authorization endpoint answer with, and the
//! authorization response in the mode the client asked for.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use askama::Template;

use crate::http::lang::{Lang, Texts};
use crate::http::page_error::html;
use crate::protocol::authorize::grant::{AuthorizationResponse, ResponseMode};

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

/// The page of the Form Post Response Mode: a form of hidden fields aimed at the
/// client's registered redirect URI, sent by `/static/form_post.js` (the content
/// security policy admits no inline script), or by its button without script. Like
/// every page it cannot be framed (`frame-ancestors 'none'`), so no other site can
/// make a citizen post a code where it chooses.
#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    action: &'a str,
    params: &'a [(&'static str, String)],
}

/// Sends a code or an error to the client: a redirect in query mode, the auto-posting
/// page in form_post mode.
pub fn to_client(response: &AuthorizationResponse, lang: Lang, after_post: bool) -> HttpResponse {
    match response.mode {
        ResponseMode::Query => redirect(&response.url(), after_post),
        ResponseMode::FormPost => {
            let page = FormPostPage {
                t: lang.texts(),
                lang: lang.code(),
                action: &response.redirect_uri,
                params: &response.params,
            };
            html(StatusCode::OK, page.render())
        }
    }
}
