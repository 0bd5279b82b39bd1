//! The login page: personal identification number and password, CSRF-protected.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{enrol, login_protection};
use crate::authn::login::{self, AttemptOrigin, LoginAttempt, LoginError, LoginServices};
use crate::authn::password::PasswordError;
use crate::authn::throttle::{Throttle, Verdict};
use crate::domain::interaction::Step;
use crate::domain::secret::Password;
use crate::http::access_log::request_id;
use crate::http::interaction;
use crate::http::lang::page_lang;
use crate::http::lang::{Lang, Texts};
use crate::http::page_error::{PageError, html};
use crate::http::page_form::PageForm;
use crate::metrics::{InternalError, LoginOutcome};
use crate::protocol::authorize::flow;
use crate::protocol::authorize::interaction::Proved;
use crate::state::AppState;
use crate::storage::accounts::Account;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    other_lang: &'a str,
    client_name: &'a str,
    flow: &'a str,
    csrf_token: &'a str,
    national_id: &'a str,
    error: Option<&'a str>,
    /// After enrolling from this page: the account was created.
    notice: Option<&'a str>,
    enrol_link: &'a str,
    recover_link: &'a str,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    flow: Option<String>,
    /// Set by the enrolment page when it sends the citizen back here.
    enrolled: Option<String>,
}

/// Fields of the login form; all optional so that a missing one gets a page, not a
/// bare 400.
#[derive(Deserialize, Default)]
pub struct LoginForm {
    flow: Option<String>,
    csrf_token: Option<String>,
    national_id: Option<String>,
    password: Option<String>,
}

// No honest form value comes near these.
const MAX_PASSWORD_LEN: usize = 256;
const MAX_FIELD_LEN: usize = 128;

fn render(
    lang: Lang,
    status: StatusCode,
    flow_id: &str,
    flow: &flow::LoginFlow,
    national_id: &str,
    error: Option<&str>,
) -> HttpResponse {
    render_with_notice(lang, status, flow_id, flow, national_id, error, None)
}

fn render_with_notice(
    lang: Lang,
    status: StatusCode,
    flow_id: &str,
    flow: &flow::LoginFlow,
    national_id: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> HttpResponse {
    let other = if lang == Lang::Vi { Lang::En } else { Lang::Vi };
    let page = LoginPage {
        t: lang.texts(),
        lang: lang.code(),
        other_lang: other.code(),
        client_name: &flow.request.client_name,
        flow: flow_id,
        csrf_token: &flow.csrf_token,
        national_id,
        error,
        notice,
        enrol_link: enrol::texts(lang).login_link,
        recover_link: super::recover::texts(lang).login_link,
    };
    html(status, page.render())
}

pub async fn login_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Option<web::Query<LoginQuery>>,
) -> Result<HttpResponse, PageError> {
    let lang = page_lang(&req, None);
    let query = query.map(|q| q.into_inner());
    let enrolled = query.as_ref().is_some_and(|q| q.enrolled.is_some());
    let flow_id = query.and_then(|q| q.flow);
    let (flow_id, flow) =
        match interaction::flow_for_page(&state, flow_id.as_deref(), Step::Password)
            .await
            .map_err(|e| e.in_lang(lang))?
            .or_redirect(lang)
        {
            Ok(found) => found,
            Err(elsewhere) => return Ok(*elsewhere),
        };
    let notice = enrolled.then(|| enrol::texts(lang).enrolled_notice);
    Ok(render_with_notice(
        lang,
        StatusCode::OK,
        &flow_id,
        &flow,
        "",
        None,
        notice,
    ))
}

pub async fn login_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageForm { form, lang }: PageForm<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let fail = |e: PageError| e.in_lang(lang);

    let (flow_id, flow) = interaction::flow_for_page(&state, form.flow.as_deref(), Step::Password)
        .await
        .and_then(|found| found.or_refuse(Step::Password))
        .map_err(fail)?;
    let flow_id = flow_id.as_str();
    let now = state.clock.now();
    if !interaction::form_accepted(&req, &state, &flow, form.csrf_token.as_deref()) {
        tracing::warn!(target: "security", "login form rejected: CSRF token or browser binding mismatch");
        state.metrics.login(LoginOutcome::FormRejected);
        return Err(fail(PageError::csrf_failed()));
    }

    let national_id = form.national_id.as_deref().unwrap_or("").trim();
    let password = form.password.unwrap_or_default();
    let t = lang.texts();
    // Echo the number back only if it looks like one, so the page never reflects junk.
    let echo = if national_id.len() == 12 && national_id.bytes().all(|b| b.is_ascii_digit()) {
        national_id
    } else {
        ""
    };
    if national_id.len() > MAX_FIELD_LEN || password.is_empty() || password.len() > MAX_PASSWORD_LEN
    {
        state.metrics.login(LoginOutcome::InvalidCredentials);
        return Ok(render(
            lang,
            StatusCode::UNAUTHORIZED,
            flow_id,
            &flow,
            echo,
            Some(t.invalid_credentials),
        ));
    }

    // Login protection: decided before the password is looked at (so a number that
    // must wait is refused even with the right password), and each check counted
    // before Argon2 runs (see `authn::login`).
    let client_ip = crate::http::limits::client_ip(&req);
    let throttle = Throttle::new(state.store.as_ref(), &state.settings.login_protection);
    let attempt = LoginAttempt {
        unverified_national_id: national_id,
        password: Password::new(password),
        client_ip,
        now,
    };
    let services = LoginServices {
        db: &state.db,
        hasher: &state.hasher,
        throttle: &throttle,
        audit: &state.audit,
        identities: &state.identities,
    };
    let request_id = request_id(&req);
    let origin = AttemptOrigin {
        client_id: &flow.request.client_id,
        request_id: request_id.as_deref(),
    };
    let result = login::log_in(&services, attempt, origin).await;
    state.metrics.login(login_outcome(&result));
    let account = match result {
        Ok(account) => account,
        Err(LoginError::Throttled { retry_after_secs }) => {
            tracing::info!(target: "security", outcome = "throttled", "login refused: too many failures");
            return Ok(too_many_attempts(
                lang,
                flow_id,
                &flow,
                echo,
                retry_after_secs,
            ));
        }
        Err(LoginError::InvalidCredentials(failure)) => {
            tracing::info!(target: "security", outcome = "invalid_credentials", "login failed");
            if let Verdict::Wait { retry_after_secs } = failure.wait {
                return Ok(too_many_attempts(
                    lang,
                    flow_id,
                    &flow,
                    echo,
                    retry_after_secs,
                ));
            }
            return Ok(render(
                lang,
                StatusCode::UNAUTHORIZED,
                flow_id,
                &flow,
                echo,
                Some(t.invalid_credentials),
            ));
        }
        Err(LoginError::NotPermitted(reason)) => {
            tracing::info!(target: "security", outcome = "not_permitted", %reason, "login refused");
            return Ok(render(
                lang,
                StatusCode::FORBIDDEN,
                flow_id,
                &flow,
                echo,
                Some(t.not_permitted),
            ));
        }
        Err(LoginError::Storage(e)) => return Err(fail(e.into())),
        Err(LoginError::Store(e)) => return Err(fail(e.into())),
        Err(LoginError::Password(PasswordError::Busy)) => {
            tracing::warn!(
                outcome = "busy",
                "login turned away: the password hash queue is full"
            );
            return Ok(busy(lang, flow_id, &flow, echo));
        }
        Err(LoginError::Password(e)) => {
            return Err(fail(PageError::internal_from(
                InternalError::PASSWORD,
                &e,
                false,
            )));
        }
    };
    tracing::info!(target: "security", outcome = "success", "login succeeded");

    let proved = Proved::Password {
        account_id: &account.id,
        account_level: account.assurance_level,
        auth_time: now.timestamp(),
    };
    interaction::step_proved(&req, &state, lang, flow_id, flow, proved)
        .await
        .map_err(fail)
}

/// "Too many people are logging in, try again in …": 503 with Retry-After, the
/// number kept, so that the citizen only has to send the form again.
fn busy(lang: Lang, flow_id: &str, flow: &flow::LoginFlow, echo: &str) -> HttpResponse {
    let reason = login_protection::texts(lang).busy;
    let wait = login_protection::BUSY_RETRY_AFTER_SECS;
    wait_page(
        lang,
        StatusCode::SERVICE_UNAVAILABLE,
        reason,
        wait,
        flow_id,
        flow,
        echo,
    )
}

/// "Too many attempts, try again in …": 429 with Retry-After, the number kept.
fn too_many_attempts(
    lang: Lang,
    flow_id: &str,
    flow: &flow::LoginFlow,
    echo: &str,
    retry_after_secs: u64,
) -> HttpResponse {
    let reason = login_protection::texts(lang).too_many_logins;
    let status = StatusCode::TOO_MANY_REQUESTS;
    wait_page(lang, status, reason, retry_after_secs, flow_id, flow, echo)
}

fn wait_page(
    lang: Lang,
    status: StatusCode,
    reason: &str,
    retry_after_secs: u64,
    flow_id: &str,
    flow: &flow::LoginFlow,
    echo: &str,
) -> HttpResponse {
    let message = login_protection::wait_message(lang, reason, retry_after_secs);
    login_protection::with_retry_after(
        render(lang, status, flow_id, flow, echo, Some(&message)),
        retry_after_secs,
    )
}

fn login_outcome(result: &Result<Account, LoginError>) -> LoginOutcome {
    match result {
        Ok(_) => LoginOutcome::Success,
        // A throttled attempt was counted as one before (it is refused credentials).
        Err(LoginError::InvalidCredentials(_) | LoginError::Throttled { .. }) => {
            LoginOutcome::InvalidCredentials
        }
        Err(LoginError::NotPermitted(reason)) => LoginOutcome::Refused(*reason),
        Err(LoginError::Storage(_) | LoginError::Store(_) | LoginError::Password(_)) => {
            LoginOutcome::Error
        }
    }
}
