//! `OfficerIn` and `OfficerForm`: the extractors of the officer console (`/officer` and
//! below). An officer is let in with a live session of an account that holds a role
//! now, that is at level 2 with a second factor, and whose login was at level 2, with
//! that factor, within `admin.officer_session_max_age_secs`: the console's sessions are
//! short. The roles are read from the database on every request, so a revoked role
//! stops working at once.
//!
//! A browser without a live session, or with a login too old or too weak, is sent to log
//! in (level 2 demanded, `max_age` set) and comes back to the page. An account that
//! cannot meet the demand (no role, not at level 2, no second factor) gets the 403 page
//! rather than a login it could never pass. A form's CSRF token is checked before the
//! session is read, so a forged post spends nothing.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::{FromRequest, HttpRequest, web};

use super::csrf::{self, Freshness};
use super::interaction::live_session;
use super::lang::{Lang, page_lang};
use super::page_error::PageError;
use super::page_form::PageForm;
use super::signed_in::{Demand, PageAction, TokenForm, login};
use crate::domain::acr::{AcrDemand, AssuranceLevel};
use crate::officers::{self, Officer};
use crate::protocol::authorize::LiveSession;
use crate::state::AppState;

/// An officer signed in to a console page.
pub struct OfficerIn {
    pub officer: Officer,
    pub live: LiveSession,
    pub lang: Lang,
}

impl FromRequest for OfficerIn {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = web::Data::<AppState>::extract(&req).await?;
            let lang = page_lang(&req, None);
            let page = req.match_pattern().unwrap_or_default();
            let (live, officer) = require(&req, &state, lang, &page).await?;
            Ok(OfficerIn {
                officer,
                live,
                lang,
            })
        })
    }
}

/// A form post to a console page, with its CSRF token checked first.
pub struct OfficerForm<A: PageAction> {
    pub form: A::Form,
    pub lang: Lang,
    pub officer: Officer,
    pub live: LiveSession,
    pub token: Freshness,
}

impl<A: PageAction> FromRequest for OfficerForm<A> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = PageForm::<A::Form>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let PageForm { form, lang } = form.await?;
            let state = web::Data::<AppState>::extract(&req).await?;
            let token = csrf::check_form(
                &req,
                &state,
                A::PURPOSE,
                form.csrf_token(),
                state.clock.now(),
            )
            .map_err(|e| e.in_lang(lang))?;
            let (live, officer) = require(&req, &state, lang, A::PAGE).await?;
            Ok(OfficerForm {
                form,
                lang,
                officer,
                live,
                token,
            })
        })
    }
}

/// The live session and the officer, or the response that sends the browser to log in
/// and come back to `page`, or the 403 page.
async fn require(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    page: &str,
) -> Result<(LiveSession, Officer), actix_web::Error> {
    let now = state.clock.now();
    let in_lang = |e: PageError| e.in_lang(lang);
    let max_age =
        i64::try_from(state.settings.admin.officer_session_max_age_secs).unwrap_or(i64::MAX);
    let live = live_session(req, state, now)
        .await
        .map_err(|e| in_lang(PageError::from_oauth(e)))?;
    let demand = Demand {
        acr: AcrDemand {
            min_level: AssuranceLevel::Level2,
        },
        max_age,
    };
    let again = match live {
        None => false,
        Some(live) => {
            let account_id = live.session.facts.account_id.clone();
            let (roles, has_factor) = state
                .db
                .run(move |conn| officers::standing(conn, &account_id))
                .await
                .map_err(|e| in_lang(PageError::from(e)))?;
            if roles.is_empty() || live.account_level != AssuranceLevel::Level2 || !has_factor {
                tracing::info!(target: "security", "the officer console refused an account");
                return Err(in_lang(PageError::forbidden()).into());
            }
            let facts = &live.session.facts;
            let strong =
                facts.acr.level() == AssuranceLevel::Level2 && facts.amr.has_second_factor();
            let fresh = now.timestamp().saturating_sub(facts.auth_time) <= max_age;
            if strong && fresh {
                let officer = Officer {
                    account_id: facts.account_id.clone(),
                    roles,
                };
                return Ok((live, officer));
            }
            true
        }
    };
    let return_to = format!("{page}?lang={}", lang.code());
    let login = login(req, state, lang, &return_to, again, Some(demand))
        .await
        .map_err(in_lang)?;
    Err(InternalError::from_response("the console needs an officer's login", login).into())
}
