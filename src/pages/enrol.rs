//! The enrolment page (`/enrol`): a citizen creates their own level-1 account.
//!
//! The form is CSRF-protected with a stateless token (`csrf`), rate-limited per client
//! IP in the store (the form checks details against the register, so unlimited it
//! would be an oracle), and keeps what the citizen typed, never the password, when a
//! field is refused. Reached from a login page (`?flow=`), it returns there.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::login_protection;
use crate::audit;
use crate::authn::enrolment::{self, Contact, EnrolError, EnrolmentRequest};
use crate::authn::password::PasswordError;
use crate::authn::password_policy::{self, PolicyContext, PolicyError};
use crate::authn::throttle::client_bucket;
use crate::domain::national_id::NationalId;
use crate::domain::secret::Password;
use crate::http::access_log::request_id;
use crate::http::csrf::{self, Freshness};
use crate::http::lang::page_lang;
use crate::http::lang::{Lang, Texts};
use crate::http::limits::client_ip;
use crate::http::page_error::{PageError, html};
use crate::http::page_form::PageForm;
use crate::metrics::InternalError;
use crate::protocol::authorize::flow;
use crate::state::AppState;

const CSRF_PURPOSE: &str = "enrol";
const MAX_FIELD_LEN: usize = 128;
const MAX_CONTACT_LEN: usize = 254;
/// Enrolment attempts are counted per IP over windows of this length.
const ENROL_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// Every string of the enrolment pages (the shared `Texts` has the site's own).
pub struct EnrolTexts {
    pub title: &'static str,
    pub intro: &'static str,
    pub national_id_label: &'static str,
    pub national_id_hint: &'static str,
    pub full_name_label: &'static str,
    pub full_name_hint: &'static str,
    pub birth_date_label: &'static str,
    pub id_card_label: &'static str,
    pub id_card_hint: &'static str,
    pub contact_label: &'static str,
    pub contact_hint: &'static str,
    pub password_label: &'static str,
    pub password_hint: &'static str,
    pub password_confirm_label: &'static str,
    pub submit: &'static str,
    pub errors_heading: &'static str,
    pub bad_national_id: &'static str,
    pub bad_full_name: &'static str,
    pub bad_birth_date: &'static str,
    pub bad_id_card: &'static str,
    pub bad_contact: &'static str,
    pub password_mismatch: &'static str,
    pub password_too_short: &'static str,
    pub password_too_long: &'static str,
    pub password_common: &'static str,
    pub password_personal: &'static str,
    pub no_match: &'static str,
    pub form_expired: &'static str,
    pub too_many: &'static str,
    pub done_title: &'static str,
    pub done_text: &'static str,
    pub done_account_link: &'static str,
    pub done_contact_link: &'static str,
    /// The link on the login page.
    pub login_link: &'static str,
    /// The note on the login page after enrolling from it.
    pub enrolled_notice: &'static str,
}

pub static VI: EnrolTexts = EnrolTexts {
    title: "Đăng ký tài khoản định danh",
    intro: "Nhập thông tin đúng như trên căn cước công dân. Chúng tôi đối chiếu với Cơ sở dữ liệu quốc gia về dân cư.",
    national_id_label: "Số định danh cá nhân",
    national_id_hint: "12 chữ số, in trên căn cước công dân",
    full_name_label: "Họ và tên",
    full_name_hint: "Đầy đủ, có dấu, ví dụ: Nguyễn Thị Lan",
    birth_date_label: "Ngày sinh",
    id_card_label: "Số căn cước công dân",
    id_card_hint: "Số in trên thẻ căn cước",
    contact_label: "Số điện thoại hoặc email",
    contact_hint: "Để chúng tôi liên lạc khi cần",
    password_label: "Mật khẩu",
    password_hint: "Ít nhất 8 ký tự. Nên dùng một câu dễ nhớ.",
    password_confirm_label: "Nhập lại mật khẩu",
    submit: "Đăng ký",
    errors_heading: "Vui lòng kiểm tra lại:",
    bad_national_id: "Số định danh cá nhân phải gồm đúng 12 chữ số.",
    bad_full_name: "Vui lòng nhập họ và tên.",
    bad_birth_date: "Vui lòng nhập ngày sinh hợp lệ.",
    bad_id_card: "Vui lòng nhập số căn cước công dân.",
    bad_contact: "Vui lòng nhập số điện thoại (9–15 chữ số) hoặc địa chỉ email hợp lệ.",
    password_mismatch: "Hai mật khẩu không giống nhau.",
    password_too_short: "Mật khẩu phải có ít nhất 8 ký tự.",
    password_too_long: "Mật khẩu quá dài (tối đa 256 byte).",
    password_common: "Mật khẩu này quá phổ biến, dễ bị đoán. Vui lòng chọn mật khẩu khác.",
    password_personal: "Mật khẩu không được là số định danh hoặc ngày sinh của bạn.",
    no_match: "Thông tin chưa khớp với Cơ sở dữ liệu quốc gia về dân cư, hoặc không thể đăng ký bằng thông tin này. Nếu bạn đã có tài khoản, hãy đăng nhập. Nếu cần hỗ trợ, hãy đến cơ quan công an nơi cư trú.",
    form_expired: "Biểu mẫu đã hết hạn. Vui lòng kiểm tra thông tin và gửi lại.",
    too_many: "Có quá nhiều lần đăng ký từ địa chỉ này.",
    done_title: "Đăng ký thành công",
    done_text: "Tài khoản định danh mức 1 của bạn đã được tạo. Bạn có thể đăng nhập ngay.",
    done_account_link: "Đến trang tài khoản",
    done_contact_link: "Xác minh số điện thoại hoặc thư điện tử đã khai (cần để khôi phục tài khoản)",
    login_link: "Chưa có tài khoản? Đăng ký",
    enrolled_notice: "Đăng ký thành công. Vui lòng đăng nhập bằng số định danh và mật khẩu vừa tạo.",
};

pub static EN: EnrolTexts = EnrolTexts {
    title: "Create your e-ID account",
    intro: "Enter your details exactly as on your citizen ID card. We check them against the national population register.",
    national_id_label: "Personal identification number",
    national_id_hint: "12 digits, printed on your citizen ID card",
    full_name_label: "Full name",
    full_name_hint: "In full, with diacritics, e.g. Nguyễn Thị Lan",
    birth_date_label: "Date of birth",
    id_card_label: "Citizen ID card number",
    id_card_hint: "The number printed on the card",
    contact_label: "Phone number or e-mail",
    contact_hint: "So that we can reach you if needed",
    password_label: "Password",
    password_hint: "At least 8 characters. A sentence you remember works well.",
    password_confirm_label: "Repeat the password",
    submit: "Create account",
    errors_heading: "Please check:",
    bad_national_id: "The personal identification number must be exactly 12 digits.",
    bad_full_name: "Please enter your full name.",
    bad_birth_date: "Please enter a valid date of birth.",
    bad_id_card: "Please enter your citizen ID card number.",
    bad_contact: "Please enter a phone number (9–15 digits) or a valid e-mail address.",
    password_mismatch: "The two passwords are not the same.",
    password_too_short: "The password must be at least 8 characters long.",
    password_too_long: "The password is too long (at most 256 bytes).",
    password_common: "This password is too common and easy to guess. Please choose another.",
    password_personal: "The password must not be your identification number or date of birth.",
    no_match: "These details do not match the national population register, or an account cannot be created with them. If you already have an account, log in. For help, visit the police office where you live.",
    form_expired: "This form has expired. Please check your details and send it again.",
    too_many: "Too many enrolment attempts from this address.",
    done_title: "Account created",
    done_text: "Your level-1 e-ID account has been created. You can log in now.",
    done_account_link: "Go to your account",
    done_contact_link: "Prove the phone number or e-mail address you gave (needed to recover the account)",
    login_link: "No account yet? Create one",
    enrolled_notice: "Your account has been created. Please log in with your number and the password you chose.",
};

pub fn texts(lang: Lang) -> &'static EnrolTexts {
    match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    }
}

/// The message for a password the policy refused; for every page that sets one.
pub fn policy_message(lang: Lang, error: PolicyError) -> &'static str {
    let e = texts(lang);
    match error {
        PolicyError::TooShort => e.password_too_short,
        PolicyError::TooLong => e.password_too_long,
        PolicyError::Common => e.password_common,
        PolicyError::PersonalData => e.password_personal,
    }
}

#[derive(Deserialize)]
pub struct EnrolQuery {
    flow: Option<String>,
}

/// Fields of the form; all optional, so a missing one gets the form again, not a 400.
#[derive(Deserialize, Default)]
pub struct EnrolForm {
    flow: Option<String>,
    csrf_token: Option<String>,
    national_id: Option<String>,
    full_name: Option<String>,
    birth_date: Option<String>,
    id_card_number: Option<String>,
    contact: Option<String>,
    password: Option<String>,
    password_confirm: Option<String>,
}

/// What the citizen typed, echoed back into the form (never the passwords). A value
/// too long to be honest is not echoed.
#[derive(Default)]
struct Typed {
    national_id: String,
    full_name: String,
    birth_date: String,
    id_card_number: String,
    contact: String,
}

fn bounded(value: &Option<String>, max: usize) -> String {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| v.len() <= max)
        .unwrap_or("")
        .to_owned()
}

impl Typed {
    fn from_form(form: &EnrolForm) -> Self {
        Typed {
            national_id: bounded(&form.national_id, MAX_FIELD_LEN),
            full_name: bounded(&form.full_name, MAX_FIELD_LEN),
            birth_date: bounded(&form.birth_date, MAX_FIELD_LEN),
            id_card_number: bounded(&form.id_card_number, MAX_FIELD_LEN),
            contact: bounded(&form.contact, MAX_CONTACT_LEN),
        }
    }
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage<'a> {
    t: &'a Texts,
    e: &'a EnrolTexts,
    lang: &'a str,
    other_lang: &'a str,
    flow: &'a str,
    csrf_token: &'a str,
    typed: &'a Typed,
    /// (field id, message); the field id is empty for a message about the whole form.
    errors: &'a [(&'static str, &'static str)],
    notice: Option<&'a str>,
}

impl EnrolPage<'_> {
    fn is_invalid(&self, field: &str) -> bool {
        self.errors.iter().any(|(id, _)| *id == field)
    }
}

#[derive(Template)]
#[template(path = "enrol_done.html")]
struct EnrolDonePage<'a> {
    t: &'a Texts,
    e: &'a EnrolTexts,
    lang: &'a str,
}

/// What one rendering of the form shows besides its labels.
struct FormView<'a> {
    status: StatusCode,
    flow_id: &'a str,
    typed: &'a Typed,
    /// (field id, message); the field id is empty for a message about the whole form.
    errors: &'a [(&'static str, &'static str)],
    notice: Option<&'a str>,
}

/// The form, with a fresh CSRF token (and the browser cookie when it is new).
fn form_response(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    view: FormView<'_>,
    now: DateTime<Utc>,
) -> HttpResponse {
    let (secret, cookie) = csrf::browser(req, state);
    let token = csrf::issue(state, &secret, CSRF_PURPOSE, now);
    let other = if lang == Lang::Vi { Lang::En } else { Lang::Vi };
    let page = EnrolPage {
        t: lang.texts(),
        e: texts(lang),
        lang: lang.code(),
        other_lang: other.code(),
        flow: view.flow_id,
        csrf_token: &token,
        typed: view.typed,
        errors: view.errors,
        notice: view.notice,
    };
    let mut response = html(view.status, page.render());
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// The login flow to return to, if the id names a live one.
async fn live_flow(state: &AppState, flow_id: Option<&str>, now: DateTime<Utc>) -> Option<String> {
    let id = flow_id.filter(|f| !f.is_empty() && f.len() <= MAX_FIELD_LEN)?;
    match flow::find(state.store.as_ref(), id, now).await {
        Ok(Some(_)) => Some(id.to_owned()),
        _ => None,
    }
}

pub async fn enrol_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Option<web::Query<EnrolQuery>>,
) -> HttpResponse {
    let lang = page_lang(&req, None);
    let now = state.clock.now();
    let flow_id = live_flow(
        &state,
        query.and_then(|q| q.into_inner().flow).as_deref(),
        now,
    )
    .await
    .unwrap_or_default();
    form_response(
        &req,
        &state,
        lang,
        FormView {
            status: StatusCode::OK,
            flow_id: &flow_id,
            typed: &Typed::default(),
            errors: &[],
            notice: None,
        },
        now,
    )
}

/// Parses the form into a request, or lists every field that is wrong.
fn validate(
    form: &EnrolForm,
    typed: &Typed,
    e: &'static EnrolTexts,
    lang: Lang,
) -> Result<EnrolmentRequest, Vec<(&'static str, &'static str)>> {
    let mut errors = Vec::new();
    let national_id = NationalId::parse(&typed.national_id).ok();
    if national_id.is_none() {
        errors.push(("national_id", e.bad_national_id));
    }
    let full_name = typed.full_name.clone();
    if full_name.is_empty() {
        errors.push(("full_name", e.bad_full_name));
    }
    let birth_date = parse_date(&typed.birth_date);
    if birth_date.is_none() {
        errors.push(("birth_date", e.bad_birth_date));
    }
    if typed.id_card_number.is_empty() {
        errors.push(("id_card_number", e.bad_id_card));
    }
    let contact = Contact::parse(&typed.contact).ok();
    if contact.is_none() {
        errors.push(("contact", e.bad_contact));
    }
    let password = form.password.as_deref().unwrap_or("");
    let context = PolicyContext {
        national_id: Some(typed.national_id.as_str()).filter(|n| !n.is_empty()),
        birth_date,
    };
    if let Err(refused) = password_policy::check(password, &context) {
        errors.push(("password", policy_message(lang, refused)));
    } else if form.password_confirm.as_deref() != Some(password) {
        errors.push(("password_confirm", e.password_mismatch));
    }
    match (national_id, birth_date, contact) {
        (Some(national_id), Some(birth_date), Some(contact)) if errors.is_empty() => {
            Ok(EnrolmentRequest {
                national_id,
                full_name,
                birth_date,
                id_card_number: typed.id_card_number.clone(),
                contact,
                password: Password::new(password.to_owned()),
            })
        }
        _ => Err(errors),
    }
}

/// `YYYY-MM-DD` from a date picker, or `DD/MM/YYYY` as Vietnamese forms write it.
fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d/%m/%Y"))
        .ok()
}

pub async fn enrol_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    PageForm { form, lang }: PageForm<EnrolForm>,
) -> Result<HttpResponse, PageError> {
    let fail = |e: PageError| e.in_lang(lang);
    let e = texts(lang);
    let now = state.clock.now();
    let typed = Typed::from_form(&form);
    let flow_id = live_flow(&state, form.flow.as_deref(), now)
        .await
        .unwrap_or_default();

    if let Some(retry_after) = over_rate_limit(&req, &state).await.map_err(fail)? {
        tracing::info!(target: "security", "enrolment refused: too many attempts from one address");
        let message = login_protection::wait_message(lang, e.too_many, retry_after);
        let response = form_response(
            &req,
            &state,
            lang,
            FormView {
                status: StatusCode::TOO_MANY_REQUESTS,
                flow_id: &flow_id,
                typed: &typed,
                errors: &[],
                notice: Some(&message),
            },
            now,
        );
        return Ok(login_protection::with_retry_after(response, retry_after));
    }

    match csrf::check_form(&req, &state, CSRF_PURPOSE, form.csrf_token.as_deref(), now)
        .map_err(fail)?
    {
        Freshness::Fresh => {}
        Freshness::Expired => {
            return Ok(form_response(
                &req,
                &state,
                lang,
                FormView {
                    status: StatusCode::BAD_REQUEST,
                    flow_id: &flow_id,
                    typed: &typed,
                    errors: &[("", e.form_expired)],
                    notice: None,
                },
                now,
            ));
        }
    }

    let request = match validate(&form, &typed, e, lang) {
        Ok(request) => request,
        Err(errors) => {
            return Ok(form_response(
                &req,
                &state,
                lang,
                FormView {
                    status: StatusCode::BAD_REQUEST,
                    flow_id: &flow_id,
                    typed: &typed,
                    errors: &errors,
                    notice: None,
                },
                now,
            ));
        }
    };
    let national_id = request.national_id.clone();
    let result = enrolment::enrol(&state.db, &state.hasher, request, now).await;
    let outcome = match &result {
        Ok(_) => "enrolled",
        Err(EnrolError::NoMatch) => "no_match",
        Err(_) => "error",
    };
    // Queued, not awaited: the account exists (or not) whatever the trail says.
    state
        .audit
        .record(
            audit::Event::new(audit::Kind::Enrolment, outcome, now.naive_utc())
                .citizen(national_id)
                .request_id(request_id(&req).as_deref()),
        )
        .await;
    match result {
        Ok(_) => {
            tracing::info!(target: "security", outcome, "enrolment");
            Ok(success(lang, &flow_id))
        }
        Err(EnrolError::NoMatch) => {
            tracing::info!(target: "security", outcome, "enrolment");
            Ok(form_response(
                &req,
                &state,
                lang,
                FormView {
                    status: StatusCode::BAD_REQUEST,
                    flow_id: &flow_id,
                    typed: &typed,
                    errors: &[("", e.no_match)],
                    notice: None,
                },
                now,
            ))
        }
        Err(EnrolError::Storage(cause)) => Err(fail(cause.into())),
        Err(EnrolError::Password(PasswordError::Busy)) => {
            tracing::warn!(
                outcome,
                "enrolment turned away: the password hash queue is full"
            );
            let wait = login_protection::BUSY_RETRY_AFTER_SECS;
            let message =
                login_protection::wait_message(lang, login_protection::texts(lang).busy, wait);
            let response = form_response(
                &req,
                &state,
                lang,
                FormView {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    flow_id: &flow_id,
                    typed: &typed,
                    errors: &[],
                    notice: Some(&message),
                },
                now,
            );
            Ok(login_protection::with_retry_after(response, wait))
        }
        Err(EnrolError::Password(cause)) => Err(fail(PageError::internal_from(
            InternalError::PASSWORD,
            &cause,
            false,
        ))),
    }
}

/// Back to the login page the citizen came from, or the success page.
fn success(lang: Lang, flow_id: &str) -> HttpResponse {
    if !flow_id.is_empty() {
        let location = format!(
            "/login?flow={}&lang={}&enrolled=1",
            urlencoding(flow_id),
            lang.code()
        );
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish();
    }
    let page = EnrolDonePage {
        t: lang.texts(),
        e: texts(lang),
        lang: lang.code(),
    };
    html(StatusCode::OK, page.render())
}

fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Counts this attempt against the client's IP; `Some(retry_after)` when over the limit.
async fn over_rate_limit(req: &HttpRequest, state: &AppState) -> Result<Option<u64>, PageError> {
    let limit = state.settings.login_protection.enrol_attempts_per_hour;
    let Some(ip) = client_ip(req).filter(|_| limit > 0) else {
        return Ok(None);
    };
    let count = state
        .store
        .increment(
            // Per /64 for IPv6: one host holds a whole /64.
            &crate::store::keys::enrolment_rate(&client_bucket(ip)),
            ENROL_WINDOW,
        )
        .await?;
    Ok((count > limit).then_some(ENROL_WINDOW.as_secs()))
}
