//! The officer's own admin API tokens in the console: list them (never their secrets),
//! make one (shown once) with some of the officer's roles, revoke one. An officer sees
//! and revokes only their own; an operator sees everyone's with the CLI.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Frame, TokensAction, done, refused, texts, with_cookie};
use crate::domain::officer::Roles;
use crate::http::csrf::{self, Freshness};
use crate::http::lang::{Lang, Texts};
use crate::http::officer::{OfficerForm, OfficerIn};
use crate::http::page_error::{PageError, html};
use crate::officers::{Officer, tokens};
use crate::state::AppState;

const PAGE: &str = "/officer/tokens";

struct TokenLine {
    id: String,
    label: String,
    roles: String,
    expires: String,
    last_used: Option<String>,
    live: bool,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "officer_tokens.html")]
struct TokensPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    f: Frame<'a>,
    tokens: Vec<TokenLine>,
    held: Vec<&'static str>,
    max_days: u32,
    error: Option<&'a str>,
    csrf_tokens: String,
}

pub async fn tokens_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    OfficerIn { officer, lang, .. }: OfficerIn,
) -> Result<HttpResponse, PageError> {
    list(&req, &state, lang, &officer, StatusCode::OK, None).await
}

async fn list(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    officer: &Officer,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let account_id = officer.account_id.clone();
    let now = state.clock.now().naive_utc();
    let rows = state
        .db
        .run(move |conn| tokens::list(conn, Some(&account_id)))
        .await
        .map_err(|e| PageError::from(e).in_lang(lang))?;
    let when = |at: chrono::NaiveDateTime| at.and_utc().format("%Y-%m-%d %H:%M UTC").to_string();
    let tokens = rows
        .into_iter()
        .map(|t| TokenLine {
            live: t.revoked_at.is_none() && t.expires_at > now,
            revoked: t.revoked_at.is_some(),
            expires: when(t.expires_at),
            last_used: t.last_used_at.map(when),
            roles: t.roles,
            label: t.label,
            id: t.id,
        })
        .collect();
    let (secret, cookie) = csrf::browser(req, state);
    let page = TokensPage {
        t: lang.texts(),
        lang: lang.code(),
        f: Frame::new(lang, officer),
        tokens,
        held: officer.roles.iter().map(|r| r.as_str()).collect(),
        max_days: state.settings.admin.officer_token_max_days,
        error,
        csrf_tokens: csrf::issue(state, &secret, super::TOKENS, state.clock.now()),
    };
    Ok(with_cookie(html(status, page.render()), cookie))
}

/// `POST /officer/tokens`: `action` is create (label, days, roles) or revoke (token_id).
pub async fn tokens_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    OfficerForm {
        form,
        lang,
        officer,
        token,
        ..
    }: OfficerForm<TokensAction>,
) -> Result<HttpResponse, PageError> {
    let o = texts::texts(lang);
    let bad = StatusCode::BAD_REQUEST;
    if token == Freshness::Expired {
        return list(&req, &state, lang, &officer, bad, Some(o.form_expired)).await;
    }
    let (account_id, by, now) = (
        officer.account_id.clone(),
        officer.actor(),
        state.clock.now().naive_utc(),
    );
    match form.field(&form.action).as_str() {
        "create" => {
            let Ok(roles) = Roles::parse(&form.field(&form.roles)) else {
                return Err(PageError::bad_request().in_lang(lang));
            };
            let days = form.field(&form.days).parse::<u32>().unwrap_or(0);
            let label = form.field(&form.label);
            let max_days = state.settings.admin.officer_token_max_days;
            let issued = state
                .db
                .run(move |conn| {
                    let request = tokens::Request {
                        roles: &roles,
                        label: &label,
                        days,
                        max_days,
                    };
                    tokens::create(conn, &account_id, &request, &by, now)
                })
                .await;
            match issued {
                Ok(issued) => done(
                    &req,
                    &state,
                    lang,
                    &officer,
                    Some((o.token_once, &issued.secret)),
                    None,
                    PAGE,
                ),
                Err(crate::officers::OfficerError::Invalid(reason)) => {
                    list(&req, &state, lang, &officer, bad, Some(&reason)).await
                }
                Err(e) => refused(&req, &state, lang, &officer, e),
            }
        }
        "revoke" => {
            let id = form.field(&form.token_id);
            let revoked = state
                .db
                .run(move |conn| tokens::revoke(conn, &id, Some(&account_id), &by, now))
                .await
                .map_err(|e| PageError::from(e).in_lang(lang))?;
            if !revoked {
                return Err(PageError::not_found().in_lang(lang));
            }
            done(&req, &state, lang, &officer, None, None, PAGE)
        }
        _ => Err(PageError::bad_request().in_lang(lang)),
    }
}
