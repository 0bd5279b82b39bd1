//! The forms of the account page: end a session, withdraw a consent, change the
//! password. Each needs the signed-in citizen and a valid CSRF token for its form; an
//! expired token shows the page again with a "form expired" message.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{END_SESSION, PAGE, PASSWORD, WITHDRAW, render, texts};
use crate::audit;
use crate::authn::password::PasswordError;
use crate::authn::password_change::{self, ChangeError, ChangeRequest, PasswordServices};
use crate::authn::session::{self, Session};
use crate::authn::throttle::Throttle;
use crate::consent;
use crate::domain::national_id::NationalId;
use crate::domain::secret::Password;
use crate::http::access_log::request_id;
use crate::http::csrf::Freshness;
use crate::http::lang::Lang;
use crate::http::page_error::PageError;
use crate::http::redirect::redirect;
use crate::http::signed_in::{Any, PageAction, SignedForm, TokenForm};
use crate::metrics::InternalError;
use crate::pages::enrol;
use crate::pages::login_protection;
use crate::protocol::authorize::LiveSession;
use crate::protocol::logout::backchannel;
use crate::registry;
use crate::state::AppState;

/// Fields of every account form; all optional so a missing one gets a page.
#[derive(Deserialize, Default)]
pub struct AccountForm {
    csrf_token: Option<String>,
    sid: Option<String>,
    client_id: Option<String>,
    current_password: Option<String>,
    new_password: Option<String>,
}

// No honest value comes near these.
const MAX_ID_LEN: usize = 128;

impl TokenForm for AccountForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref().filter(|t| t.len() <= MAX_ID_LEN)
    }
}

/// The forms of the account page, each with a token of its own.
pub struct EndSession;
pub struct Withdraw;
pub struct ChangePassword;

impl PageAction for EndSession {
    type Form = AccountForm;
    const PAGE: &'static str = PAGE;
    const PURPOSE: &'static str = END_SESSION;
}

impl PageAction for Withdraw {
    type Form = AccountForm;
    const PAGE: &'static str = PAGE;
    const PURPOSE: &'static str = WITHDRAW;
}

impl PageAction for ChangePassword {
    type Form = AccountForm;
    const PAGE: &'static str = PAGE;
    const PURPOSE: &'static str = PASSWORD;
}

/// The account page again, with "form expired": the form was open too long.
async fn expired(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    live: &LiveSession,
) -> Result<HttpResponse, PageError> {
    let message = Some(texts(lang).form_expired);
    render(
        req,
        state,
        lang,
        live,
        StatusCode::BAD_REQUEST,
        None,
        message,
    )
    .await
}

fn done(lang: Lang, what: &str) -> HttpResponse {
    redirect(&format!("{PAGE}?lang={}&done={what}", lang.code()), true)
}

async fn citizen_of(state: &AppState, account_id: &str) -> Result<Option<NationalId>, PageError> {
    Ok(
        registry::identity_by_account(&state.db, account_id.to_owned())
            .await?
            .map(|(_, citizen)| citizen.national_id),
    )
}

/// Tells the relying parties of an ended session, and audits the end.
pub(crate) async fn after_end(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    ended: &Session,
    citizen: Option<NationalId>,
    why: &'static str,
) -> Result<(), PageError> {
    let clients = session::take_clients(state.store.as_ref(), &ended.facts.sid).await?;
    let mut event = audit::Event::new(audit::Kind::Login, "logout", state.clock.now().naive_utc())
        .detail(why)
        .request_id(request_id(req).as_deref());
    if let Some(citizen) = &citizen {
        event = event.citizen(citizen.clone());
    }
    // Queued, not awaited: the session is over whatever the trail says.
    state.audit.record(event).await;
    backchannel::queue(
        &state.protocol(),
        &ended.facts,
        &clients,
        citizen.as_ref(),
        state.clock.now(),
    )
    .await?;
    Ok(())
}

pub async fn end_session_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    post: SignedForm<EndSession, Any>,
) -> Result<HttpResponse, PageError> {
    let lang = post.lang;
    end_session(&req, &state, post)
        .await
        .map_err(|e| e.in_lang(lang))
}

async fn end_session(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    SignedForm {
        form,
        lang,
        live,
        token,
        ..
    }: SignedForm<EndSession, Any>,
) -> Result<HttpResponse, PageError> {
    if token == Freshness::Expired {
        return expired(req, state, lang, &live).await;
    }
    let sid = form
        .sid
        .filter(|s| !s.is_empty() && s.len() <= MAX_ID_LEN)
        .ok_or_else(PageError::bad_request)?;
    let account_id = &live.session.facts.account_id;
    let now = state.clock.now();
    // Only sessions of this account can be found: another citizen's sid ends nothing.
    if let Some(ended) = session::end_by_sid(state.store.as_ref(), account_id, &sid, now).await? {
        let citizen = citizen_of(state, account_id).await?;
        after_end(req, state, &ended, citizen, "ended from the account page").await?;
        tracing::info!(target: "security", "session ended from the account page");
    }
    Ok(done(lang, "session_ended"))
}

pub async fn withdraw_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    post: SignedForm<Withdraw, Any>,
) -> Result<HttpResponse, PageError> {
    let lang = post.lang;
    withdraw(&req, &state, post)
        .await
        .map_err(|e| e.in_lang(lang))
}

async fn withdraw(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    SignedForm {
        form,
        lang,
        live,
        token,
        ..
    }: SignedForm<Withdraw, Any>,
) -> Result<HttpResponse, PageError> {
    if token == Freshness::Expired {
        return expired(req, state, lang, &live).await;
    }
    let client_id = form
        .client_id
        .filter(|c| !c.is_empty() && c.len() <= MAX_ID_LEN && !c.contains('\0'))
        .ok_or_else(PageError::bad_request)?;
    let account_id = &live.session.facts.account_id;
    let now = state.clock.now();
    let (account, client) = (account_id.clone(), client_id.clone());
    let scope = state
        .db
        .run(move |conn| crate::storage::consents::granted(conn, &account, &client))
        .await?
        .unwrap_or_default();
    if consent::withdraw(&state.db, state.store.as_ref(), account_id, &client_id, now).await? {
        let citizen = citizen_of(state, account_id).await?;
        let request_id = request_id(req);
        let decision = consent::Decision {
            outcome: "consent_withdrawn",
            citizen,
            client_id: &client_id,
            scope: &scope,
            request_id: request_id.as_deref(),
        };
        consent::audit(&state.audit, decision, now).await;
    }
    Ok(done(lang, "withdrawn"))
}

pub async fn password_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    post: SignedForm<ChangePassword, Any>,
) -> Result<HttpResponse, PageError> {
    let lang = post.lang;
    change_password(&req, &state, post)
        .await
        .map_err(|e| e.in_lang(lang))
}

async fn change_password(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    SignedForm {
        form,
        lang,
        live,
        token,
        ..
    }: SignedForm<ChangePassword, Any>,
) -> Result<HttpResponse, PageError> {
    if token == Freshness::Expired {
        return expired(req, state, lang, &live).await;
    }
    let a = texts(lang);
    let now = state.clock.now();
    let throttle = Throttle::new(state.store.as_ref(), &state.settings.login_protection);
    let services = PasswordServices {
        db: &state.db,
        store: state.store.as_ref(),
        hasher: &state.hasher,
        throttle: &throttle,
    };
    let request = ChangeRequest {
        session: &live.session.facts,
        current: Password::new(form.current_password.unwrap_or_default()),
        new: Password::new(form.new_password.unwrap_or_default()),
        client_ip: crate::http::limits::client_ip(req),
        now,
    };
    let refused = |status, message| render(req, state, lang, &live, status, None, Some(message));
    let changed = match password_change::change(&services, request).await {
        Ok(changed) => changed,
        Err(ChangeError::NoAccount) => return Err(PageError::login_expired()),
        Err(ChangeError::Policy(reason)) => {
            return refused(StatusCode::BAD_REQUEST, enrol::policy_message(lang, reason)).await;
        }
        Err(ChangeError::Throttled { retry_after_secs })
        | Err(ChangeError::WrongPassword {
            retry_after_secs: Some(retry_after_secs),
        }) => {
            tracing::info!(target: "security", "password change refused: too many failures");
            return too_many_attempts(req, state, lang, &live, retry_after_secs).await;
        }
        Err(ChangeError::WrongPassword {
            retry_after_secs: None,
        }) => {
            tracing::info!(target: "security", "password change refused: wrong current password");
            return refused(StatusCode::BAD_REQUEST, a.wrong_password).await;
        }
        Err(ChangeError::Password(PasswordError::Busy)) => {
            return busy(req, state, lang, &live).await;
        }
        Err(ChangeError::Password(e)) => return Err(password_error(&e)),
        Err(ChangeError::Storage(e)) => return Err(e.into()),
        Err(ChangeError::Store(e)) => return Err(e.into()),
    };
    for session in &changed.ended {
        after_end(
            req,
            state,
            session,
            Some(changed.citizen.clone()),
            "password changed",
        )
        .await?;
    }
    let request_id = request_id(req);
    password_change::audit_change(&state.audit, &changed, request_id.as_deref(), now).await;
    let account_id = &live.session.facts.account_id;
    crate::pages::contacts::tell(
        state,
        account_id,
        crate::notify::Notice::PasswordChanged,
        lang,
    )
    .await;
    tracing::info!(target: "security", "password changed from the account page");
    Ok(done(lang, "password"))
}

fn password_error(e: &PasswordError) -> PageError {
    PageError::internal_from(InternalError::PASSWORD, e, false)
}

/// The account page with "too many attempts, try again in …": 429 with Retry-After.
async fn too_many_attempts(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    live: &LiveSession,
    retry_after_secs: u64,
) -> Result<HttpResponse, PageError> {
    let reason = login_protection::texts(lang).too_many_logins;
    let status = StatusCode::TOO_MANY_REQUESTS;
    wait_page(req, state, lang, live, status, reason, retry_after_secs).await
}

/// The account page with "too many people are logging in, try again in …" (the
/// password hash queue is full): 503 with Retry-After. Nothing was changed.
async fn busy(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    live: &LiveSession,
) -> Result<HttpResponse, PageError> {
    tracing::warn!(target: "security", "password change turned away: the password hash queue is full");
    let reason = login_protection::texts(lang).busy;
    let (status, wait) = (
        StatusCode::SERVICE_UNAVAILABLE,
        login_protection::BUSY_RETRY_AFTER_SECS,
    );
    wait_page(req, state, lang, live, status, reason, wait).await
}

async fn wait_page(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    live: &LiveSession,
    status: StatusCode,
    reason: &str,
    retry_after_secs: u64,
) -> Result<HttpResponse, PageError> {
    let message = login_protection::wait_message(lang, reason, retry_after_secs);
    let response = render(req, state, lang, live, status, None, Some(&message)).await?;
    Ok(login_protection::with_retry_after(
        response,
        retry_after_secs,
    ))
}
