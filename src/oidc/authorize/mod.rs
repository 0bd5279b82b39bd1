//! The authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2): checks the request,
//! then either answers at once from a live session (SSO) or sends the citizen to the
//! login page.

pub mod flow;
pub mod grant;
pub mod interaction;
pub mod request;

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};

use crate::authn::session::{self, Session};
use crate::domain::acr::{AssuranceLevel, capped_acr};
use crate::domain::client::GrantType;
use crate::domain::interaction::{Next, Step};
use crate::http::cookies;
use crate::http::lang::Lang;
use crate::http::lang::page_lang;
use crate::http::oauth_error::{ErrorCode, OAuthError};
use crate::http::page_error::PageError;
use crate::http::params;
use crate::http::redirect::redirect;
use crate::registry;
use crate::state::AppState;
use crate::store::keys;
use flow::{Entry, Progress};
use request::{AuthorizationRequest, AuthorizeError, AuthorizeParams, Prompt};

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
    match authorize(req, state, AuthorizeParams::from_pairs(pairs)).await {
        Ok(response) => response,
        Err(AuthorizeError::Page(page)) => page.in_lang(lang).error_response(),
        Err(AuthorizeError::Redirect {
            redirect_uri,
            state: client_state,
            error,
        }) => redirect(
            &grant::error_url(
                &redirect_uri,
                client_state.as_deref(),
                &error,
                &state.issuer,
            ),
            false,
        ),
    }
}

async fn authorize(
    req: &HttpRequest,
    state: &AppState,
    params: AuthorizeParams,
) -> Result<HttpResponse, AuthorizeError> {
    let client_id = request::client_id(&params)?;
    let client = state
        .clients
        .find(&state.db, &client_id, state.clock.now())
        .await
        .map_err(|e| AuthorizeError::Page(e.into()))?
        .ok_or_else(|| AuthorizeError::Page(PageError::unknown_client()))?;
    let request = request::check(&params, &client)?;
    let now = state.clock.now();
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(AuthorizeError::Redirect {
            redirect_uri: request.redirect_uri,
            state: request.state,
            error: OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the client is not registered for the authorization code flow",
            ),
        });
    }
    let (redirect_uri, client_state) = (request.redirect_uri.clone(), request.state.clone());
    let redirect_error = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: client_state.clone(),
        error,
    };

    let hint = request::verify_id_token_hint(
        &state.keys.current(),
        &state.issuer,
        &client.id,
        request.id_token_hint.as_deref(),
    )
    .map_err(&redirect_error)?;
    let mut request = request;
    request.hint_subject = hint;

    let live = live_session(req, state, now)
        .await
        .map_err(&redirect_error)?;
    let session = live.map(|live| live.session);
    let claimed = session
        .as_ref()
        .map(|session| interaction::Claimed::from_session(session, false));
    let facts = interaction::read_facts(state, &request, claimed)
        .await
        .map_err(AuthorizeError::Page)?;
    let next =
        crate::domain::interaction::next(&interaction::demands(&request), &facts, now.timestamp());
    let step = match next {
        Next::Refuse(refusal) => return Err(redirect_error(interaction::refusal_error(refusal))),
        Next::Done => {
            let session =
                session.ok_or_else(|| AuthorizeError::Page(PageError::login_expired()))?;
            let url = grant::issue_code(
                state.store.as_ref(),
                &state.issuer,
                &request,
                &session,
                code_ttl(state),
                now,
            )
            .await
            .map_err(|e| redirect_error(e.into()))?;
            return Ok(redirect(&url, false));
        }
        Next::Step(step) => step,
    };
    // OIDC Core §3.1.2.6: with prompt=none the provider must not show a page.
    if request.prompt == Prompt::None {
        return Err(redirect_error(interaction::prompt_none_error(step)));
    }
    let entry = match (step, session, facts.authn, facts.account) {
        // A step-up goes on from what the session already proved, bound to it.
        (Step::SecondFactor, Some(session), Some(authn), Some(account)) => Entry {
            step,
            progress: Some(Progress {
                account_id: session.facts.account_id.clone(),
                account_level: account.level,
                amr: session.facts.amr.clone(),
                auth_time: session.facts.auth_time,
                level: authn.level,
                password_in_flow: false,
            }),
            sid: Some(session.facts.sid),
        },
        (Step::Consent, Some(session), _, _) => Entry {
            step,
            progress: None,
            sid: Some(session.facts.sid),
        },
        _ => Entry {
            step: Step::Password,
            progress: None,
            sid: None,
        },
    };
    start_flow(req, state, request, entry, now)
        .await
        .map_err(redirect_error)
}

fn code_ttl(state: &AppState) -> Duration {
    Duration::from_secs(state.settings.tokens.code_ttl_secs)
}

/// A live session and the level its account has now.
pub struct LiveSession {
    pub session: Session,
    pub account_level: AssuranceLevel,
}

/// The browser's session, if it is live and its citizen may still sign in.
pub async fn live_session(
    req: &HttpRequest,
    state: &AppState,
    now: DateTime<Utc>,
) -> Result<Option<LiveSession>, OAuthError> {
    let Some(token) = cookies::session_token(&state.cookies, req) else {
        return Ok(None);
    };
    let Some(session) = session::find(state.store.as_ref(), &token, now).await? else {
        return Ok(None);
    };
    // The register may have changed since the login: re-check before SSO.
    let account = registry::identity_by_account(&state.db, session.facts.account_id.clone())
        .await?
        .filter(|(account, citizen)| registry::check_eligible(account, citizen).is_ok());
    let Some((account, _)) = account else {
        session::end(state.store.as_ref(), &token).await?;
        return Ok(None);
    };
    // An officer may have lowered the account since the login (a reported stolen
    // card, say): the session never vouches for more than the account has now.
    let mut session = session;
    session.facts.acr = capped_acr(&session.facts.acr, account.assurance_level).to_owned();
    Ok(Some(LiveSession {
        session,
        account_level: account.assurance_level,
    }))
}

/// Stores the request as a flow at `entry`'s step, bound to this browser, and sends
/// the browser to that step's page.
pub(crate) async fn start_flow(
    req: &HttpRequest,
    state: &AppState,
    request: AuthorizationRequest,
    entry: Entry,
    now: DateTime<Utc>,
) -> Result<HttpResponse, OAuthError> {
    let lang = Lang::negotiate(request.ui_locales.as_deref());
    let ttl = Duration::from_secs(state.settings.session.login_ttl_secs);
    let (browser_secret, new_cookie) = cookies::browser(&state.cookies, req);
    pending_logins_allowed(state, req, &browser_secret, new_cookie.is_some(), ttl).await?;
    let page = interaction::page_of(entry.step);
    let flow_id = flow::start(
        state.store.as_ref(),
        request,
        &browser_secret,
        entry,
        ttl,
        now,
    )
    .await?;
    let mut response = redirect(&interaction::step_url(page, &flow_id, lang), false);
    if let Some(cookie) = new_cookie {
        response
            .add_cookie(&cookie)
            .map_err(|e| OAuthError::internal(&e, false))?;
    }
    Ok(response)
}

/// Counts a new pending login against its browser and its client address, refusing it
/// past `limits.login_flows_per_browser` or `limits.login_flows_per_ip` within a login's
/// lifetime: each one is held in the store until it ends, so anyone on the internet
/// could otherwise fill the store with abandoned logins.
///
/// A browser that came with our cookie is counted first, so that one browser past its
/// own limit does not use up its network's. A new browser (no cookie: every request of
/// a flood) has no pending login yet and is counted only once its network lets it in:
/// a refused flood then leaves nothing in the store, where it left one count per
/// request (100,000 Redis keys, 17 MB, for 100,000 requests, see bench/flood).
async fn pending_logins_allowed(
    state: &AppState,
    req: &HttpRequest,
    browser_secret: &str,
    new_browser: bool,
    ttl: Duration,
) -> Result<(), OAuthError> {
    let limits = &state.settings.limits;
    let mut counted = Vec::with_capacity(2);
    if limits.login_flows_per_browser > 0 {
        let key = keys::flows_per_browser(browser_secret);
        counted.push((key, limits.login_flows_per_browser));
    }
    if let Some(ip) = crate::http::limits::client_ip(req)
        && limits.login_flows_per_ip > 0
    {
        let key = keys::flows_per_network(&crate::authn::throttle::client_bucket(ip));
        counted.push((key, limits.login_flows_per_ip));
    }
    if new_browser {
        counted.reverse();
    }
    for (key, limit) in counted {
        if state.store.increment(&key, ttl).await? > limit {
            tracing::warn!(target: "security", "too many pending logins from one browser or address");
            return Err(OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "too many logins in progress from this browser or network; try again later",
            ));
        }
    }
    Ok(())
}
