//! `/officer`: the officer console. Officers are citizens' accounts with roles
//! (`domain::officer::Role`), granted by an operator; they log in as citizens do, at
//! level 2 with a second factor, and the console asks for a new login once that login
//! is older than `admin.officer_session_max_age_secs` ([`OfficerIn`]).
//!
//! Pages: the home page (find a citizen, the audit trail, links), a citizen's case file
//! and its actions ([`citizen`]), relying parties ([`clients`]) and the officer's own
//! API tokens ([`tokens`]). Every form is a POST with a CSRF token; a look-up posts the
//! number rather than putting it in a URL, where logs and history would keep it. Every
//! look-up and action is audited with the officer's account id, and each destructive
//! action needs its confirmation box ticked.

mod citizen;
mod clients;
mod texts;
mod tokens;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::factors::{other, with_cookie};
use crate::domain::officer::Role;
use crate::http::csrf;
use crate::http::lang::{Lang, Texts};
use crate::http::officer::OfficerIn;
use crate::http::page_error::{PageError, html};
use crate::http::signed_in::{PageAction, TokenForm};
use crate::officers::{Officer, OfficerError};
use crate::state::AppState;
use texts::OfficerTexts;

pub use citizen::{act_post, audit_post, citizen_post};
pub use clients::{clients_get, clients_post};
pub use tokens::{tokens_get, tokens_post};

const HOME: &str = "/officer";
/// CSRF purposes, one per form.
const LOOK_UP: &str = "officer-look-up";
const ACT: &str = "officer-act";
const AUDIT: &str = "officer-audit";
const CLIENTS: &str = "officer-clients";
const TOKENS: &str = "officer-tokens";
/// Longer than any honest field of the console's forms (a reason is 500 characters,
/// up to 4 bytes each; a list of redirect URIs a few kilobytes).
const MAX_FIELD: usize = 8 * 1024;

/// Every field any console form has; each handler reads its own.
#[derive(Debug, Default, Deserialize)]
pub struct ConsoleForm {
    csrf_token: Option<String>,
    national_id: Option<String>,
    action: Option<String>,
    level: Option<String>,
    reason: Option<String>,
    confirm: Option<String>,
    client_id: Option<String>,
    client_name: Option<String>,
    redirect_uris: Option<String>,
    kind: Option<String>,
    label: Option<String>,
    days: Option<String>,
    token_id: Option<String>,
    roles: Option<String>,
}

impl TokenForm for ConsoleForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

impl ConsoleForm {
    fn field(&self, value: &Option<String>) -> String {
        crate::http::page_form::bounded(value.clone(), MAX_FIELD)
            .trim()
            .to_owned()
    }

    fn confirmed(&self) -> bool {
        self.confirm.as_deref() == Some("yes")
    }
}

macro_rules! console_action {
    ($name:ident, $page:expr, $purpose:expr) => {
        pub struct $name;
        impl PageAction for $name {
            type Form = ConsoleForm;
            const PAGE: &'static str = $page;
            const PURPOSE: &'static str = $purpose;
        }
    };
}

console_action!(LookUp, HOME, LOOK_UP);
console_action!(Act, HOME, ACT);
console_action!(Audit, HOME, AUDIT);
console_action!(ClientsAction, "/officer/clients", CLIENTS);
console_action!(TokensAction, "/officer/tokens", TOKENS);

/// What every console page shows around its content.
struct Frame<'a> {
    t: &'a Texts,
    o: &'a OfficerTexts,
    lang: &'a str,
    other_lang: &'a str,
    roles: String,
}

impl Frame<'static> {
    fn new(lang: Lang, officer: &Officer) -> Self {
        Frame {
            t: lang.texts(),
            o: texts::texts(lang),
            lang: lang.code(),
            other_lang: other(lang).code(),
            roles: officer.roles.to_words(),
        }
    }
}

#[derive(Template)]
#[template(path = "officer_home.html")]
struct HomePage<'a> {
    t: &'a Texts,
    lang: &'a str,
    f: Frame<'a>,
    error: Option<&'a str>,
    may_look_up: bool,
    may_audit: bool,
    may_clients: bool,
    csrf_look_up: String,
    csrf_audit: String,
}

/// The result of an action: what was done, and a secret to show once.
#[derive(Template)]
#[template(path = "officer_done.html")]
struct DonePage<'a> {
    t: &'a Texts,
    lang: &'a str,
    f: Frame<'a>,
    secret_intro: Option<&'a str>,
    secret: Option<&'a str>,
    national_id: Option<&'a str>,
    back: &'a str,
    csrf_look_up: String,
}

pub async fn home_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    OfficerIn { officer, lang, .. }: OfficerIn,
) -> Result<HttpResponse, PageError> {
    home(&req, &state, lang, &officer, StatusCode::OK, None)
}

/// The home page, with an error from a look-up that found nothing.
fn home(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    officer: &Officer,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let (secret, cookie) = csrf::browser(req, state);
    let now = state.clock.now();
    let page = HomePage {
        t: lang.texts(),
        lang: lang.code(),
        f: Frame::new(lang, officer),
        error,
        may_look_up: officer.may(Role::Registrar) || officer.may(Role::Support),
        may_audit: officer.may(Role::Auditor),
        may_clients: officer.may(Role::ClientAdmin),
        csrf_look_up: csrf::issue(state, &secret, LOOK_UP, now),
        csrf_audit: csrf::issue(state, &secret, AUDIT, now),
    };
    Ok(with_cookie(html(status, page.render()), cookie))
}

/// The home page again, with why the form was refused (400).
fn home_refusing(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    officer: &Officer,
    error: &str,
) -> Result<HttpResponse, PageError> {
    home(
        req,
        state,
        lang,
        officer,
        StatusCode::BAD_REQUEST,
        Some(error),
    )
}

/// The result page of an action.
fn done(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    officer: &Officer,
    secret: Option<(&str, &str)>,
    national_id: Option<&str>,
    back: &str,
) -> Result<HttpResponse, PageError> {
    let (browser, cookie) = csrf::browser(req, state);
    let page = DonePage {
        t: lang.texts(),
        lang: lang.code(),
        f: Frame::new(lang, officer),
        secret_intro: secret.map(|(intro, _)| intro),
        secret: secret.map(|(_, value)| value),
        national_id,
        back,
        csrf_look_up: csrf::issue(state, &browser, LOOK_UP, state.clock.now()),
    };
    Ok(with_cookie(html(StatusCode::OK, page.render()), cookie))
}

/// A refusal shown on the home page: an officer's mistake is explained, the rest is
/// the usual error page.
fn refused(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    officer: &Officer,
    e: OfficerError,
) -> Result<HttpResponse, PageError> {
    let o = texts::texts(lang);
    match e {
        OfficerError::NoAccount => home(
            req,
            state,
            lang,
            officer,
            StatusCode::NOT_FOUND,
            Some(o.no_account),
        ),
        OfficerError::Forbidden(_) => Err(PageError::forbidden().in_lang(lang)),
        OfficerError::Invalid(reason) => home(
            req,
            state,
            lang,
            officer,
            StatusCode::BAD_REQUEST,
            Some(&reason),
        ),
        OfficerError::Storage(e) => Err(PageError::from(e).in_lang(lang)),
    }
}
