//! The citizen's second factors under `/account/factors`: the list (with the account's
//! level), enrolling an authenticator app (QR code, first code; recovery codes shown
//! once with the account's first factor), the passkeys (added in `pages::passkeys`),
//! removing a factor, and a new set of recovery codes.
//!
//! Everything but the list changes how the account logs in, so every request to it,
//! GET and POST alike, needs a re-authentication ([`Reauthenticated`]: a login of the
//! last few minutes that presented the account's second factor, if it has one).
//! Whoever finds a phone or a computer with a live session must not be able to add
//! their own authenticator (and step the session up with it), switch the second step
//! off, or take the recovery codes. Each change is audited and listed on `/account`.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::contacts;
use super::factor_texts::{self, FactorTexts};
use super::second_factor::audit_factor;
use crate::authn::passkey;
use crate::authn::recovery_codes::RecoveryCode;
use crate::authn::second_factor::{self, Enrolment, pending};
use crate::authn::totp::TotpSecret;
use crate::domain::acr::AssuranceLevel;
use crate::http::csrf::{self, Freshness};
use crate::http::lang::{Lang, Texts};
use crate::http::page_error::{PageError, html};
use crate::http::redirect::redirect;
use crate::http::signed_in::{Any, PageAction, Reauthenticated, SignedForm, SignedIn, TokenForm};
use crate::notify::{Authenticator, Notice};
use crate::protocol::authorize::LiveSession;
use crate::state::AppState;
use crate::storage::accounts;

const LIST_PAGE: &str = "/account/factors";
const ENROL_PAGE: &str = "/account/factors/totp";
const PURPOSE_ENROL: &str = "totp-enrol";
const PURPOSE_REMOVE: &str = "factor-remove";
const PURPOSE_NEW_CODES: &str = "recovery-codes-new";
const MAX_FIELD_LEN: usize = 128;

/// The audit outcomes of changes to an account's authenticators (kind `login`, no
/// client), which `/account` lists as its security events. The detail of the first and
/// the last names the factor's kind (`kind=totp`, `kind=passkey`).
pub mod events {
    /// `audit::Kind::Login`'s name: `audit_factor` records them as login events.
    pub const KIND: &str = "login";
    pub const FACTOR_ADDED: &str = "second_factor_enrolled";
    pub const CODES_RENEWED: &str = "recovery_codes_renewed";
    pub const FACTOR_REMOVED: &str = "second_factor_removed";
    pub const ALL: [&str; 3] = [FACTOR_ADDED, CODES_RENEWED, FACTOR_REMOVED];
}

struct FactorLine {
    id: String,
    added_on: String,
}

struct PasskeyLine {
    id: String,
    name: String,
    added_on: String,
    last_used: Option<String>,
}

#[derive(Template)]
#[template(path = "factors.html")]
struct ListPage<'a> {
    t: &'a Texts,
    f: &'a FactorTexts,
    lang: &'a str,
    other_lang: &'a str,
    level: &'a str,
    factors: Vec<FactorLine>,
    recovery_left: usize,
    passkeys_on: bool,
    passkeys: Vec<PasskeyLine>,
    csrf_token: &'a str,
    csrf_new_codes: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "totp_enrol.html")]
struct EnrolPage<'a> {
    t: &'a Texts,
    f: &'a FactorTexts,
    lang: &'a str,
    other_lang: &'a str,
    qr_svg: &'a str,
    secret_text: &'a str,
    csrf_token: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct CodesPage<'a> {
    t: &'a Texts,
    f: &'a FactorTexts,
    lang: &'a str,
    codes: Vec<&'a str>,
    /// A set that replaced an earlier one (the "new codes" action), not the first.
    renewed: bool,
}

#[derive(Deserialize, Default)]
pub struct FactorForm {
    csrf_token: Option<String>,
    code: Option<String>,
    factor: Option<String>,
}

impl TokenForm for FactorForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

/// The forms of the factor pages, each with a token of its own.
pub struct EnrolTotp;
pub struct RemoveFactor;
pub struct NewRecoveryCodes;

impl PageAction for EnrolTotp {
    type Form = FactorForm;
    const PAGE: &'static str = ENROL_PAGE;
    const PURPOSE: &'static str = PURPOSE_ENROL;
}

impl PageAction for RemoveFactor {
    type Form = FactorForm;
    const PAGE: &'static str = LIST_PAGE;
    const PURPOSE: &'static str = PURPOSE_REMOVE;
}

impl PageAction for NewRecoveryCodes {
    type Form = FactorForm;
    const PAGE: &'static str = LIST_PAGE;
    const PURPOSE: &'static str = PURPOSE_NEW_CODES;
}

#[derive(Deserialize)]
pub struct ListQuery {
    done: Option<String>,
}

pub(super) fn other(lang: Lang) -> Lang {
    if lang == Lang::Vi { Lang::En } else { Lang::Vi }
}

/// The response with the browser cookie that the CSRF token needs, when it is new.
pub(super) fn with_cookie(
    mut response: HttpResponse,
    cookie: Option<Cookie<'static>>,
) -> HttpResponse {
    if let Some(cookie) = cookie {
        // Only an invalid cookie fails here, and ours are built valid.
        let _ = response.add_cookie(&cookie);
    }
    response
}

pub async fn factors_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn { live, lang, .. }: SignedIn<Any>,
    query: Option<web::Query<ListQuery>>,
) -> Result<HttpResponse, PageError> {
    let notice = query
        .and_then(|q| q.into_inner().done)
        .and_then(|d| match d.as_str() {
            "removed" => Some(factor_texts::texts(lang).removed),
            "passkey" => Some(factor_texts::texts(lang).passkey_added),
            "totp" => Some(factor_texts::texts(lang).totp_added),
            _ => None,
        });
    list(&req, &state, lang, &live, StatusCode::OK, notice, None).await
}

pub(super) async fn list(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    live: &LiveSession,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let (factors, recovery_left) =
        second_factor::summary(&state.authn(), &live.session.facts.account_id)
            .await
            .map_err(|e| PageError::from(e).in_lang(lang))?;
    let passkeys = passkey::summary(&state.authn(), &live.session.facts.account_id)
        .await
        .map_err(|e| PageError::from(e).in_lang(lang))?;
    let f = factor_texts::texts(lang);
    let (secret, cookie) = csrf::browser(req, state);
    let token = csrf::issue(state, &secret, PURPOSE_REMOVE, state.clock.now());
    let new_codes_token = csrf::issue(state, &secret, PURPOSE_NEW_CODES, state.clock.now());
    let page = ListPage {
        t: lang.texts(),
        f,
        lang: lang.code(),
        other_lang: other(lang).code(),
        level: match live.account_level {
            AssuranceLevel::Level1 => f.level_1,
            AssuranceLevel::Level2 => f.level_2,
        },
        factors: factors
            .into_iter()
            .map(|factor| FactorLine {
                id: factor.id,
                added_on: factor.created_at.format("%d/%m/%Y").to_string(),
            })
            .collect(),
        recovery_left,
        passkeys_on: state.passkeys.is_some(),
        passkeys: passkeys
            .into_iter()
            .map(|p| PasskeyLine {
                id: p.id,
                name: p.name,
                added_on: p.created_at.format("%d/%m/%Y").to_string(),
                last_used: p.last_used_at.map(|at| at.format("%d/%m/%Y").to_string()),
            })
            .collect(),
        csrf_token: &token,
        csrf_new_codes: &new_codes_token,
        notice,
        error,
    };
    Ok(with_cookie(html(status, page.render()), cookie))
}

pub async fn totp_enrol_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn { live, lang, .. }: SignedIn<Reauthenticated>,
) -> Result<HttpResponse, PageError> {
    let fail = |e: PageError| e.in_lang(lang);
    let account_id = &live.session.facts.account_id;
    let (factors, _) = second_factor::summary(&state.authn(), account_id)
        .await
        .map_err(|e| fail(e.into()))?;
    if !factors.is_empty() {
        return Ok(redirect(&list_url(lang, None), false));
    }
    // A secret still waiting is shown again: a citizen who scanned it and was then sent
    // to log in again (the form outlived the re-authentication) need not scan anew.
    let waiting = pending::find(state.store.as_ref(), &state.secret, account_id)
        .await
        .map_err(|e| fail(e.into()))?;
    let secret = match waiting {
        Some(secret) => secret,
        None => pending::start(state.store.as_ref(), &state.secret, account_id)
            .await
            .map_err(|e| fail(e.into()))?,
    };
    enrol_page(
        &req,
        &state,
        lang,
        account_id,
        &secret,
        StatusCode::OK,
        None,
    )
    .await
}

/// Re-authentication is checked again at the post: a form fetched with a fresh login
/// and posted after the limit binds nothing; the citizen logs in again and comes back
/// to the page.
pub async fn totp_enrol_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedForm {
        form,
        lang,
        live,
        token,
        ..
    }: SignedForm<EnrolTotp, Reauthenticated>,
) -> Result<HttpResponse, PageError> {
    let fail = |e: PageError| e.in_lang(lang);
    let now = state.clock.now();
    let account_id = &live.session.facts.account_id;
    let f = factor_texts::texts(lang);
    let pending_secret = pending::find(state.store.as_ref(), &state.secret, account_id)
        .await
        .map_err(|e| fail(e.into()))?;
    let Some(secret) = pending_secret else {
        let secret = pending::start(state.store.as_ref(), &state.secret, account_id)
            .await
            .map_err(|e| fail(e.into()))?;
        let status = StatusCode::BAD_REQUEST;
        return enrol_page(
            &req,
            &state,
            lang,
            account_id,
            &secret,
            status,
            Some(f.enrol_expired),
        )
        .await;
    };
    if token == Freshness::Expired {
        let status = StatusCode::BAD_REQUEST;
        return enrol_page(
            &req,
            &state,
            lang,
            account_id,
            &secret,
            status,
            Some(f.form_expired),
        )
        .await;
    }
    let code = form.code.unwrap_or_default();
    let code = if code.len() > MAX_FIELD_LEN {
        ""
    } else {
        &code
    };
    match second_factor::enrol_totp(&state.authn(), account_id, &secret, code, now)
        .await
        .map_err(|e| fail(e.into()))?
    {
        Enrolment::Done(codes) => {
            pending::finish(state.store.as_ref(), account_id)
                .await
                .map_err(|e| fail(e.into()))?;
            tracing::info!(target: "security", "TOTP factor enrolled");
            audit_factor(
                &req,
                &state,
                account_id,
                None,
                events::FACTOR_ADDED,
                "kind=totp",
            )
            .await;
            let notice = Notice::FactorAdded(Authenticator::App);
            contacts::tell(&state, account_id, notice, lang).await;
            // Codes come only with the first factor; a later one keeps the set.
            Ok(match codes {
                Some(codes) => codes_page(lang, &codes, false),
                None => redirect(&list_url(lang, Some("totp")), true),
            })
        }
        Enrolment::WrongCode => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            enrol_page(
                &req,
                &state,
                lang,
                account_id,
                &secret,
                status,
                Some(f.wrong_code),
            )
            .await
        }
        Enrolment::AlreadyEnrolled => {
            list(
                &req,
                &state,
                lang,
                &live,
                StatusCode::CONFLICT,
                None,
                Some(f.already_enrolled),
            )
            .await
        }
    }
}

/// Only a recent login that presented the factor may remove one; any other session
/// logs in again (password and the factor) and comes back to the list.
pub async fn factor_remove_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedForm {
        form,
        lang,
        live,
        token,
        ..
    }: SignedForm<RemoveFactor, Reauthenticated>,
) -> Result<HttpResponse, PageError> {
    let fail = |e: PageError| e.in_lang(lang);
    let f = factor_texts::texts(lang);
    if token == Freshness::Expired {
        return list(
            &req,
            &state,
            lang,
            &live,
            StatusCode::BAD_REQUEST,
            None,
            Some(f.form_expired),
        )
        .await;
    }
    let factor = form.factor.unwrap_or_default();
    // Factor ids are UUIDs; anything else (a NUL, which PostgreSQL refuses in text,
    // included) is a bad request before it reaches the database.
    if factor.len() > MAX_FIELD_LEN || uuid::Uuid::parse_str(&factor).is_err() {
        return Err(fail(PageError::bad_request()));
    }
    let account_id = &live.session.facts.account_id;
    // The id is a TOTP factor's or a passkey's; both are UUIDs, in separate tables.
    let kind = if second_factor::remove(&state.authn(), account_id, &factor)
        .await
        .map_err(|e| fail(e.into()))?
    {
        "kind=totp"
    } else if passkey::remove(&state.authn(), account_id, &factor)
        .await
        .map_err(|e| fail(e.into()))?
    {
        "kind=passkey"
    } else {
        return Err(fail(PageError::not_found()));
    };
    tracing::info!(target: "security", kind, "second factor removed");
    audit_factor(&req, &state, account_id, None, events::FACTOR_REMOVED, kind).await;
    let removed = if kind == "kind=totp" {
        Authenticator::App
    } else {
        Authenticator::Passkey
    };
    contacts::tell(&state, account_id, Notice::FactorRemoved(removed), lang).await;
    Ok(redirect(&list_url(lang, Some("removed")), true))
}

/// "New recovery codes": replaces the account's set and shows the new one once. The
/// only way existing codes are replaced, so it needs the same re-authentication as
/// adding a factor; a session that falls short logs in again and comes back to the
/// list, where the citizen asks again.
pub async fn recovery_codes_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedForm {
        lang, live, token, ..
    }: SignedForm<NewRecoveryCodes, Reauthenticated>,
) -> Result<HttpResponse, PageError> {
    let fail = |e: PageError| e.in_lang(lang);
    let now = state.clock.now();
    let f = factor_texts::texts(lang);
    let refused = |status, error| {
        let (req, state, live) = (&req, &state, &live);
        async move { list(req, state, lang, live, status, None, Some(error)).await }
    };
    if token == Freshness::Expired {
        return refused(StatusCode::BAD_REQUEST, f.form_expired).await;
    }
    let account_id = &live.session.facts.account_id;
    let Some(codes) = second_factor::renew_recovery_codes(&state.authn(), account_id, now)
        .await
        .map_err(|e| fail(e.into()))?
    else {
        return refused(StatusCode::CONFLICT, f.codes_need_factor).await;
    };
    tracing::info!(target: "security", "recovery codes renewed");
    audit_factor(
        &req,
        &state,
        account_id,
        None,
        events::CODES_RENEWED,
        &format!("count={}", codes.len()),
    )
    .await;
    contacts::tell(&state, account_id, Notice::RecoveryCodesRenewed, lang).await;
    Ok(codes_page(lang, &codes, true))
}

/// The recovery codes, shown once: after the first factor they came with was added, or
/// `renewed` by the citizen's "new codes" action.
pub(super) fn codes_page(lang: Lang, codes: &[RecoveryCode], renewed: bool) -> HttpResponse {
    let page = CodesPage {
        t: lang.texts(),
        f: factor_texts::texts(lang),
        lang: lang.code(),
        codes: codes.iter().map(RecoveryCode::expose).collect(),
        renewed,
    };
    html(StatusCode::OK, page.render())
}

pub(super) fn list_url(lang: Lang, done: Option<&str>) -> String {
    match done {
        Some(done) => format!("{LIST_PAGE}?lang={}&done={done}", lang.code()),
        None => format!("{LIST_PAGE}?lang={}", lang.code()),
    }
}

async fn enrol_page(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    account_id: &str,
    secret: &TotpSecret,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let id = account_id.to_owned();
    let account = state
        .db
        .run(move |conn| accounts::find(conn, &id))
        .await
        .map_err(|e| PageError::from(e).in_lang(lang))?
        .ok_or_else(|| PageError::login_expired().in_lang(lang))?;
    let issuer_name = url::Url::parse(&state.issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "citizen-idp".to_owned());
    // The app shows this label beside the codes: the masked number tells the citizen
    // which account it is without putting the whole number on the phone.
    let uri = secret.otpauth_uri(&issuer_name, &account.national_id.masked());
    let qr = qr_svg(&uri).ok_or_else(|| {
        PageError::internal(&"the otpauth URI does not fit a QR code", false).in_lang(lang)
    })?;
    let (browser_secret, cookie) = csrf::browser(req, state);
    let token = csrf::issue(state, &browser_secret, PURPOSE_ENROL, state.clock.now());
    let grouped: Vec<String> = secret
        .base32()
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let page = EnrolPage {
        t: lang.texts(),
        f: factor_texts::texts(lang),
        lang: lang.code(),
        other_lang: other(lang).code(),
        qr_svg: &qr,
        secret_text: &grouped.join(" "),
        csrf_token: &token,
        error,
    };
    Ok(with_cookie(html(status, page.render()), cookie))
}

/// The QR code as inline SVG markup (no script, no style attribute: the strict CSP
/// holds), without the XML declaration that HTML does not want.
fn qr_svg(uri: &str) -> Option<String> {
    let code =
        qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .build();
    Some(match svg.split_once("?>") {
        Some((_, rest)) => rest.to_owned(),
        None => svg,
    })
}
