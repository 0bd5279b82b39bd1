//! The steps between an authorization request and its code: the password, then a
//! second factor when the account or the request demands one, then consent when the
//! client needs it. Each page ends by calling [`resume`], and the SSO path asks
//! [`pending_for_session`], so the order of the steps is written in one place.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};

use super::flow::{self, LoginFlow, Progress};
use super::request::AuthorizationRequest;
use super::{grant, redirect};
use crate::authn::second_factor::{self, FactorCheck};
use crate::authn::session::{self, Session};
use crate::domain::acr::AssuranceLevel;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::pages::PageError;
use crate::pages::i18n::Lang;
use crate::state::AppState;

/// Pages of the steps, each taking `?flow=` and `&lang=`.
pub const SECOND_FACTOR_PAGE: &str = "/login/second-factor";
pub const CONSENT_PAGE: &str = "/consent";

/// What a live session's request needs before a code can be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionVerdict {
    /// Nothing: the code is issued at once.
    Ready,
    /// A step the citizen must still take, on its page.
    Step(Step),
    /// The request demands a level this account cannot reach: no page can help.
    Unmet,
}

/// A step a citizen with a live session must still take for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The session's methods fall short of what the request or the account needs.
    StepUp,
    Consent,
}

/// What a live session still owes `request` before a code can be issued at once.
pub async fn pending_for_session(
    state: &AppState,
    session: &Session,
    request: &AuthorizationRequest,
) -> Result<SessionVerdict, PageError> {
    match second_factor::check(state, &session.account_id, &session.amr, request).await? {
        FactorCheck::Needed => return Ok(SessionVerdict::Step(Step::StepUp)),
        FactorCheck::Unmet => return Ok(SessionVerdict::Unmet),
        FactorCheck::Satisfied => {}
    }
    // A session made before an officer raised the account keeps its old `acr`, even
    // if its methods would now reach more: a demand for more steps up (second factors).
    if let Some(demand) = request.acr {
        let held = AssuranceLevel::from_acr(&session.acr).unwrap_or(AssuranceLevel::Level1);
        if held < demand.min_level {
            return Ok(SessionVerdict::Step(Step::StepUp));
        }
    }
    if crate::consent::due(state, session, request).await? {
        return Ok(SessionVerdict::Step(Step::Consent));
    }
    Ok(SessionVerdict::Ready)
}

/// The page that takes a step.
pub fn page_of(step: Step) -> &'static str {
    match step {
        Step::StepUp => SECOND_FACTOR_PAGE,
        Step::Consent => CONSENT_PAGE,
    }
}

/// The error `prompt=none` gets for a pending step (OIDC Core §3.1.2.6).
pub fn prompt_none_error(step: Step) -> OAuthError {
    match step {
        Step::StepUp => OAuthError::new(
            ErrorCode::LoginRequired,
            "the citizen must present a second factor",
        ),
        Step::Consent => {
            OAuthError::new(ErrorCode::ConsentRequired, "the citizen must grant consent")
        }
    }
}

pub fn unmet() -> OAuthError {
    OAuthError::new(
        ErrorCode::UnmetAuthenticationRequirements,
        "the requested authentication context cannot be met for this citizen",
    )
}

/// Moves `flow` on after a step: to the next page it needs, or to the client with a
/// code. `flow.progress` holds what a login proved so far; without it the browser's
/// live session is used.
pub async fn resume(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    flow_id: &str,
    mut flow: LoginFlow,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let mut new_session_cookie = None;
    let session = match flow.progress.take() {
        Some(progress) => {
            match second_factor::check(state, &progress.account_id, &progress.amr, &flow.request)
                .await?
            {
                FactorCheck::Satisfied => {}
                FactorCheck::Needed => {
                    flow.progress = Some(progress);
                    flow::save(state.store.as_ref(), flow_id, &flow, now).await?;
                    return Ok(redirect(&step_url(SECOND_FACTOR_PAGE, flow_id, lang), true));
                }
                FactorCheck::Unmet => {
                    return finish_with_error(state, flow_id, &flow, unmet()).await;
                }
            }
            let (session, token) = start_session(req, state, &progress, now).await?;
            new_session_cookie = Some(token);
            session
        }
        None => {
            super::live_session(req, state, now)
                .await
                .map_err(PageError::from_oauth)?
                .ok_or_else(PageError::login_expired)?
                .session
        }
    };

    let mut response = if let Some(page) = flow.request.own_page.as_deref() {
        flow::finish(state.store.as_ref(), flow_id).await?;
        redirect(page, true)
    } else if crate::consent::due(state, &session, &flow.request).await? {
        flow::save(state.store.as_ref(), flow_id, &flow, now).await?;
        redirect(&step_url(CONSENT_PAGE, flow_id, lang), true)
    } else {
        flow::finish(state.store.as_ref(), flow_id).await?;
        let url = grant::issue_code(
            state.store.as_ref(),
            &state.issuer,
            &flow.request,
            &session,
            Duration::from_secs(state.settings.tokens.code_ttl_secs),
            now,
        )
        .await?;
        redirect(&url, true)
    };
    if let Some(token) = new_session_cookie {
        response
            .add_cookie(&session_cookie(state, token))
            .map_err(|e| PageError::internal(&e, false))?;
    }
    Ok(response)
}

/// Ends the flow with an error sent to the client's (registered, checked) redirect URI.
pub async fn finish_with_error(
    state: &AppState,
    flow_id: &str,
    flow: &LoginFlow,
    error: OAuthError,
) -> Result<HttpResponse, PageError> {
    flow::finish(state.store.as_ref(), flow_id).await?;
    let url = grant::error_url(
        &flow.request.redirect_uri,
        flow.request.state.as_deref(),
        &error,
        &state.issuer,
    );
    Ok(redirect(&url, true))
}

pub fn step_url(page: &str, flow_id: &str, lang: Lang) -> String {
    format!("{page}?flow={flow_id}&lang={}", lang.code())
}

/// A new session for every completed login, so a session id planted before it is
/// useless; the browser's previous session ends.
async fn start_session(
    req: &HttpRequest,
    state: &AppState,
    progress: &Progress,
    now: DateTime<Utc>,
) -> Result<(Session, String), PageError> {
    crate::oidc::logout::end_replaced_session(req, state).await?;
    let ttl = state.settings.session.ttl_secs;
    let level = second_factor::achieved_level(progress.account_level, &progress.amr);
    let session = Session {
        sid: crate::tokens::random::token(),
        account_id: progress.account_id.clone(),
        auth_time: progress.auth_time,
        acr: level.acr().to_owned(),
        amr: progress.amr.clone(),
        expires_at: now.timestamp() + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
        device: session::device_hint(
            req.headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        ),
    };
    let token = session::create(state.store.as_ref(), &session, Duration::from_secs(ttl)).await?;
    Ok((session, token.expose().to_owned()))
}

fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(state.settings.session.cookie_name.clone(), token)
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .finish()
}
