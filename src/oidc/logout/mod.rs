//! Logout: RP-initiated (OIDC RP-Initiated Logout 1.0) at the `end_session_endpoint`,
//! and back-channel notices (OIDC Back-Channel Logout 1.0) to every relying party the
//! session signed in to.
//!
//! A logout ends the browser's session at once when the request proves it comes from a
//! relying party of that same session (a valid `id_token_hint` for the session's
//! citizen). Otherwise the citizen is asked to confirm, so that a third-party page
//! cannot log anyone out by embedding the URL. `post_logout_redirect_uri` must match
//! a registered one exactly, and is only used when the request names its client;
//! otherwise the citizen sees a page of ours.
//!
//! Every way a session ends queues the logout tokens of its relying parties in the
//! database (`protocol::logout::backchannel::queue`), and the worker of [`outbox`] sends them: a logout
//! here or on the account page, a new login or step-up replacing the browser's session
//! (`protocol::logout::end_replaced_session`), and an officer or the register stopping the
//! account (`account_logouts`, see [`outbox`]).

pub mod outbox;
pub mod request;

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::audit;
use crate::authn::session::{self, Session};
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
use crate::protocol::logout::backchannel;
use crate::registry;
use crate::state::AppState;
use crate::storage::clients;
use crate::tokens::{random, subject};
use request::LogoutRequest;

/// Where the browser goes once logged out: a registered URI with the client's `state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Return {
    uri: String,
    state: Option<String>,
}

/// A logout waiting for the citizen's confirmation.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    sid: String,
    back: Option<Return>,
}

const PENDING_TTL: Duration = Duration::from_secs(600);

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
    match end_session(&req, &state, request, after_post, lang).await {
        Ok(response) => response,
        Err(error) => page_error(error, lang),
    }
}

fn page_error(error: PageError, lang: Lang) -> HttpResponse {
    use actix_web::ResponseError;
    error.in_lang(lang).error_response()
}

async fn end_session(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    request: LogoutRequest,
    after_post: bool,
    lang: Lang,
) -> Result<HttpResponse, PageError> {
    let hint = request.verified_hint(state)?;
    let client_id = match (&hint, &request.client_id) {
        (Some(hint), Some(id)) if *id != hint.aud => return Err(PageError::bad_logout_hint()),
        (Some(hint), _) => Some(hint.aud.clone()),
        (None, id) => id.clone(),
    };
    let client = match client_id {
        Some(id) => Some(
            state
                .db
                .run(move |conn| clients::find(conn, &id))
                .await?
                .ok_or_else(PageError::unknown_client)?,
        ),
        None => None,
    };
    let back = match (&request.post_logout_redirect_uri, &client) {
        (None, _) => None,
        (Some(uri), Some(client)) if client.has_post_logout_redirect_uri(uri) => Some(Return {
            uri: uri.clone(),
            state: request.state.clone(),
        }),
        // Unregistered, or no client to check it against: never redirect (an open
        // redirector would let anyone bounce citizens through our domain).
        (Some(_), _) => return Err(PageError::bad_post_logout_redirect_uri()),
    };

    let Some((token, session)) = browser_session(req, state).await? else {
        // Nothing to end: the citizen is already logged out here.
        return Ok(finish(state, back, after_post, lang));
    };
    let proven = match (&hint, &client) {
        (Some(hint), Some(client)) => {
            let sub = subject::for_client(&state.pairwise_key, client, &session.facts.account_id);
            random::constant_time_eq(hint.sub.as_bytes(), sub.as_bytes())
                && hint
                    .sid
                    .as_ref()
                    .is_none_or(|sid| *sid == session.facts.sid)
        }
        _ => false,
    };
    if !proven {
        return confirm(state, &session, back, lang).await;
    }
    log_out(req, state, &token, &session).await?;
    Ok(finish(state, back, after_post, lang))
}

/// Asks the citizen to confirm; the confirmation form names a pending logout that only
/// this page knows, bound to the session it would end.
async fn confirm(
    state: &AppState,
    session: &Session,
    back: Option<Return>,
    lang: Lang,
) -> Result<HttpResponse, PageError> {
    let id = random::token();
    let pending = Pending {
        sid: session.facts.sid.clone(),
        back,
    };
    let value = serde_json::to_vec(&pending).map_err(|e| PageError::internal(&e, false))?;
    state
        .store
        .put(
            &crate::store::keys::logout_confirmation(&id),
            value,
            PENDING_TTL,
        )
        .await?;
    let page = ConfirmPage {
        t: lang.texts(),
        lang: lang.code(),
        pending: &id,
    };
    Ok(html(StatusCode::OK, page.render()))
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
    match confirmed(&req, &state, form, lang).await {
        Ok(response) => response,
        Err(error) => page_error(error, lang),
    }
}

async fn confirmed(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    form: ConfirmForm,
    lang: Lang,
) -> Result<HttpResponse, PageError> {
    let id = form
        .logout
        .filter(|id| id.len() <= 64)
        .ok_or_else(PageError::csrf_failed)?;
    let pending = state
        .store
        .take(&crate::store::keys::logout_confirmation(&id))
        .await?
        .and_then(|bytes| serde_json::from_slice::<Pending>(&bytes).ok())
        .ok_or_else(PageError::csrf_failed)?;
    match browser_session(req, state).await? {
        Some((token, session)) if session.facts.sid == pending.sid => {
            log_out(req, state, &token, &session).await?;
        }
        // The session already ended (another tab, expiry): the citizen's wish holds.
        None => {}
        // Another session than the one the page was shown for: a forged form.
        Some(_) => {
            tracing::warn!(target: "security", "logout confirmation for another session refused");
            return Err(PageError::csrf_failed());
        }
    }
    Ok(finish(state, pending.back, true, lang))
}

/// The browser's live session, with the cookie's token that names it.
async fn browser_session(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(SessionToken, Session)>, PageError> {
    let Some(cookie) = req.cookie(state.cookies.session_name()) else {
        return Ok(None);
    };
    let token = SessionToken::new(cookie.value().to_owned());
    let session = session::find(state.store.as_ref(), &token, state.clock.now()).await?;
    Ok(session.map(|session| (token, session)))
}

/// Ends the session and tells its relying parties.
async fn log_out(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    token: &SessionToken,
    session: &Session,
) -> Result<(), PageError> {
    session::end(state.store.as_ref(), token).await?;
    let client_ids = session::take_clients(state.store.as_ref(), &session.facts.sid).await?;
    let account_id = session.facts.account_id.clone();
    let citizen = registry::identity_by_account(&state.db, account_id)
        .await?
        .map(|(_, citizen)| citizen.national_id);
    let mut event = audit::Event::new(audit::Kind::Login, "logout", state.clock.now().naive_utc())
        .request_id(request_id(req).as_deref());
    if let Some(citizen) = &citizen {
        event = event.citizen(citizen.clone());
    }
    state.audit.record(event).await;
    tracing::info!(target: "security", clients = client_ids.len(), "session ended by logout");
    tell_relying_parties(state, session, client_ids, citizen).await
}

/// Queues back-channel logout tokens for `session` (already ended) to those of
/// `client_ids` that registered for them; the outbox worker sends them.
pub(crate) async fn tell_relying_parties(
    state: &AppState,
    session: &Session,
    client_ids: Vec<String>,
    citizen: Option<crate::domain::national_id::NationalId>,
) -> Result<(), PageError> {
    backchannel::queue(
        &state.protocol(),
        &session.facts.account_id,
        &session.facts.sid,
        &client_ids,
        citizen.as_ref(),
        state.clock.now(),
    )
    .await?;
    Ok(())
}

/// The answer once logged out: back to the relying party, or our own page. The
/// session cookie is cleared either way.
fn finish(state: &AppState, back: Option<Return>, after_post: bool, lang: Lang) -> HttpResponse {
    let mut response = match back {
        Some(back) => redirect(&return_url(&back), after_post),
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

fn return_url(back: &Return) -> String {
    match (Url::parse(&back.uri), &back.state) {
        (Ok(mut url), Some(state)) => {
            url.query_pairs_mut().append_pair("state", state);
            url.to_string()
        }
        _ => back.uri.clone(),
    }
}
