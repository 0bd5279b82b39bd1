//! Adding a passkey at `/account/factors/passkey`: the page carries the WebAuthn
//! creation options, `/static/passkey.js` asks the browser for a credential and posts
//! the answer in the form with its name (CSRF-protected like the other account forms),
//! and the passkey joins the list on `/account/factors`. Removing one is the list's
//! remove form.
//!
//! Both requests need a re-authentication ([`Reauthenticated`]), the post checked again
//! before the answer is looked at: a page fetched with a fresh login and answered after
//! the limit binds nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::contacts;
use super::factor_texts::{self, FactorTexts};
use super::factors::{codes_page, events, list, list_url, other, with_cookie};
use super::second_factor::audit_factor;
use crate::authn::passkey::{self, Registration};
use crate::http::csrf::{self, Freshness};
use crate::http::lang::{Lang, Texts};
use crate::http::page_error::{PageError, html};
use crate::http::redirect::redirect;
use crate::http::signed_in::{PageAction, Reauthenticated, SignedForm, SignedIn, TokenForm};
use crate::notify::{Authenticator, Notice};
use crate::state::AppState;
use crate::storage::accounts;

const ADD_PAGE: &str = "/account/factors/passkey";
const PURPOSE_ADD: &str = "passkey-add";

#[derive(Template)]
#[template(path = "passkey_add.html")]
struct AddPage<'a> {
    t: &'a Texts,
    f: &'a FactorTexts,
    lang: &'a str,
    other_lang: &'a str,
    options: &'a str,
    csrf_token: &'a str,
    name: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize, Default)]
pub struct AddForm {
    csrf_token: Option<String>,
    name: Option<String>,
    credential: Option<String>,
}

impl TokenForm for AddForm {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token.as_deref()
    }
}

/// The form that adds a passkey.
pub struct AddPasskey;

impl PageAction for AddPasskey {
    type Form = AddForm;
    const PAGE: &'static str = ADD_PAGE;
    const PURPOSE: &'static str = PURPOSE_ADD;
}

pub async fn passkey_add_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn { live, lang, .. }: SignedIn<Reauthenticated>,
) -> Result<HttpResponse, PageError> {
    if state.passkeys.is_none() {
        return Ok(redirect(&list_url(lang, None), false));
    }
    add_page(
        &req,
        &state,
        lang,
        &live.session.facts.account_id,
        StatusCode::OK,
        "",
        None,
    )
    .await
}

/// The token and the login are checked before the registration is taken from the
/// store: a refused post spends nothing.
pub async fn passkey_add_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedForm {
        form,
        lang,
        live,
        token,
        ..
    }: SignedForm<AddPasskey, Reauthenticated>,
) -> Result<HttpResponse, PageError> {
    let fail = |e: PageError| e.in_lang(lang);
    let now = state.clock.now();
    if state.passkeys.is_none() {
        return Ok(redirect(&list_url(lang, None), true));
    }
    let account_id = &live.session.facts.account_id;
    let f = factor_texts::texts(lang);
    let typed = form.name.unwrap_or_default();
    // What the citizen typed goes back into the field, bounded.
    let shown: String = typed.chars().take(passkey::MAX_NAME_CHARS).collect();
    let again = |status, error| {
        let (req, state, shown) = (&req, &state, &shown);
        async move { add_page(req, state, lang, account_id, status, shown, Some(error)).await }
    };
    if token == Freshness::Expired {
        return again(StatusCode::BAD_REQUEST, f.form_expired).await;
    }
    let Some(name) = passkey::valid_name(&typed) else {
        return again(StatusCode::UNPROCESSABLE_ENTITY, f.passkey_bad_name).await;
    };
    let credential = form.credential.unwrap_or_default();
    let outcome = passkey::finish_registration(&state.authn(), account_id, &name, &credential, now)
        .await
        .map_err(|e| fail(e.into()))?;
    match outcome {
        Registration::Added { recovery_codes } => {
            tracing::info!(target: "security", "passkey registered");
            audit_factor(
                &req,
                &state,
                account_id,
                None,
                events::FACTOR_ADDED,
                "kind=passkey",
            )
            .await;
            let notice = Notice::FactorAdded(Authenticator::Passkey);
            contacts::tell(&state, account_id, notice, lang).await;
            Ok(match recovery_codes {
                Some(codes) => codes_page(lang, &codes, false),
                None => redirect(&list_url(lang, Some("passkey")), true),
            })
        }
        Registration::Expired => again(StatusCode::BAD_REQUEST, f.passkey_expired).await,
        Registration::Refused => again(StatusCode::UNPROCESSABLE_ENTITY, f.passkey_refused).await,
        Registration::Duplicate => {
            list(
                &req,
                &state,
                lang,
                &live,
                StatusCode::CONFLICT,
                None,
                Some(f.passkey_duplicate),
            )
            .await
        }
    }
}

/// The page with a fresh challenge (each answer spends the previous one).
async fn add_page(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    account_id: &str,
    status: StatusCode,
    name: &str,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let fail = |e: PageError| e.in_lang(lang);
    let id = account_id.to_owned();
    let account = state
        .db
        .run(move |conn| accounts::find(conn, &id))
        .await
        .map_err(|e| fail(e.into()))?
        .ok_or_else(|| fail(PageError::login_expired()))?;
    // The authenticator shows this name in its list of passkeys: the masked number
    // tells the citizen which account it is without storing the whole number there.
    let options =
        passkey::start_registration(&state.authn(), account_id, &account.national_id.masked())
            .await
            .map_err(|e| fail(e.into()))?;
    let (secret, cookie) = csrf::browser(req, state);
    let token = csrf::issue(state, &secret, PURPOSE_ADD, state.clock.now());
    let page = AddPage {
        t: lang.texts(),
        f: factor_texts::texts(lang),
        lang: lang.code(),
        other_lang: other(lang).code(),
        options: &options,
        csrf_token: &token,
        name,
        error,
    };
    Ok(with_cookie(html(status, page.render()), cookie))
}
