//! citizen-idp's own pages (`/account` and below) need a signed-in citizen. They use
//! the same login flow as clients do (password, then a second factor if due), with no
//! client: the flow ends by returning to the page.
//!
//! Pages that change how the account logs in (binding or removing an authenticator,
//! new recovery codes) use [`require_reauthenticated`] on every request, GET and POST:
//! a login of the last `session.reauth_max_age_secs` that presented the account's
//! second factor, if it has one. A form fetched while fresh and posted later is
//! refused like any other stale request.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse};

use crate::authn::second_factor::{self, Reauthentication};
use crate::domain::interaction::Step;
use crate::domain::scope::ScopeSet;
use crate::http::interaction::{live_session, start_flow};
use crate::http::lang::Lang;
use crate::http::page_error::PageError;
use crate::protocol::authorize::LiveSession;
use crate::protocol::authorize::flow::Entry;
use crate::protocol::authorize::request::{AuthorizationRequest, Prompt};
use crate::state::AppState;

/// The live session of the browser, or the response that sends it to log in first and
/// come back to `return_to` (a path of ours, starting with `/account`).
///
/// With `max_age`, a session whose login is older must log in again: actions such as
/// removing a second factor need a fresh login.
pub async fn require(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    return_to: &str,
    max_age: Option<Duration>,
) -> Result<Result<LiveSession, HttpResponse>, PageError> {
    let now = state.clock.now();
    let live = live_session(req, state, now)
        .await
        .map_err(PageError::from_oauth)?;
    let fresh_enough = |live: &LiveSession| {
        max_age.is_none_or(|age| {
            now.timestamp() - live.session.facts.auth_time
                <= i64::try_from(age.as_secs()).unwrap_or(i64::MAX)
        })
    };
    match live {
        Some(live) if fresh_enough(&live) => Ok(Ok(live)),
        live => {
            let fresh = live.is_some();
            Ok(Err(login(req, state, lang, return_to, fresh).await?))
        }
    }
}

/// The live session of the browser if it may change the account's authenticators
/// ([`second_factor::reauthentication`]), or the response that sends it to log in
/// again, with `prompt=login` (password, then the second factor the account has), and
/// come back to `return_to`. The check reads the account's factors now, so a factor
/// added since the login counts.
pub async fn require_reauthenticated(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    return_to: &str,
) -> Result<Result<LiveSession, HttpResponse>, PageError> {
    let now = state.clock.now();
    let Some(live) = live_session(req, state, now)
        .await
        .map_err(PageError::from_oauth)?
    else {
        return Ok(Err(login(req, state, lang, return_to, false).await?));
    };
    let has_factor =
        second_factor::has_factor(&state.authn(), &live.session.facts.account_id).await?;
    let verdict = second_factor::reauthentication(
        live.session.facts.auth_time,
        &live.session.facts.amr,
        has_factor,
        now.timestamp(),
        state.settings.session.reauth_max_age_secs,
    );
    if verdict == Reauthentication::Fresh {
        return Ok(Ok(live));
    }
    tracing::info!(
        target: "security",
        reason = verdict.as_str(),
        "changing authenticators needs a new login"
    );
    Ok(Err(login(req, state, lang, return_to, true).await?))
}

/// Starts a login whose end is `return_to`; `fresh` asks for the password even with a
/// live session.
pub async fn login(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    return_to: &str,
    fresh: bool,
) -> Result<HttpResponse, PageError> {
    if !return_to.starts_with("/account") || return_to.contains("//") {
        return Err(PageError::bad_request());
    }
    let request = AuthorizationRequest {
        client_id: String::new(),
        client_name: lang.texts().site_name.to_owned(),
        redirect_uri: return_to.to_owned(),
        scope: ScopeSet::from_iter(["openid"]),
        state: None,
        nonce: None,
        code_challenge: None,
        prompt: if fresh {
            Prompt::Login
        } else {
            Prompt::Default
        },
        max_age: None,
        ui_locales: Some(lang.code().to_owned()),
        own_page: Some(return_to.to_owned()),
        acr: None,
        prompt_consent: false,
        id_token_hint: None,
        hint_subject: None,
    };
    let entry = Entry {
        step: Step::Password,
        progress: None,
        sid: None,
    };
    start_flow(req, state, request, entry, state.clock.now())
        .await
        .map_err(PageError::from_oauth)
}
