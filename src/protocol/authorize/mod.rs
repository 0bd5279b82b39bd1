//! The authorization endpoint's protocol (RFC 6749 §3.1, OIDC Core §3.1.2) and the login
//! interaction behind it, below HTTP. [`authorize`] checks a request and either answers
//! at once from a live session (SSO) or starts a login flow at the page of its first
//! step; the pages then move the flow on with [`interaction::advance`]. The web layer
//! reads the browser's cookies and headers into a [`Browser`], calls one function here,
//! and renders the [`Outcome`] as a redirect.
//!
//! The request arrives as parameters, as a signed request object (`request_object`),
//! or pushed beforehand (`par`, RFC 9126); [`checked_request`] checks it the same way
//! for `/authorize` and `/par`, and a pushed request is taken once, already checked.

pub mod flow;
pub mod grant;
pub mod interaction;
pub mod par;
pub mod request;
pub mod request_object;

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Context;
use super::error::{ErrorCode, OAuthError};
use crate::authn::session::{self, Session};
use crate::domain::acr::AssuranceLevel;
use crate::domain::client::{Client, GrantType};
use crate::domain::interaction::{Next, Step};
use crate::domain::secret::SessionToken;
use crate::registry;
use crate::store::keys;
use flow::{Entry, Progress};
use grant::AuthorizationResponse;
use request::{AuthorizationRequest, AuthorizeError, AuthorizeParams, Prompt};

/// What the browser brought, read by the web layer from its cookies and headers.
#[derive(Default)]
pub struct Browser {
    /// The session cookie's token.
    pub session_token: Option<SessionToken>,
    /// The browser cookie's secret, if this server issued it: it binds a flow to this
    /// browser. A flow started for a browser without one makes one
    /// ([`Outcome::ToStep`]'s `new_browser_secret`).
    pub secret: Option<String>,
    /// The client's address, for the limits on pending logins per network.
    pub address: Option<IpAddr>,
    /// The `User-Agent`, from which a new session keeps a coarse device hint.
    pub user_agent: Option<String>,
    /// The request's id, for the audit trail.
    pub request_id: Option<String>,
}

/// Why the browser gets one of our error pages and not a redirect: until the client and
/// its redirect URI are known good, or once a flow is gone, there is nowhere safe to send
/// an error.
#[derive(Debug)]
pub enum Refused {
    BadRequest,
    UnknownClient,
    BadRedirectUri,
    /// The flow is unknown, expired, or finished by another request.
    LoginExpired,
    /// The pushed request a `request_uri` names is unknown, spent, expired, or another
    /// client's (RFC 9126 §4): its redirect URI cannot be known, and the query's is not
    /// to be trusted.
    RequestUri,
    /// The request is refused before any redirect URI is known good (a request object
    /// or `request_uri` refused, a request that had to be pushed): why, for the log.
    Request(OAuthError),
    /// An internal cause, already logged.
    Internal(OAuthError),
}

impl<E: Into<OAuthError>> From<E> for Refused {
    fn from(e: E) -> Self {
        Refused::Internal(e.into())
    }
}

/// Where the browser goes next.
#[derive(Debug)]
pub enum Outcome {
    /// To the client: a code, or an error at its registered redirect URI.
    ToClient(AuthorizationResponse),
    /// To the page of `step`, for the flow `flow_id` just started, in the language the
    /// client asked for (`ui_locales`); with the secret the flow is bound to when the
    /// browser had none, for the web layer to set as its cookie.
    ToStep {
        step: Step,
        flow_id: String,
        ui_locales: Option<String>,
        new_browser_secret: Option<String>,
    },
}

/// Answers an authorization request.
pub async fn authorize(
    ctx: &Context<'_>,
    browser: &Browser,
    params: AuthorizeParams,
    now: DateTime<Utc>,
) -> Result<Outcome, AuthorizeError> {
    let client_id = request::client_id(&params)?;
    let client = ctx
        .client(&client_id, now)
        .await
        .map_err(|e| AuthorizeError::Page(e.into()))?
        .ok_or(AuthorizeError::Page(Refused::UnknownClient))?;
    let request = match params.request_uri() {
        Err(_) => {
            let error = OAuthError::new(
                ErrorCode::InvalidRequest,
                "request_uri is repeated or too long",
            );
            return Err(request::early_error(&params, &client, error));
        }
        // RFC 9126 §4: with a pushed request only its parameters count. The loose
        // parameters beside `client_id` and `request_uri` (a `redirect_uri`, a `scope`,
        // a `state` anyone could have added to the URL) are ignored, never merged.
        Ok(Some(request_uri)) => {
            if !request_uri.starts_with(par::URN_PREFIX) {
                // RFC 9101 §2.2 lets a client point at a request object anywhere; we
                // never fetch one (a server-side request to any address, and a request
                // that no one pushed with its client authenticated).
                let error = OAuthError::new(
                    ErrorCode::RequestUriNotSupported,
                    "only request_uri values from the pushed authorization request endpoint are accepted",
                );
                return Err(request::early_error(&params, &client, error));
            }
            if params.request_object().ok().flatten().is_some() {
                let error = OAuthError::new(
                    ErrorCode::InvalidRequest,
                    "request and request_uri cannot both be sent",
                );
                return Err(request::early_error(&params, &client, error));
            }
            par::take(ctx, &client, request_uri, now)
                .await
                .map_err(AuthorizeError::Page)?
        }
        Ok(None) => {
            if ctx.settings.par.required || client.requires_par(ctx.settings.server.profile) {
                let error = OAuthError::new(
                    ErrorCode::InvalidRequest,
                    "this client must push its authorization requests (pushed_authorization_request_endpoint)",
                );
                return Err(request::early_error(&params, &client, error));
            }
            checked_request(ctx, &client, params, now).await?
        }
    };
    let (redirect_uri, client_state) = (request.redirect_uri.clone(), request.state.clone());
    let response_mode = request.response_mode;
    let redirect_error = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        response_mode,
        state: client_state.clone(),
        error,
    };

    let (session, facts) =
        interaction::session_and_facts(ctx, browser.session_token.as_ref(), &request, now)
            .await
            .map_err(AuthorizeError::Page)?;
    let next =
        crate::domain::interaction::next(&interaction::demands(&request), &facts, now.timestamp());
    let step = match next {
        Next::Refuse(refusal) => return Err(redirect_error(interaction::refusal_error(refusal))),
        Next::Done => {
            let session = session.ok_or(AuthorizeError::Page(Refused::LoginExpired))?;
            let response = grant::issue_code(
                ctx.store,
                ctx.issuer,
                &request,
                &session,
                code_ttl(ctx),
                now,
            )
            .await
            .map_err(|e| redirect_error(e.into()))?;
            return Ok(Outcome::ToClient(response));
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
    start_flow(ctx, browser, request, entry, now)
        .await
        .map_err(redirect_error)
}

/// What the authorization endpoint and `/par` both do to the parameters of an
/// authorization request from `client`, so that a pushed request is checked exactly as
/// a plain one: the request object, if one is sent, replaces them (`request_object`);
/// then the checks of `request::check`, the client's grant and profile, and the
/// `id_token_hint`. The result is what a login flow keeps.
pub async fn checked_request(
    ctx: &Context<'_>,
    client: &Client,
    params: AuthorizeParams,
    now: DateTime<Utc>,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let params = match params.request_object().map(|jws| jws.map(str::to_owned)) {
        Err(_) => {
            let error =
                OAuthError::new(ErrorCode::InvalidRequest, "request is repeated or too long");
            return Err(request::early_error(&params, client, error));
        }
        Ok(None) => params,
        // OIDC Core §6.3.3, RFC 9101 §5: only the object's parameters are used; those
        // beside it (the query's `client_id` aside, which named the client whose keys
        // verified it) are ignored.
        Ok(Some(jws)) => match request_object::verify(ctx, client, &jws, now).await {
            Ok(pairs) => AuthorizeParams::from_pairs(pairs),
            Err(error) => return Err(request::early_error(&params, client, error)),
        },
    };
    let mut request = request::check(&params, client)?;
    let redirect_error = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: request.redirect_uri.clone(),
        response_mode: request.response_mode,
        state: request.state.clone(),
        error,
    };
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(redirect_error(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client is not registered for the authorization code flow",
        )));
    }
    request::check_profile(&request, client, ctx.settings.server.profile)
        .map_err(&redirect_error)?;
    let hint = request::verify_id_token_hint(
        &ctx.keys.current(),
        ctx.issuer,
        &client.id,
        request.id_token_hint.as_deref(),
    )
    .map_err(&redirect_error)?;
    request.hint_subject = hint;
    Ok(request)
}

fn code_ttl(ctx: &Context<'_>) -> Duration {
    Duration::from_secs(ctx.settings.tokens.code_ttl_secs)
}

/// A live session and the level its account has now.
pub struct LiveSession {
    pub session: Session,
    pub account_level: AssuranceLevel,
}

/// The session of `token`, if it is live and its citizen may still sign in.
pub async fn live_session(
    ctx: &Context<'_>,
    token: Option<&SessionToken>,
    now: DateTime<Utc>,
) -> Result<Option<LiveSession>, OAuthError> {
    let Some(token) = token else {
        return Ok(None);
    };
    let Some(session) = session::find(ctx.store, token, now).await? else {
        return Ok(None);
    };
    // The register may have changed since the login: re-check before SSO.
    let account = registry::identity_by_account(ctx.db, session.facts.account_id.clone())
        .await?
        .filter(|(account, citizen)| registry::check_eligible(account, citizen).is_ok());
    let Some((account, _)) = account else {
        session::end(ctx.store, token).await?;
        return Ok(None);
    };
    // An officer may have lowered the account since the login (a reported stolen
    // card, say): the session never vouches for more than the account has now.
    let mut session = session;
    session.facts.acr = session.facts.acr.capped(account.assurance_level);
    Ok(Some(LiveSession {
        session,
        account_level: account.assurance_level,
    }))
}

/// Stores the request as a flow at `entry`'s step, bound to the browser's secret.
pub async fn start_flow(
    ctx: &Context<'_>,
    browser: &Browser,
    request: AuthorizationRequest,
    entry: Entry,
    now: DateTime<Utc>,
) -> Result<Outcome, OAuthError> {
    // Made only here, where a flow starts: SSO and error answers need no secret.
    let new_browser_secret = match &browser.secret {
        Some(_) => None,
        None => Some(ctx.cookies.new_browser_secret()),
    };
    let browser_secret = browser
        .secret
        .as_deref()
        .or(new_browser_secret.as_deref())
        .unwrap_or_default();
    let ttl = Duration::from_secs(ctx.settings.session.login_ttl_secs);
    let new_browser = new_browser_secret.is_some();
    pending_logins_allowed(ctx, browser, browser_secret, new_browser, ttl).await?;
    let step = entry.step;
    let ui_locales = request.ui_locales.clone();
    let flow_id = flow::start(ctx.store, request, browser_secret, entry, ttl, now).await?;
    Ok(Outcome::ToStep {
        step,
        flow_id,
        ui_locales,
        new_browser_secret,
    })
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
    ctx: &Context<'_>,
    browser: &Browser,
    browser_secret: &str,
    new_browser: bool,
    ttl: Duration,
) -> Result<(), OAuthError> {
    let limits = &ctx.settings.limits;
    let mut counted = Vec::with_capacity(2);
    if limits.login_flows_per_browser > 0 {
        let key = keys::flows_per_browser(browser_secret);
        counted.push((key, limits.login_flows_per_browser));
    }
    if let Some(ip) = browser.address
        && limits.login_flows_per_ip > 0
    {
        let key = keys::flows_per_network(&crate::authn::throttle::client_bucket(ip));
        counted.push((key, limits.login_flows_per_ip));
    }
    if new_browser {
        counted.reverse();
    }
    for (key, limit) in counted {
        if ctx.store.increment(&key, ttl).await? > limit {
            tracing::warn!(target: "security", "too many pending logins from one browser or address");
            return Err(OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "too many logins in progress from this browser or network; try again later",
            ));
        }
    }
    Ok(())
}
