//! Logout: the `end_session_endpoint` (OIDC RP-Initiated Logout 1.0) and its
//! confirmation page, over `protocol::logout::end_session`, which decides whether the
//! session ends at once or the citizen is asked, and ends it; and the worker ([`outbox`])
//! that sends the back-channel logout tokens (OIDC Back-Channel Logout 1.0) to every
//! relying party an ended session signed in to.
//!
//! Every way a session ends queues the logout tokens of its relying parties in the
//! database (`protocol::logout::backchannel::queue`), and the worker of [`outbox`] sends them: a logout
//! here or on the account page, a new login or step-up replacing the browser's session
//! (`protocol::logout::end_replaced_session`), and an officer or the register stopping the
//! account (`account_logouts`, see [`outbox`]).

pub mod outbox;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::secret::SessionToken;
use crate::http::access_log::request_id;
use crate::http::cookies;
use crate::http::lang::page_lang;
use crate::http::lang::{Lang, Texts};
use crate::http::page_error::PageError;
use crate::http::page_error::html;
use crate::http::page_form::PageForm;
use crate::http::params;
use crate::http::redirect::redirect;
use crate::protocol::logout::end_session::{self, Ended, Refused, Return};
use crate::protocol::logout::request::LogoutRequest;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    pending: &'a str,
}

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LoggedOutPage<'a> {
    t: &'a Texts,
    lang: &'a str,
}

pub async fn end_session_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let pairs = params::from_query(&req);
    respond(req, state, pairs, false).await
}

/// RP-Initiated Logout §2: the endpoint accepts GET and form POST alike.
pub async fn end_session_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    respond(req, state, params::from_body(body), true).await
}

async fn respond(
    req: HttpRequest,
    state: web::Data<AppState>,
    pairs: Option<Vec<(String, String)>>,
    after_post: bool,
) -> HttpResponse {
    let request = pairs.and_then(LogoutRequest::from_pairs);
    let lang = page_lang(&req, request.as_ref().and_then(|r| r.ui_locales.as_deref()));
    let Some(request) = request else {
        return page_error(PageError::bad_request(), lang);
    };
    let ended = end_session::end_session(
        &state.protocol(),
        &request,
        session_token(&req, &state),
        request_id(&req).as_deref(),
        state.clock.now(),
    )
    .await;
    match ended {
        Ok(Ended::LoggedOut(back)) => finish(&state, back, after_post, lang),
        Ok(Ended::Confirm { pending }) => {
            let page = ConfirmPage {
                t: lang.texts(),
                lang: lang.code(),
                pending: &pending,
            };
            html(StatusCode::OK, page.render())
        }
        Err(refused) => page_error(refused_page(refused), lang),
    }
}

fn page_error(error: PageError, lang: Lang) -> HttpResponse {
    use actix_web::ResponseError;
    error.in_lang(lang).error_response()
}

/// The page for a refused logout: nothing in the request can be trusted to redirect to.
fn refused_page(refused: Refused) -> PageError {
    match refused {
        Refused::BadHint => PageError::bad_logout_hint(),
        Refused::UnknownClient => PageError::unknown_client(),
        Refused::BadPostLogoutRedirectUri => PageError::bad_post_logout_redirect_uri(),
        Refused::BadConfirmation => PageError::csrf_failed(),
        Refused::Internal(e) => PageError::from_oauth(e),
    }
}

/// The browser's session cookie, if it sent one.
fn session_token(req: &HttpRequest, state: &AppState) -> Option<SessionToken> {
    req.cookie(state.cookies.session_name())
        .map(|cookie| SessionToken::new(cookie.value().to_owned()))
}

#[derive(Deserialize, Default)]
pub struct ConfirmForm {
    logout: Option<String>,
}

pub async fn confirm_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageForm { form, lang }: PageForm<ConfirmForm>,
) -> HttpResponse {
    let confirmed = end_session::confirm(
        &state.protocol(),
        form.logout,
        session_token(&req, &state),
        request_id(&req).as_deref(),
        state.clock.now(),
    )
    .await;
    match confirmed {
        Ok(back) => finish(&state, back, true, lang),
        Err(refused) => page_error(refused_page(refused), lang),
    }
}

/// The answer once logged out: back to the relying party, or our own page. The
/// session cookie is cleared either way.
fn finish(state: &AppState, back: Option<Return>, after_post: bool, lang: Lang) -> HttpResponse {
    let mut response = match back {
        Some(back) => redirect(&back.url(), after_post),
        None => {
            let page = LoggedOutPage {
                t: lang.texts(),
                lang: lang.code(),
            };
            html(StatusCode::OK, page.render())
        }
    };
    let removal = cookies::session_removal(&state.cookies);
    if let Err(e) = response.add_cookie(&removal) {
        tracing::error!(error = %e, "cannot clear the session cookie");
    }
    response
}
