//! The login step after the password: a passkey, a TOTP code, or a recovery code, at
//! `/login/second-factor?flow=…`. It serves a fresh login (the flow's progress holds the
//! password) and a step-up of a live session (progress taken from the session).
//!
//! A passkey's answer that fails (malformed, oversized, another account's credential,
//! another challenge or origin, a replay) counts as a wrong code. A passkey proves
//! `hwk` and, being user-verified, `user` (see `domain::acr::AuthMethod`).
//!
//! Wrong codes are counted per flow in the store (so on every instance); after
//! [`MAX_ATTEMPTS`] the flow ends and the citizen must start the login again, which
//! also passes the password check's own limits. Every code sent is also counted per
//! account ([`MAX_ACCOUNT_ATTEMPTS`] per [`ACCOUNT_WINDOW`]), for the step-ups that
//! start new flows without a password. Neither limit stops a guesser who knows the
//! password and starts login after login: the account's *consecutive* wrong answers,
//! whatever the flow, are counted too (`authn::factor_lockout`), before each answer is
//! checked; they make the step wait, even for the right code, and lock the account at
//! the cap.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::factor_texts::{self, FactorTexts};
use super::login_protection;
use crate::audit;
use crate::authn::factor_lockout::{Claim, FactorLockout, LockoutError};
use crate::authn::passkey::{self, LoginVerdict};
use crate::authn::second_factor::{self, Verdict};
use crate::domain::acr::AuthMethod;
use crate::domain::interaction::Step;
use crate::http::access_log::request_id;
use crate::http::interaction;
use crate::http::lang::page_lang;
use crate::http::lang::{Lang, Texts};
use crate::http::page_error::{PageError, html};
use crate::http::page_form::PageForm;
use crate::protocol::authorize::flow::{self, LoginFlow};
use crate::protocol::authorize::interaction::Proved;
use crate::state::AppState;
use crate::storage::second_factors::{self, KIND_TOTP};
use crate::storage::{StorageError, accounts};
use crate::tokens::random;

/// Wrong codes a flow may take before it ends.
pub const MAX_ATTEMPTS: u64 = 5;
/// Codes one account may be sent in [`ACCOUNT_WINDOW`], across all its flows: a step-up
/// starts a new flow without the password, so the per-flow limit alone would let a
/// stolen session cookie guess on and on. Far above what a citizen types.
pub const MAX_ACCOUNT_ATTEMPTS: u64 = 30;
pub const ACCOUNT_WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_CODE_LEN: usize = 32;

#[derive(Template)]
#[template(path = "second_factor.html")]
struct StepPage<'a> {
    t: &'a Texts,
    f: &'a FactorTexts,
    lang: &'a str,
    other_lang: &'a str,
    flow: &'a str,
    csrf_token: &'a str,
    error: Option<&'a str>,
    recovery_open: bool,
    show_totp: bool,
    /// The WebAuthn request options, when the account has a passkey.
    passkey_options: Option<&'a str>,
}

/// A page with one message (the flow ended).
#[derive(Template)]
#[template(path = "factor_message.html")]
pub(crate) struct MessagePage<'a> {
    pub t: &'a Texts,
    pub lang: &'a str,
    pub title: &'a str,
    pub message: &'a str,
    pub link: Option<&'a str>,
    pub link_text: &'a str,
}

#[derive(Deserialize)]
pub struct StepQuery {
    flow: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct StepForm {
    flow: Option<String>,
    csrf_token: Option<String>,
    method: Option<String>,
    code: Option<String>,
    credential: Option<String>,
}

/// The step page, with the forms of the factors the account has: a passkey (with a
/// fresh challenge for this flow), and TOTP with recovery codes.
async fn show(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    flow_id: &str,
    flow: &LoginFlow,
    error: Option<&str>,
    recovery_open: bool,
) -> Result<HttpResponse, PageError> {
    let Some(account_id) = flow.progress.as_ref().map(|p| p.account_id.clone()) else {
        return Err(PageError::login_expired());
    };
    let passkey_options = passkey::start_login(&state.authn(), flow_id, &account_id).await?;
    let id = account_id.clone();
    let has_totp = state
        .db
        .run(move |conn| {
            Ok::<_, StorageError>(
                second_factors::for_account(conn, &id)?
                    .iter()
                    .any(|f| f.kind == KIND_TOTP),
            )
        })
        .await?;
    let other = if lang == Lang::Vi { Lang::En } else { Lang::Vi };
    let page = StepPage {
        t: lang.texts(),
        f: factor_texts::texts(lang),
        lang: lang.code(),
        other_lang: other.code(),
        flow: flow_id,
        csrf_token: &flow.csrf_token,
        error,
        recovery_open,
        show_totp: has_totp || passkey_options.is_none(),
        passkey_options: passkey_options.as_deref(),
    };
    Ok(html(status, page.render()))
}

pub async fn second_factor_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Option<web::Query<StepQuery>>,
) -> Result<HttpResponse, PageError> {
    let lang = page_lang(&req, None);
    let flow_id = query.and_then(|q| q.into_inner().flow);
    let (flow_id, flow) =
        match interaction::flow_for_page(&state, flow_id.as_deref(), Step::SecondFactor)
            .await
            .map_err(|e| e.in_lang(lang))?
            .or_redirect(lang)
        {
            Ok(found) => found,
            Err(elsewhere) => return Ok(*elsewhere),
        };
    show(&state, lang, StatusCode::OK, &flow_id, &flow, None, false)
        .await
        .map_err(|e| e.in_lang(lang))
}

pub async fn second_factor_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageForm { form, lang }: PageForm<StepForm>,
) -> Result<HttpResponse, PageError> {
    let fail = |e: PageError| e.in_lang(lang);
    let (flow_id, flow) =
        interaction::flow_for_page(&state, form.flow.as_deref(), Step::SecondFactor)
            .await
            .and_then(|found| found.or_refuse(Step::SecondFactor))
            .map_err(fail)?;
    if !interaction::form_accepted(&req, &state, &flow, form.csrf_token.as_deref()) {
        tracing::warn!(target: "security", "second-factor form rejected: CSRF token or browser binding mismatch");
        return Err(fail(PageError::csrf_failed()));
    }
    let Some(account_id) = flow.progress.as_ref().map(|p| p.account_id.clone()) else {
        return Err(fail(PageError::login_expired()));
    };

    let code = form.code.unwrap_or_default();
    let now = state.clock.now();
    let account_attempts = state
        .store
        .increment(&account_attempts_key(&account_id), ACCOUNT_WINDOW)
        .await
        .map_err(|e| fail(e.into()))?;
    if account_attempts > MAX_ACCOUNT_ATTEMPTS {
        tracing::warn!(target: "security", "second-factor attempts per account exceeded");
        let detail = format!("account_attempts={account_attempts}");
        audit_factor(
            &req,
            &state,
            &account_id,
            Some(&flow.request.client_id),
            "second_factor_attempts_exceeded",
            &detail,
        )
        .await;
        flow::finish(state.store.as_ref(), &flow_id)
            .await
            .map_err(|e| fail(e.into()))?;
        return Ok(too_many_attempts(lang, &flow));
    }
    // Consecutive wrong second factors of the account, across flows, passwords and
    // restarts (`authn::factor_lockout`), counted before the answer is checked.
    let lockout = FactorLockout::new(
        state.store.as_ref(),
        &state.db,
        &state.settings.login_protection,
    );
    if let Claim::Wait { retry_after_secs } = lockout
        .claim(&account_id, now)
        .await
        .map_err(|e| fail(e.into()))?
    {
        tracing::info!(target: "security", "second factor refused unchecked: too many wrong ones in a row");
        let detail = format!("retry_after={retry_after_secs}");
        let client_id = Some(flow.request.client_id.as_str());
        audit_factor(
            &req,
            &state,
            &account_id,
            client_id,
            "second_factor_throttled",
            &detail,
        )
        .await;
        let recovery_open = form.method.as_deref() == Some("recovery");
        return codes_paused(
            &state,
            lang,
            &flow_id,
            &flow,
            retry_after_secs,
            recovery_open,
        )
        .await
        .map_err(fail);
    }
    let method = match form.method.as_deref() {
        Some("recovery") => Method::Recovery,
        Some("passkey") => Method::Passkey,
        _ => Method::Totp,
    };
    let mut proved = vec![AuthMethod::Otp];
    let verdict = match method {
        Method::Totp | Method::Recovery if code.len() > MAX_CODE_LEN => Verdict::Wrong,
        Method::Recovery => {
            second_factor::verify_recovery_code(&state.authn(), &account_id, &code, now)
                .await
                .map_err(|e| fail(e.into()))?
        }
        Method::Totp => second_factor::verify_totp(&state.authn(), &account_id, &code, now)
            .await
            .map_err(|e| fail(e.into()))?,
        Method::Passkey => {
            let credential = form.credential.unwrap_or_default();
            match passkey::verify_login(&state.authn(), &flow_id, &account_id, &credential, now)
                .await
                .map_err(|e| fail(e.into()))?
            {
                LoginVerdict::Accepted { user_verified } => {
                    proved = vec![AuthMethod::Hwk];
                    if user_verified {
                        proved.push(AuthMethod::User);
                    }
                    Verdict::Accepted
                }
                LoginVerdict::Wrong => Verdict::Wrong,
                LoginVerdict::Spent => Verdict::Replayed,
            }
        }
    };
    let method = method.as_str();
    let client_id = flow.request.client_id.clone();
    let audit = |outcome: &'static str, detail: String| {
        let (req, state) = (&req, &state);
        let (account_id, client_id) = (account_id.clone(), client_id.clone());
        async move { audit_factor(req, state, &account_id, Some(&client_id), outcome, &detail).await }
    };
    match verdict {
        Verdict::Accepted => {
            tracing::info!(target: "security", method, outcome = "success", "second factor accepted");
            audit("second_factor_accepted", format!("method={method}")).await;
            lockout
                .record_success(&account_id)
                .await
                .map_err(|e| fail(e.into()))?;
            let proved = Proved::SecondFactor(&proved);
            interaction::step_proved(&req, &state, lang, &flow_id, flow, proved)
                .await
                .map_err(fail)
        }
        Verdict::Wrong | Verdict::Replayed | Verdict::Unusable => {
            tracing::info!(target: "security", method, outcome = ?verdict, "second factor refused");
            let reason = match verdict {
                Verdict::Replayed => "replayed",
                Verdict::Unusable => "unusable",
                _ => "wrong",
            };
            audit(
                "second_factor_refused",
                format!("method={method} reason={reason}"),
            )
            .await;
            // Counted whatever the reason, as the citizen is told "wrong code". An
            // unusable factor too: uncounted, its answers would still hold turns, and
            // could shut out the way out (a recovery code) without any wait to end.
            let failure = lockout
                .record_failure(&account_id, now)
                .await
                .map_err(|e| fail(e.into()))?;
            if failure.lock_account {
                lock_after_wrong_factors(&req, &state, &lockout, &account_id, &client_id, failure)
                    .await;
                flow::finish(state.store.as_ref(), &flow_id)
                    .await
                    .map_err(|e| fail(e.into()))?;
                return Ok(account_locked(lang));
            }
            let attempts = state
                .store
                .increment(
                    &attempts_key(&flow_id),
                    Duration::from_secs(state.settings.session.login_ttl_secs),
                )
                .await
                .map_err(|e| fail(e.into()))?;
            if attempts >= MAX_ATTEMPTS {
                audit(
                    "second_factor_attempts_exceeded",
                    format!("attempts={attempts}"),
                )
                .await;
                flow::finish(state.store.as_ref(), &flow_id)
                    .await
                    .map_err(|e| fail(e.into()))?;
                return Ok(too_many_attempts(lang, &flow));
            }
            let f = factor_texts::texts(lang);
            let message = match (method, verdict) {
                ("passkey", Verdict::Replayed) => f.passkey_spent,
                ("passkey", _) => f.passkey_wrong,
                (_, Verdict::Replayed) => f.replayed_code,
                _ => f.wrong_code,
            };
            let recovery_open = method == "recovery_code";
            if failure.wait_secs > 0 {
                return codes_paused(
                    &state,
                    lang,
                    &flow_id,
                    &flow,
                    failure.wait_secs,
                    recovery_open,
                )
                .await
                .map_err(fail);
            }
            show(
                &state,
                lang,
                StatusCode::UNAUTHORIZED,
                &flow_id,
                &flow,
                Some(message),
                recovery_open,
            )
            .await
            .map_err(fail)
        }
    }
}

/// Second-factor events go to the audit trail beside the password's (kind `login`), so
/// the citizen's history and an investigation see them. An audit that cannot find the
/// account is skipped: the account was just checked, and the answer must not wait.
pub(crate) async fn audit_factor(
    req: &HttpRequest,
    state: &AppState,
    account_id: &str,
    client_id: Option<&str>,
    outcome: &'static str,
    detail: &str,
) {
    let id = account_id.to_owned();
    let Ok(Some(account)) = state.db.run(move |conn| accounts::find(conn, &id)).await else {
        return;
    };
    let mut event = audit::Event::new(audit::Kind::Login, outcome, state.clock.now().naive_utc())
        .citizen(account.national_id)
        .request_id(request_id(req).as_deref())
        .detail(detail.to_owned());
    if let Some(client_id) = client_id.filter(|c| !c.is_empty()) {
        event = event.client(client_id);
    }
    // Queued, not awaited: the factor's outcome stands whatever the trail says.
    state.audit.record(event).await;
}

/// The second factor a step form presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Totp,
    Recovery,
    Passkey,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Totp => "totp",
            Method::Recovery => "recovery_code",
            Method::Passkey => "passkey",
        }
    }
}

fn account_attempts_key(account_id: &str) -> String {
    format!("2fa-account-attempts:{}", random::sha256_b64(account_id))
}

fn attempts_key(flow_id: &str) -> String {
    format!("2fa-attempts:{}", random::sha256_b64(flow_id))
}

fn too_many_attempts(lang: Lang, flow: &LoginFlow) -> HttpResponse {
    let f = factor_texts::texts(lang);
    let page = MessagePage {
        t: lang.texts(),
        lang: lang.code(),
        title: f.too_many_attempts_title,
        message: f.too_many_attempts,
        // citizen-idp's own pages can start a new login themselves; a client's login
        // starts again at the client.
        link: flow.request.own_page.as_deref(),
        link_text: f.start_again,
    };
    html(StatusCode::TOO_MANY_REQUESTS, page.render())
}

impl From<LockoutError> for PageError {
    fn from(e: LockoutError) -> Self {
        match e {
            LockoutError::Store(e) => e.into(),
            LockoutError::Storage(e) => e.into(),
        }
    }
}

/// The step page again, saying how long the second step is paused: 429 with
/// `Retry-After`. The flow stays, so the citizen can go on after the wait.
async fn codes_paused(
    state: &AppState,
    lang: Lang,
    flow_id: &str,
    flow: &LoginFlow,
    retry_after_secs: u64,
    recovery_open: bool,
) -> Result<HttpResponse, PageError> {
    let reason = login_protection::texts(lang).too_many_codes;
    let message = login_protection::wait_message(lang, reason, retry_after_secs);
    let status = StatusCode::TOO_MANY_REQUESTS;
    let page = show(
        state,
        lang,
        status,
        flow_id,
        flow,
        Some(&message),
        recovery_open,
    )
    .await?;
    Ok(login_protection::with_retry_after(page, retry_after_secs))
}

/// The cap of consecutive wrong second factors: the account is locked until an officer
/// unlocks it (`accounts unlock`), and the lock audited. A failure to lock is logged;
/// the flow ends either way.
async fn lock_after_wrong_factors(
    req: &HttpRequest,
    state: &AppState,
    lockout: &FactorLockout<'_>,
    account_id: &str,
    client_id: &str,
    failure: crate::authn::factor_lockout::Failure,
) {
    match lockout.lock_account(account_id, state.clock.now()).await {
        Ok(true) => {
            state.identities.clear();
            tracing::warn!(target: "security", "account locked after too many wrong second factors");
            let detail = format!(
                "consecutive wrong second factors ({}) reached login_protection.lock_account_after_failures",
                failure.failures
            );
            audit_factor(
                req,
                state,
                account_id,
                Some(client_id),
                "account_locked",
                &detail,
            )
            .await;
        }
        Ok(false) => {}
        Err(e) => {
            tracing::error!(error = %e, "could not lock an account after too many wrong second factors")
        }
    }
}

/// The account was just locked: what a locked account is told at the password step.
fn account_locked(lang: Lang) -> HttpResponse {
    let t = lang.texts();
    let page = MessagePage {
        t,
        lang: lang.code(),
        title: factor_texts::texts(lang).too_many_attempts_title,
        message: t.not_permitted,
        link: None,
        link_text: "",
    };
    html(StatusCode::FORBIDDEN, page.render())
}
