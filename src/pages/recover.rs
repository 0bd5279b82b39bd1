//! "Forgot password?" (`/recover`): the citizen types their number, gets a code at the
//! account's proven contacts, and sets a new password with it, in the same browser
//! (`authn::recovery`). The first answer is the same page for every number; every form
//! is CSRF-protected and rate-limited.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::account::after_end;
use super::enrol;
use super::factors::{other, with_cookie};
use crate::authn::password::PasswordError;
use crate::authn::recovery::{Recovery, RecoveryError, Started};
use crate::domain::secret::Password;
use crate::http::csrf::{self, Freshness};
use crate::http::lang::{Lang, Texts, page_lang};
use crate::http::limits::client_ip;
use crate::http::page_error::{PageError, html};
use crate::http::page_form::{PageForm, bounded};
use crate::state::AppState;

const START: &str = "recover-start";
const RESET: &str = "recover-reset";
/// Longer than a number, a flow, a code; a password is bounded by the policy (256).
const MAX_FIELD_LEN: usize = 512;

pub struct RecoverTexts {
    pub title: &'static str,
    pub intro: &'static str,
    pub number_label: &'static str,
    pub send_button: &'static str,
    pub sent: &'static str,
    pub code_label: &'static str,
    pub new_password_label: &'static str,
    pub password_hint: &'static str,
    pub confirm_label: &'static str,
    pub reset_button: &'static str,
    pub mismatch: &'static str,
    pub wrong_code: &'static str,
    pub no_code: &'static str,
    pub exhausted: &'static str,
    pub rate_limited: &'static str,
    pub form_expired: &'static str,
    pub busy: &'static str,
    pub done_title: &'static str,
    pub done_text: &'static str,
    pub to_account: &'static str,
    pub login_link: &'static str,
}

static VI: RecoverTexts = RecoverTexts {
    title: "Quên mật khẩu",
    intro: "Nhập số định danh cá nhân. Nếu tài khoản có số điện thoại hoặc thư điện tử đã xác minh, chúng tôi gửi mã khôi phục tới đó.",
    number_label: "Số định danh cá nhân",
    send_button: "Gửi mã khôi phục",
    sent: "Nếu số này có tài khoản với liên hệ đã xác minh, mã khôi phục gồm 6 chữ số đã được gửi tới liên hệ đó. Mã có hiệu lực trong 10 phút. Nếu không nhận được mã, hãy đến cơ quan công an nơi cư trú.",
    code_label: "Mã khôi phục",
    new_password_label: "Mật khẩu mới",
    password_hint: "Ít nhất 8 ký tự. Nên dùng một câu dễ nhớ.",
    confirm_label: "Nhập lại mật khẩu mới",
    reset_button: "Đặt mật khẩu mới",
    mismatch: "Hai mật khẩu không giống nhau.",
    wrong_code: "Mã không đúng. Số lần thử còn lại:",
    no_code: "Yêu cầu khôi phục đã hết hạn hoặc đã được dùng. Vui lòng bắt đầu lại.",
    exhausted: "Nhập sai quá nhiều lần. Vui lòng bắt đầu lại.",
    rate_limited: "Có quá nhiều yêu cầu khôi phục. Vui lòng thử lại sau một giờ.",
    form_expired: "Biểu mẫu đã hết hạn. Vui lòng thử lại.",
    busy: "Hệ thống đang bận. Vui lòng thử lại sau ít phút.",
    done_title: "Đã đặt mật khẩu mới",
    done_text: "Mật khẩu đã được thay đổi và mọi phiên đăng nhập đã kết thúc. Hãy đăng nhập bằng mật khẩu mới; nếu tài khoản có xác thực hai bước, bạn vẫn cần bước đó.",
    to_account: "Đăng nhập",
    login_link: "Quên mật khẩu?",
};

static EN: RecoverTexts = RecoverTexts {
    title: "Forgot your password",
    intro: "Enter your personal identification number. If the account has a verified phone number or e-mail address, we send a recovery code there.",
    number_label: "Personal identification number",
    send_button: "Send a recovery code",
    sent: "If this number has an account with a verified contact, a 6-digit recovery code was sent to it. It is valid for 10 minutes. If no code comes, visit the police office where you live.",
    code_label: "Recovery code",
    new_password_label: "New password",
    password_hint: "At least 8 characters. A sentence you remember works well.",
    confirm_label: "Repeat the new password",
    reset_button: "Set the new password",
    mismatch: "The two passwords are not the same.",
    wrong_code: "Wrong code. Attempts left:",
    no_code: "This recovery expired or was already used. Please start again.",
    exhausted: "Too many wrong codes. Please start again.",
    rate_limited: "Too many recovery requests. Please try again in an hour.",
    form_expired: "The form expired. Please try again.",
    busy: "The service is busy. Please try again in a few minutes.",
    done_title: "New password set",
    done_text: "Your password was changed and every session was ended. Log in with the new password; if the account has two-step verification, you still need that step.",
    to_account: "Log in",
    login_link: "Forgot your password?",
};

pub fn texts(lang: Lang) -> &'static RecoverTexts {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

#[derive(Template)]
#[template(path = "recover.html")]
struct StartPage<'a> {
    t: &'a Texts,
    r: &'a RecoverTexts,
    lang: &'a str,
    other_lang: &'a str,
    csrf_token: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "recover_code.html")]
struct CodePage<'a> {
    t: &'a Texts,
    r: &'a RecoverTexts,
    lang: &'a str,
    flow: &'a str,
    csrf_token: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "recover_done.html")]
struct DonePage<'a> {
    t: &'a Texts,
    r: &'a RecoverTexts,
    lang: &'a str,
}

#[derive(Deserialize, Default)]
pub struct RecoverForm {
    csrf_token: Option<String>,
    national_id: Option<String>,
    flow: Option<String>,
    code: Option<String>,
    new_password: Option<String>,
    new_password_confirm: Option<String>,
}

fn recovery(state: &AppState) -> Recovery<'_> {
    Recovery {
        db: &state.db,
        store: state.store.as_ref(),
        secret: &state.secret,
        hasher: &state.hasher,
        settings: &state.settings.notify,
    }
}

pub async fn recover_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let lang = page_lang(&req, None);
    start_page(&req, &state, lang, StatusCode::OK, None)
}

fn start_page(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    let (secret, cookie) = csrf::browser(req, state);
    let token = csrf::issue(state, &secret, START, state.clock.now());
    let page = StartPage {
        t: lang.texts(),
        r: texts(lang),
        lang: lang.code(),
        other_lang: other(lang).code(),
        csrf_token: &token,
        error,
    };
    with_cookie(html(status, page.render()), cookie)
}

fn code_page(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    flow: &str,
    status: StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    let (secret, cookie) = csrf::browser(req, state);
    let token = csrf::issue(state, &secret, RESET, state.clock.now());
    let page = CodePage {
        t: lang.texts(),
        r: texts(lang),
        lang: lang.code(),
        flow,
        csrf_token: &token,
        error,
    };
    with_cookie(html(status, page.render()), cookie)
}

/// Starts a recovery: whatever the number, the page that asks for the code.
pub async fn recover_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageForm { form, lang }: PageForm<RecoverForm>,
) -> Result<HttpResponse, PageError> {
    let r = texts(lang);
    let now = state.clock.now();
    let token = form.csrf_token.as_deref();
    if csrf::check_form(&req, &state, START, token, now).map_err(|e| e.in_lang(lang))?
        == Freshness::Expired
    {
        return Ok(start_page(
            &req,
            &state,
            lang,
            StatusCode::BAD_REQUEST,
            Some(r.form_expired),
        ));
    }
    // The CSRF check above passed, so the browser has its cookie already.
    let (browser, _) = csrf::browser(&req, &state);
    let number = bounded(form.national_id, MAX_FIELD_LEN);
    match recovery(&state)
        .start(number.trim(), &browser, client_ip(&req), lang.into(), now)
        .await
    {
        Ok(Started { flow, send }) => {
            // After the answer, whoever the number is: see `authn::recovery`.
            let background = state.clone();
            tokio::spawn(async move {
                match send.run(&background.db, background.store.as_ref()).await {
                    Ok(true) => background.notify_wakeup.notify_one(),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "a recovery code could not be queued"),
                }
            });
            Ok(code_page(&req, &state, lang, &flow, StatusCode::OK, None))
        }
        Err(RecoveryError::RateLimited) => {
            tracing::info!(target: "security", "recovery refused: too many requests");
            Ok(start_page(
                &req,
                &state,
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                Some(r.rate_limited),
            ))
        }
        Err(e) => Err(internal(e).in_lang(lang)),
    }
}

fn internal(e: RecoveryError) -> PageError {
    match e {
        RecoveryError::Store(e) => e.into(),
        RecoveryError::Storage(e) => e.into(),
        other => PageError::internal(&other, false),
    }
}

/// Sets the new password with the code.
pub async fn reset_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageForm { form, lang }: PageForm<RecoverForm>,
) -> Result<HttpResponse, PageError> {
    let r = texts(lang);
    let now = state.clock.now();
    let bad = StatusCode::BAD_REQUEST;
    let flow = bounded(form.flow, MAX_FIELD_LEN);
    let token = form.csrf_token.as_deref();
    if csrf::check_form(&req, &state, RESET, token, now).map_err(|e| e.in_lang(lang))?
        == Freshness::Expired
    {
        return Ok(code_page(
            &req,
            &state,
            lang,
            &flow,
            bad,
            Some(r.form_expired),
        ));
    }
    let (password, confirm) = (
        bounded(form.new_password, MAX_FIELD_LEN),
        bounded(form.new_password_confirm, MAX_FIELD_LEN),
    );
    if password != confirm {
        return Ok(code_page(&req, &state, lang, &flow, bad, Some(r.mismatch)));
    }
    let (browser, _) = csrf::browser(&req, &state);
    let code = bounded(form.code, MAX_FIELD_LEN);
    let outcome = recovery(&state)
        .reset(
            &flow,
            &browser,
            &code,
            Password::new(password),
            lang.into(),
            now,
        )
        .await;
    let recovered = match outcome {
        Ok(recovered) => recovered,
        Err(RecoveryError::Wrong { left }) => {
            let message = format!("{} {left}", r.wrong_code);
            return Ok(code_page(&req, &state, lang, &flow, bad, Some(&message)));
        }
        Err(RecoveryError::NoCode) => {
            return Ok(start_page(&req, &state, lang, bad, Some(r.no_code)));
        }
        Err(RecoveryError::Exhausted) => {
            return Ok(start_page(&req, &state, lang, bad, Some(r.exhausted)));
        }
        Err(RecoveryError::Policy(reason)) => {
            let message = enrol::policy_message(lang, reason);
            return Ok(code_page(&req, &state, lang, &flow, bad, Some(message)));
        }
        Err(RecoveryError::Password(PasswordError::Busy)) => {
            let unavailable = StatusCode::SERVICE_UNAVAILABLE;
            return Ok(code_page(
                &req,
                &state,
                lang,
                &flow,
                unavailable,
                Some(r.busy),
            ));
        }
        Err(e) => return Err(internal(e).in_lang(lang)),
    };
    tracing::info!(target: "security", sessions = recovered.ended.len(), "account recovered");
    for session in &recovered.ended {
        after_end(
            &req,
            &state,
            session,
            Some(recovered.citizen.clone()),
            "account recovered",
        )
        .await
        .map_err(|e| e.in_lang(lang))?;
    }
    state.notify_wakeup.notify_one();
    let page = DonePage {
        t: lang.texts(),
        r,
        lang: lang.code(),
    };
    Ok(html(StatusCode::OK, page.render()))
}
