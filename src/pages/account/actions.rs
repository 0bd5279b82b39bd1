//! The forms of the account page: end a session, withdraw a consent, change the
//! password. Each needs the signed-in citizen and a valid CSRF token for its form; an
//! expired token shows the page again with a "form expired" message.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{END_SESSION, PASSWORD, WITHDRAW, render, return_to, texts};
use crate::audit;
use crate::authn::password::PasswordError;
use crate::authn::password_policy::{self, PolicyContext};
use crate::authn::session::{self, Session};
use crate::authn::throttle::{Throttle, Verdict};
use crate::consent;
use crate::domain::national_id::NationalId;
use crate::domain::secret::Password;
use crate::http::access_log::request_id;
use crate::http::lang::Lang;
use crate::http::page_error::PageError;
use crate::http::page_form::PageForm;
use crate::http::redirect::redirect;
use crate::metrics::InternalError;
use crate::oidc::authorize::LiveSession;
use crate::oidc::logout;
use crate::pages::csrf::{self, Freshness};
use crate::pages::enrol;
use crate::pages::login_protection;
use crate::pages::signed_in;
use crate::registry;
use crate::state::AppState;
use crate::storage::{accounts, refresh_tokens};
use crate::tokens::revocation;

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
const MAX_PASSWORD_BYTES: usize = 256;

/// What a form post may go on with: the citizen's session, or the response to send.
enum Checked {
    Go(Box<LiveSession>),
    Answer(HttpResponse),
}

/// The signed-in citizen, and a valid token for `purpose`.
async fn check(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    purpose: &str,
    form: &AccountForm,
) -> Result<Checked, PageError> {
    let live = match signed_in::require(req, state, lang, &return_to(lang), None).await? {
        Ok(live) => live,
        Err(login) => return Ok(Checked::Answer(login)),
    };
    let token = form.csrf_token.as_deref().filter(|t| t.len() <= MAX_ID_LEN);
    match csrf::check_form(req, state, purpose, token, state.clock.now())? {
        Freshness::Fresh => Ok(Checked::Go(Box::new(live))),
        Freshness::Expired => {
            let expired = texts(lang).form_expired;
            let page = render(
                req,
                state,
                lang,
                &live,
                StatusCode::BAD_REQUEST,
                None,
                Some(expired),
            )
            .await?;
            Ok(Checked::Answer(page))
        }
    }
}

fn done(lang: Lang, what: &str) -> HttpResponse {
    redirect(&format!("{}&done={what}", return_to(lang)), true)
}

async fn citizen_of(state: &AppState, account_id: &str) -> Result<Option<NationalId>, PageError> {
    Ok(
        registry::identity_by_account(&state.db, account_id.to_owned())
            .await?
            .map(|(_, citizen)| citizen.national_id),
    )
}

/// Tells the relying parties of an ended session, and audits the end.
async fn after_end(
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
    state.audit.record(event).await;
    logout::tell_relying_parties(state, ended, clients, citizen).await
}

pub async fn end_session_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageForm { form, lang }: PageForm<AccountForm>,
) -> Result<HttpResponse, PageError> {
    end_session(&req, &state, form, lang)
        .await
        .map_err(|e| e.in_lang(lang))
}

async fn end_session(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    form: AccountForm,
    lang: Lang,
) -> Result<HttpResponse, PageError> {
    let live = match check(req, state, lang, END_SESSION, &form).await? {
        Checked::Go(live) => live,
        Checked::Answer(response) => return Ok(response),
    };
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
    PageForm { form, lang }: PageForm<AccountForm>,
) -> Result<HttpResponse, PageError> {
    withdraw(&req, &state, form, lang)
        .await
        .map_err(|e| e.in_lang(lang))
}

async fn withdraw(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    form: AccountForm,
    lang: Lang,
) -> Result<HttpResponse, PageError> {
    let live = match check(req, state, lang, WITHDRAW, &form).await? {
        Checked::Go(live) => live,
        Checked::Answer(response) => return Ok(response),
    };
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
    PageForm { form, lang }: PageForm<AccountForm>,
) -> Result<HttpResponse, PageError> {
    change_password(&req, &state, form, lang)
        .await
        .map_err(|e| e.in_lang(lang))
}

async fn change_password(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    form: AccountForm,
    lang: Lang,
) -> Result<HttpResponse, PageError> {
    let live = match check(req, state, lang, PASSWORD, &form).await? {
        Checked::Go(live) => live,
        Checked::Answer(response) => return Ok(response),
    };
    let a = texts(lang);
    let current = form.current_password.unwrap_or_default();
    let new = form.new_password.unwrap_or_default();
    let account_id = live.session.facts.account_id.clone();
    let (account, citizen) = registry::identity_by_account(&state.db, account_id.clone())
        .await?
        .ok_or_else(PageError::login_expired)?;
    // The same NIST SP 800-63B policy as at enrolment.
    let context = PolicyContext {
        national_id: Some(citizen.national_id.expose()),
        birth_date: Some(citizen.birth_date),
    };
    if let Err(reason) = password_policy::check(&new, &context) {
        return render(
            req,
            state,
            lang,
            &live,
            StatusCode::BAD_REQUEST,
            None,
            Some(enrol::policy_message(lang, reason)),
        )
        .await;
    }
    // The current password is a password guess like a login's: the same protection
    // and the same counters, so a stolen session cannot try passwords here unthrottled.
    // `claim` counts the attempt before Argon2 runs, so parallel guesses cannot either.
    let number = citizen.national_id.expose().to_owned();
    let client_ip = crate::http::limits::client_ip(req);
    let now = state.clock.now();
    let throttle = Throttle::new(state.store.as_ref(), &state.settings.login_protection);
    if let Verdict::Wait { retry_after_secs } = throttle.claim(&number, client_ip, now).await? {
        tracing::info!(target: "security", "password change refused: too many failures");
        return too_many_attempts(req, state, lang, &live, retry_after_secs).await;
    }
    let stored = (current.len() <= MAX_PASSWORD_BYTES).then(|| account.password_hash.clone());
    let matches = match state.hasher.verify(Password::new(current), stored).await {
        Ok(matches) => matches,
        Err(PasswordError::Busy) => return busy(req, state, lang, &live).await,
        Err(e) => return Err(password_error(&e)),
    };
    if !matches {
        tracing::info!(target: "security", "password change refused: wrong current password");
        let failure = throttle.record_failure(&number, client_ip, now).await?;
        if let Verdict::Wait { retry_after_secs } = failure.wait {
            return too_many_attempts(req, state, lang, &live, retry_after_secs).await;
        }
        return render(
            req,
            state,
            lang,
            &live,
            StatusCode::BAD_REQUEST,
            None,
            Some(a.wrong_password),
        )
        .await;
    }
    throttle.record_success(&number).await?;
    let hash = match state.hasher.hash(Password::new(new)).await {
        Ok(hash) => hash,
        Err(PasswordError::Busy) => return busy(req, state, lang, &live).await,
        Err(e) => return Err(password_error(&e)),
    };
    let at = now.naive_utc();
    // Apps the old password let in keep no refresh token: the citizen signs in to them
    // again with the new one.
    let account = account_id.clone();
    let (revoked_families, revoked) = state
        .db
        .run(move |conn| {
            crate::storage::transaction(conn, |conn| {
                accounts::set_password_hash(conn, &account, &hash, at)?;
                let families = refresh_tokens::families_of_account(conn, &account)?;
                let mut revoked = Vec::new();
                for family in &families {
                    revoked.extend(refresh_tokens::revoke_family(conn, family, at)?);
                }
                Ok::<_, crate::storage::StorageError>((families.len(), revoked))
            })
        })
        .await?;
    revocation::remember(state.store.as_ref(), &revoked, now).await?;
    // Whoever knew the old password may hold another session: end them all but this.
    let ended = session::end_others(
        state.store.as_ref(),
        &live.session.facts.account_id,
        &live.session.facts.sid,
        now,
    )
    .await?;
    for session in &ended {
        after_end(
            req,
            state,
            session,
            Some(citizen.national_id.clone()),
            "password changed",
        )
        .await?;
    }
    let event = audit::Event::new(audit::Kind::Admin, "password_changed", at)
        .citizen(citizen.national_id.clone())
        .detail(format!(
            "by the citizen; {} other sessions ended, {} refresh token families revoked",
            ended.len(),
            revoked_families
        ))
        .request_id(request_id(req).as_deref());
    state.audit.record(event).await;
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
