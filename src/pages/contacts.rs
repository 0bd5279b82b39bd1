//! `/account/contacts`: the citizen's phone number and e-mail address, and proving
//! each with a code sent there (`authn::contact_proof`). A proven contact is where
//! security notices and account recovery go, so every request here, GET and POST,
//! needs a re-authentication ([`Reauthenticated`]), as changing a factor does: whoever
//! finds a browser with a live session must not be able to route the account's
//! recovery to themselves.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::contact_texts::{self, ContactTexts};
use super::factors::{other, with_cookie};
use crate::audit;
use crate::authn::contact_proof::{ProofError, Proofs};
use crate::domain::contact::{Channel, Contact};
use crate::http::access_log::request_id;
use crate::http::csrf::{self, Freshness};
use crate::http::lang::{Lang, Texts};
use crate::http::limits::client_ip;
use crate::http::page_error::{PageError, html};
use crate::http::page_form::bounded;
use crate::http::redirect::redirect;
use crate::http::signed_in::{PageAction, Reauthenticated, SignedForm, SignedIn, TokenForm};
use crate::notify::{self, Notice};
use crate::protocol::authorize::LiveSession;
use crate::state::AppState;
use crate::storage::{self, StorageError, accounts, audit_events, contacts};

const LIST_PAGE: &str = "/account/contacts";
const VERIFY_PAGE: &str = "/account/contacts/verify";
const PURPOSE_SEND: &str = "contact-send";
const PURPOSE_VERIFY: &str = "contact-verify";
/// The audit outcome of a proven contact (kind `login`), with `channel=` in its detail.
pub const CONTACT_VERIFIED: &str = "contact_verified";
/// Longer than any contact (254) or code.
const MAX_FIELD_LEN: usize = 256;

struct ContactLine {
    kind: &'static str,
    value: String,
    verified: bool,
    offered: bool,
}

#[derive(Template)]
#[template(path = "contacts.html")]
struct ListPage<'a> {
    t: &'a Texts,
    c: &'a ContactTexts,
    lang: &'a str,
    other_lang: &'a str,
    contacts: Vec<ContactLine>,
    csrf_send: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "contact_verify.html")]
struct VerifyPage<'a> {
    t: &'a Texts,
    c: &'a ContactTexts,
    lang: &'a str,
    other_lang: &'a str,
    sent_to: &'a str,
    csrf_token: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize, Default)]
pub struct ContactForm {
    csrf_token: Option<String>,
    contact: Option<String>,
    code: Option<String>,
}

impl TokenForm for ContactForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

pub struct SendCode;
pub struct VerifyCode;

impl PageAction for SendCode {
    type Form = ContactForm;
    const PAGE: &'static str = LIST_PAGE;
    const PURPOSE: &'static str = PURPOSE_SEND;
}

impl PageAction for VerifyCode {
    type Form = ContactForm;
    const PAGE: &'static str = VERIFY_PAGE;
    const PURPOSE: &'static str = PURPOSE_VERIFY;
}

#[derive(Deserialize)]
pub struct ListQuery {
    done: Option<String>,
}

fn proofs(state: &AppState) -> Proofs<'_> {
    Proofs {
        store: state.store.as_ref(),
        db: &state.db,
        secret: &state.secret,
        transports: &state.notify,
        settings: &state.settings.notify,
    }
}

pub async fn contacts_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn { live, lang, .. }: SignedIn<Reauthenticated>,
    query: Option<web::Query<ListQuery>>,
) -> Result<HttpResponse, PageError> {
    let c = contact_texts::texts(lang);
    let notice = match query.and_then(|q| q.into_inner().done).as_deref() {
        Some("verified") => Some(c.proven),
        _ => None,
    };
    list(&req, &state, lang, &live, StatusCode::OK, notice, None).await
}

async fn list(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    live: &LiveSession,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let c = contact_texts::texts(lang);
    let account_id = live.session.facts.account_id.clone();
    let stored = state
        .db
        .run(move |conn| contacts::of_account(conn, &account_id))
        .await
        .map_err(|e| PageError::from(e).in_lang(lang))?;
    let lines = stored
        .into_iter()
        .map(|stored| ContactLine {
            kind: match stored.contact.channel() {
                Channel::Sms => c.phone,
                Channel::Email => c.email,
            },
            verified: stored.verified(),
            offered: state.notify.offers(stored.contact.channel()),
            value: stored.contact.value().to_owned(),
        })
        .collect();
    let (secret, cookie) = csrf::browser(req, state);
    let token = csrf::issue(state, &secret, PURPOSE_SEND, state.clock.now());
    let page = ListPage {
        t: lang.texts(),
        c,
        lang: lang.code(),
        other_lang: other(lang).code(),
        contacts: lines,
        csrf_send: &token,
        notice,
        error,
    };
    Ok(with_cookie(html(status, page.render()), cookie))
}

/// Sends a code to the contact typed (or picked from the list), then shows the page
/// to type it on.
pub async fn contacts_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedForm {
        form,
        lang,
        live,
        token,
        ..
    }: SignedForm<SendCode, Reauthenticated>,
) -> Result<HttpResponse, PageError> {
    let c = contact_texts::texts(lang);
    let again = |status, error| list(&req, &state, lang, &live, status, None, Some(error));
    if token == Freshness::Expired {
        return again(StatusCode::BAD_REQUEST, c.form_expired).await;
    }
    let Ok(contact) = Contact::parse(&bounded(form.contact, MAX_FIELD_LEN)) else {
        return again(StatusCode::BAD_REQUEST, c.invalid_contact).await;
    };
    let account_id = &live.session.facts.account_id;
    let now = state.clock.now();
    match proofs(&state)
        .start(account_id, &contact, client_ip(&req), lang.into(), now)
        .await
    {
        Ok(()) => {
            state.notify_wakeup.notify_one();
            Ok(redirect(
                &format!("{VERIFY_PAGE}?lang={}", lang.code()),
                true,
            ))
        }
        Err(ProofError::Unavailable) => again(StatusCode::BAD_REQUEST, c.not_offered).await,
        Err(ProofError::RateLimited) => again(StatusCode::TOO_MANY_REQUESTS, c.rate_limited).await,
        Err(e) => Err(internal(e).in_lang(lang)),
    }
}

fn internal(e: ProofError) -> PageError {
    match e {
        ProofError::Store(e) => e.into(),
        ProofError::Storage(e) => e.into(),
        other => PageError::internal(&other, false),
    }
}

pub async fn verify_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn { live, lang, .. }: SignedIn<Reauthenticated>,
) -> Result<HttpResponse, PageError> {
    verify_page(&req, &state, lang, &live, StatusCode::OK, None).await
}

/// The page to type the code on, or the list when no code waits.
async fn verify_page(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    live: &LiveSession,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let c = contact_texts::texts(lang);
    let waiting = proofs(state)
        .waiting(&live.session.facts.account_id, state.clock.now())
        .await
        .map_err(|e| internal(e).in_lang(lang))?;
    let Some(contact) = waiting else {
        let status = if status == StatusCode::OK {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        let message = error.is_some().then_some(c.no_code);
        return list(req, state, lang, live, status, None, message).await;
    };
    let (secret, cookie) = csrf::browser(req, state);
    let token = csrf::issue(state, &secret, PURPOSE_VERIFY, state.clock.now());
    let page = VerifyPage {
        t: lang.texts(),
        c,
        lang: lang.code(),
        other_lang: other(lang).code(),
        sent_to: &contact.masked(),
        csrf_token: &token,
        error: error.as_deref(),
    };
    Ok(with_cookie(html(status, page.render()), cookie))
}

pub async fn verify_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedForm {
        form,
        lang,
        live,
        token,
        ..
    }: SignedForm<VerifyCode, Reauthenticated>,
) -> Result<HttpResponse, PageError> {
    let c = contact_texts::texts(lang);
    let bad = StatusCode::BAD_REQUEST;
    if token == Freshness::Expired {
        return verify_page(&req, &state, lang, &live, bad, Some(c.form_expired.into())).await;
    }
    let account_id = live.session.facts.account_id.clone();
    let code = bounded(form.code, MAX_FIELD_LEN);
    let now = state.clock.now();
    let contact = match proofs(&state).confirm(&account_id, &code, now).await {
        Ok(contact) => contact,
        Err(ProofError::Wrong { left }) => {
            let message = format!("{} {left}", c.wrong_code);
            return verify_page(&req, &state, lang, &live, bad, Some(message)).await;
        }
        Err(ProofError::Exhausted) => {
            return list(&req, &state, lang, &live, bad, None, Some(c.exhausted)).await;
        }
        Err(ProofError::NoCode) => {
            return list(&req, &state, lang, &live, bad, None, Some(c.no_code)).await;
        }
        Err(e) => return Err(internal(e).in_lang(lang)),
    };
    record_proven(&req, &state, &account_id, contact, lang)
        .await
        .map_err(|e| PageError::from(e).in_lang(lang))?;
    state.notify_wakeup.notify_one();
    Ok(redirect(
        &format!("{LIST_PAGE}?lang={}&done=verified", lang.code()),
        true,
    ))
}

/// Records the proven contact, its audit row and the notice to it, in one
/// transaction: a contact is proven with its trail or not at all.
async fn record_proven(
    req: &HttpRequest,
    state: &AppState,
    account_id: &str,
    contact: Contact,
    lang: Lang,
) -> Result<(), StorageError> {
    let now = state.clock.now();
    let account_id = account_id.to_owned();
    let request = request_id(req);
    state
        .db
        .run(move |conn| {
            storage::transaction(conn, |conn| {
                let Some(account) = accounts::find(conn, &account_id)? else {
                    return Ok(());
                };
                contacts::set_verified(conn, &account_id, &contact, now.naive_utc())?;
                let event =
                    audit::Event::new(audit::Kind::Login, CONTACT_VERIFIED, now.naive_utc())
                        .citizen(account.national_id)
                        .request_id(request.as_deref())
                        .detail(format!("channel={}", contact.channel().as_str()));
                audit_events::append(conn, &[event.into_row()])?;
                let notice = notify::message(
                    &account_id,
                    &contact,
                    &Notice::ContactVerified,
                    lang.into(),
                    None,
                );
                notify::queue(conn, &notice, now)
            })
        })
        .await
}

/// Tells the citizen, at their proven contacts, of a change just made to their
/// account (in the language of the page they made it on).
pub(crate) async fn tell(state: &AppState, account_id: &str, notice: Notice, lang: Lang) {
    let now = state.clock.now();
    notify::tell(
        &state.db,
        &state.notify_wakeup,
        account_id,
        notice,
        lang.into(),
        now,
    )
    .await;
}
