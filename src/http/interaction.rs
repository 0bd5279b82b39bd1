//! The login interaction over HTTP, shared by the authorization endpoint and the login
//! pages: the browser's cookies and headers read into a
//! [`protocol::authorize::Browser`](Browser), one call to `protocol::authorize`, and its
//! outcome rendered as a redirect with the cookies it sets. The rules are all in
//! `protocol::authorize`; here are only the pages' URLs and the cookies.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};

use super::access_log::request_id;
use super::cookies;
use super::lang::Lang;
use super::page_error::PageError;
use super::redirect::{redirect, to_client};
use crate::domain::interaction::Step;
use crate::protocol::authorize::flow::{Entry, LoginFlow};
use crate::protocol::authorize::interaction::{self, Advanced, Destination, PageFlow, Proved};
use crate::protocol::authorize::request::AuthorizationRequest;
use crate::protocol::authorize::{self, Browser, LiveSession, Outcome};
use crate::protocol::error::OAuthError;
use crate::state::AppState;

/// Pages of the steps, each taking `?flow=` and `&lang=`.
pub const LOGIN_PAGE: &str = "/login";
pub const SECOND_FACTOR_PAGE: &str = "/login/second-factor";
pub const CONSENT_PAGE: &str = "/consent";

/// The page that takes a step.
pub fn page_of(step: Step) -> &'static str {
    match step {
        Step::Password => LOGIN_PAGE,
        Step::SecondFactor => SECOND_FACTOR_PAGE,
        Step::Consent => CONSENT_PAGE,
    }
}

pub fn step_url(step: Step, flow_id: &str, lang: Lang) -> String {
    format!("{}?flow={flow_id}&lang={}", page_of(step), lang.code())
}

/// What the browser brought, with its binding secret only if this server issued it.
pub fn browser(state: &AppState, req: &HttpRequest) -> Browser {
    Browser {
        session_token: cookies::session_token(&state.cookies, req),
        secret: cookies::browser_secret(&state.cookies, req),
        address: super::limits::client_ip(req),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        request_id: request_id(req),
    }
}

/// The browser's session, if it is live and its citizen may still sign in.
pub async fn live_session(
    req: &HttpRequest,
    state: &AppState,
    now: DateTime<Utc>,
) -> Result<Option<LiveSession>, OAuthError> {
    let token = cookies::session_token(&state.cookies, req);
    authorize::live_session(&state.protocol(), token.as_ref(), now).await
}

/// Answers an [`Outcome`]: to the client, or to the first page of a new flow with the
/// browser's new cookie if it had none.
pub fn render_outcome(
    state: &AppState,
    outcome: Outcome,
    lang: Lang,
) -> Result<HttpResponse, OAuthError> {
    match outcome {
        Outcome::ToClient(response) => Ok(to_client(&response, lang, false)),
        Outcome::ToStep {
            step,
            flow_id,
            ui_locales,
            new_browser_secret,
        } => {
            let lang = Lang::negotiate(ui_locales.as_deref());
            let mut response = redirect(&step_url(step, &flow_id, lang), false);
            if let Some(secret) = new_browser_secret {
                response
                    .add_cookie(&cookies::browser_cookie(&state.cookies, secret))
                    .map_err(|e| OAuthError::internal(&e, false))?;
            }
            Ok(response)
        }
    }
}

/// Stores `request` as a flow at `entry`'s step, bound to this browser, and sends the
/// browser to that step's page.
pub async fn start_flow(
    req: &HttpRequest,
    state: &AppState,
    request: AuthorizationRequest,
    entry: Entry,
    now: DateTime<Utc>,
) -> Result<HttpResponse, OAuthError> {
    let browser = browser(state, req);
    let outcome = authorize::start_flow(&state.protocol(), &browser, request, entry, now).await?;
    // A new flow always goes to a step's page, whose language comes from the request.
    let lang = Lang::negotiate(request_lang(&outcome));
    render_outcome(state, outcome, lang)
}

fn request_lang(outcome: &Outcome) -> Option<&str> {
    match outcome {
        Outcome::ToStep { ui_locales, .. } => ui_locales.as_deref(),
        Outcome::ToClient(_) => None,
    }
}

/// A flow found for a page (see `protocol::authorize::interaction::flow_for_page`).
pub struct FoundFlow(PageFlow);

/// The flow named by `flow_id`, if it is live.
pub async fn flow_for_page(
    state: &AppState,
    flow_id: Option<&str>,
    page: Step,
) -> Result<FoundFlow, PageError> {
    let found =
        interaction::flow_for_page(&state.protocol(), flow_id, page, state.clock.now()).await?;
    Ok(FoundFlow(found))
}

impl FoundFlow {
    /// For a page's GET: the flow, or a redirect to the page of its step.
    pub fn or_redirect(self, lang: Lang) -> Result<(String, LoginFlow), Box<HttpResponse>> {
        match self.0 {
            PageFlow::At { flow_id, flow } => Ok((flow_id, *flow)),
            PageFlow::Elsewhere { flow_id, step } => {
                Err(Box::new(redirect(&step_url(step, &flow_id, lang), false)))
            }
        }
    }

    /// For a form POST: the flow, or a refusal. A form posted for a step the flow is not
    /// at is someone skipping a step.
    pub fn or_refuse(self, page: Step) -> Result<(String, LoginFlow), PageError> {
        Ok(self.0.or_refuse(page)?)
    }
}

/// Both the browser cookie (one this server issued) and the form's CSRF token match.
pub fn form_accepted(
    req: &HttpRequest,
    state: &AppState,
    flow: &LoginFlow,
    csrf: Option<&str>,
) -> bool {
    let browser_secret = cookies::browser_secret(&state.cookies, req);
    flow.accepts(browser_secret.as_deref(), csrf)
}

/// Records what a page's step proved and moves `flow` on
/// (`protocol::authorize::interaction::step_proved`), then answers with where it went,
/// setting the session cookie of a completed login.
pub async fn step_proved(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    flow_id: &str,
    flow: LoginFlow,
    proved: Proved<'_>,
) -> Result<HttpResponse, PageError> {
    let browser = browser(state, req);
    let now = state.clock.now();
    let advanced =
        interaction::step_proved(&state.protocol(), &browser, flow_id, flow, proved, now).await?;
    render_advanced(state, lang, flow_id, advanced)
}

/// Moves `flow` on after a page's step that proved nothing (consent)
/// (`protocol::authorize::interaction::advance`), and answers with where it went.
pub async fn advance(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    flow_id: &str,
    flow: LoginFlow,
) -> Result<HttpResponse, PageError> {
    let browser = browser(state, req);
    let advanced = interaction::advance(
        &state.protocol(),
        &browser,
        flow_id,
        flow,
        state.clock.now(),
    )
    .await?;
    render_advanced(state, lang, flow_id, advanced)
}

fn render_advanced(
    state: &AppState,
    lang: Lang,
    flow_id: &str,
    Advanced {
        destination,
        new_session,
    }: Advanced,
) -> Result<HttpResponse, PageError> {
    let mut response = match destination {
        Destination::Step(step) => redirect(&step_url(step, flow_id, lang), true),
        Destination::Client(response) => to_client(&response, lang, true),
        Destination::OwnPage(url) => redirect(&url, true),
    };
    if let Some(token) = new_session {
        let cookie = cookies::session_cookie(&state.cookies, token.expose().to_owned());
        response
            .add_cookie(&cookie)
            .map_err(|e| PageError::internal(&e, false))?;
    }
    Ok(response)
}

/// Ends the flow with an error sent to the client's (registered, checked) redirect URI.
pub async fn finish_with_error(
    state: &AppState,
    lang: Lang,
    flow_id: &str,
    flow: &LoginFlow,
    error: OAuthError,
) -> Result<HttpResponse, PageError> {
    let response = interaction::finish_with_error(&state.protocol(), flow_id, flow, error).await?;
    Ok(to_client(&response, lang, true))
}
