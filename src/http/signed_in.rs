//! `SignedIn` and `SignedForm`: the extractors of the citizen's own pages (`/account`
//! and below). They read the browser's live session, hold its login to what the page
//! needs ([`Requirement`]), and for a form post read the form and check its CSRF token
//! ([`super::csrf`]). A browser that falls short is sent to log in and come back to the
//! page: the same login flow as clients use (password, then a second factor if due),
//! with no client, ending on the page. Every other refusal is the page's error page, in
//! the page's language.
//!
//! The requirement is checked on every request, GET and POST: a form fetched while
//! fresh and posted later is refused like any other stale request.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::csrf::{self, Freshness};
use super::interaction::{live_session, start_flow};
use super::lang::{Lang, page_lang};
use super::page_error::PageError;
use super::page_form::PageForm;
use crate::authn::second_factor::{self, Reauthentication};
use crate::domain::acr::AcrDemand;
use crate::domain::interaction::Step;
use crate::domain::scope::ScopeSet;
use crate::protocol::authorize::LiveSession;
use crate::protocol::authorize::flow::Entry;
use crate::protocol::authorize::request::{AuthorizationRequest, Prompt};
use crate::state::AppState;

/// What a page needs of the login behind the session, named by a marker type
/// ([`Any`], [`Reauthenticated`]).
pub trait Requirement: 'static {
    const NEED: Need;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any live session.
    Session,
    /// A login that may change the account's authenticators
    /// ([`second_factor::reauthentication`]): of the last `session.reauth_max_age_secs`,
    /// and with the account's second factor if it has one. The factors are read at
    /// the request, so one added since the login counts.
    ///
    /// A form to such a page is refused for a forged token before the session is
    /// read: a stranger's post starts no login and spends nothing.
    Reauthentication,
}

/// A live session: the account page, the list of factors.
pub struct Any;

impl Requirement for Any {
    const NEED: Need = Need::Session;
}

/// A recent login with the account's second factor: the pages that bind or remove an
/// authenticator or renew the recovery codes. Whoever finds a device with a live
/// session must not be able to change how the account logs in.
pub struct Reauthenticated;

impl Requirement for Reauthenticated {
    const NEED: Need = Need::Reauthentication;
}

/// The citizen signed in to a page, with the login the page needs (`R`). The page's
/// language is its `?lang=`, else the browser's; a login comes back to the page that
/// asked for it (its route).
pub struct SignedIn<R> {
    pub live: LiveSession,
    pub lang: Lang,
    needs: PhantomData<R>,
}

impl<R: Requirement> FromRequest for SignedIn<R> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = web::Data::<AppState>::extract(&req).await?;
            let lang = page_lang(&req, None);
            let page = req.match_pattern().unwrap_or_default();
            let live = require::<R>(&req, &state, lang, &page).await?;
            Ok(SignedIn {
                live,
                lang,
                needs: PhantomData,
            })
        })
    }
}

/// A form of a signed-in page, named by a marker type: its fields, the page it is on
/// and what its CSRF token is bound to.
pub trait PageAction: 'static {
    type Form: TokenForm + DeserializeOwned + Default + 'static;
    /// The page the form is on: a login started for a post comes back there.
    const PAGE: &'static str;
    /// The token's purpose ([`csrf::issue`]), one per form.
    const PURPOSE: &'static str;
}

/// A form that carries a CSRF token.
pub trait TokenForm {
    fn csrf_token(&self) -> Option<&str>;
}

/// A form post to a signed-in page ([`PageAction`] `A`): the form and its language
/// ([`PageForm`]), the live session with the login the page needs (`R`), and a token
/// known to be ours. A token that is not ours is refused with the 403 page; an expired
/// one is left to the page, which shows its form again.
pub struct SignedForm<A: PageAction, R> {
    pub form: A::Form,
    pub lang: Lang,
    pub live: LiveSession,
    pub token: Freshness,
    needs: PhantomData<R>,
}

impl<A: PageAction, R: Requirement> FromRequest for SignedForm<A, R> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = PageForm::<A::Form>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let PageForm { form, lang } = form.await?;
            let state = web::Data::<AppState>::extract(&req).await?;
            let check_token = || {
                let token = form.csrf_token();
                csrf::check_form(&req, &state, A::PURPOSE, token, state.clock.now())
                    .map_err(|e| e.in_lang(lang))
            };
            let token_first = match R::NEED {
                Need::Reauthentication => Some(check_token()?),
                Need::Session => None,
            };
            let live = require::<R>(&req, &state, lang, A::PAGE).await?;
            let token = match token_first {
                Some(token) => token,
                None => check_token()?,
            };
            Ok(SignedForm {
                form,
                lang,
                live,
                token,
                needs: PhantomData,
            })
        })
    }
}

/// The live session if its login meets `R`, or the response that sends the browser to
/// log in and come back to `page`.
async fn require<R: Requirement>(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    page: &str,
) -> Result<LiveSession, actix_web::Error> {
    let now = state.clock.now();
    let in_lang = |e: PageError| e.in_lang(lang);
    let live = live_session(req, state, now)
        .await
        .map_err(|e| in_lang(PageError::from_oauth(e)))?;
    let again = match (live, R::NEED) {
        (None, _) => false,
        (Some(live), Need::Session) => return Ok(live),
        (Some(live), Need::Reauthentication) => {
            if reauthenticated(state, &live, now).await.map_err(in_lang)? {
                return Ok(live);
            }
            true
        }
    };
    let return_to = format!("{page}?lang={}", lang.code());
    let login = login(req, state, lang, &return_to, again, None)
        .await
        .map_err(in_lang)?;
    Err(InternalError::from_response("the page needs a login", login).into())
}

/// What a page of the officer console demands of the login: a level (with the second
/// factor it needs) and a recent password.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Demand {
    pub acr: AcrDemand,
    pub max_age: i64,
}

/// Starts a login with no client that ends by returning to `return_to`, one of the
/// account pages or of the officer console, with its `?lang=`. `again` asks for the
/// password even with a live session (`prompt=login`): the session is there but its
/// login falls short.
pub(crate) async fn login(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    return_to: &str,
    again: bool,
    demand: Option<Demand>,
) -> Result<HttpResponse, PageError> {
    let own = return_to.starts_with("/account") || return_to.starts_with("/officer");
    if !own || return_to.contains("//") {
        return Err(PageError::bad_request());
    }
    let request = AuthorizationRequest {
        client_id: String::new(),
        client_name: lang.texts().site_name.to_owned(),
        redirect_uri: return_to.to_owned(),
        scope: ScopeSet::from_iter(["openid"]),
        state: None,
        response_mode: Default::default(),
        nonce: None,
        code_challenge: None,
        prompt: if again {
            Prompt::Login
        } else {
            Prompt::Default
        },
        max_age: demand.map(|d| d.max_age),
        ui_locales: Some(lang.code().to_owned()),
        own_page: Some(return_to.to_owned()),
        acr: demand.map(|d| d.acr),
        prompt_consent: false,
        id_token_hint: None,
        hint_subject: None,
        dpop_jkt: None,
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

async fn reauthenticated(
    state: &AppState,
    live: &LiveSession,
    now: DateTime<Utc>,
) -> Result<bool, PageError> {
    let facts = &live.session.facts;
    let has_factor = second_factor::has_factor(&state.authn(), &facts.account_id).await?;
    let verdict = second_factor::reauthentication(
        facts.auth_time,
        &facts.amr,
        has_factor,
        now.timestamp(),
        state.settings.session.reauth_max_age_secs,
    );
    if verdict != Reauthentication::Fresh {
        tracing::info!(
            target: "security",
            reason = verdict.as_str(),
            "changing authenticators needs a new login"
        );
    }
    Ok(verdict == Reauthentication::Fresh)
}
