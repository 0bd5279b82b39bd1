//! The authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2). The handler reads the
//! parameters and the browser, `protocol::authorize::authorize` decides, and the
//! answer is a redirect: to the client (a code or an error at its registered redirect
//! URI), to the first page of a login, or, when the client or its redirect URI cannot be
//! trusted, an error page.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::http::interaction::{browser, render_outcome};
use crate::http::lang::page_lang;
use crate::http::page_error::PageError;
use crate::http::params;
use crate::http::redirect::to_client;
use crate::protocol::authorize::grant;
use crate::protocol::authorize::request::{AuthorizeError, AuthorizeParams};
use crate::state::AppState;

pub async fn authorize_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    respond(&req, &state, params::from_query(&req)).await
}

/// OIDC Core §3.1.2.1: the endpoint must also accept form-encoded POST.
pub async fn authorize_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    respond(&req, &state, params::from_body(body)).await
}

async fn respond(
    req: &HttpRequest,
    state: &AppState,
    pairs: Option<Vec<(String, String)>>,
) -> HttpResponse {
    let lang = page_lang(req, None);
    let Some(pairs) = pairs else {
        return PageError::bad_request().in_lang(lang).error_response();
    };
    let browser = browser(state, req);
    let outcome = crate::protocol::authorize::authorize(
        &state.protocol(),
        &browser,
        AuthorizeParams::from_pairs(pairs),
        state.clock.now(),
    )
    .await;
    match outcome {
        Ok(outcome) => render_outcome(state, outcome, lang)
            .unwrap_or_else(|e| PageError::from_oauth(e).in_lang(lang).error_response()),
        Err(AuthorizeError::Page(refused)) => {
            PageError::from(refused).in_lang(lang).error_response()
        }
        Err(AuthorizeError::Redirect {
            redirect_uri,
            response_mode,
            state: client_state,
            error,
        }) => to_client(
            &grant::error_response(
                &redirect_uri,
                response_mode,
                client_state.as_deref(),
                &error,
                &state.issuer,
            ),
            lang,
            false,
        ),
    }
}
