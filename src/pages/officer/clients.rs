//! Relying parties in the console, for a `client-admin`: list them with their state,
//! register one (name, kind, redirect URIs; the CLI and the admin API set the rest),
//! change its name and redirect URIs, rotate its secret, disable it without deleting it
//! and enable it again. Every change goes through `registration::admin`, audited with
//! the officer's account id; disabling and rotating need their confirmation box.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{ClientsAction, Frame, done, texts, with_cookie};
use crate::domain::client::ClientKind;
use crate::domain::officer::Role;
use crate::http::csrf::{self, Freshness};
use crate::http::lang::{Lang, Texts};
use crate::http::officer::{OfficerForm, OfficerIn};
use crate::http::page_error::{PageError, html};
use crate::officers::Officer;
use crate::registration::admin::{self, Actor, AdminError};
use crate::registration::{self, NewClient};
use crate::state::AppState;

const PAGE: &str = "/officer/clients";
/// A country's portals and apps are a few thousand at most; the page lists them all.
struct ClientLine {
    id: String,
    name: String,
    kind: &'static str,
    redirect_uris: String,
    disabled: bool,
    has_secret: bool,
}

#[derive(Template)]
#[template(path = "officer_clients.html")]
struct ClientsPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    f: Frame<'a>,
    clients: Vec<ClientLine>,
    error: Option<&'a str>,
    csrf_clients: String,
}

pub async fn clients_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    OfficerIn { officer, lang, .. }: OfficerIn,
) -> Result<HttpResponse, PageError> {
    officer
        .must(Role::ClientAdmin)
        .map_err(|_| PageError::forbidden().in_lang(lang))?;
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
    let (registered, disabled) = state
        .db
        .run(admin::list_with_disabled)
        .await
        .map_err(|e| PageError::from(e).in_lang(lang))?;
    let clients = registered
        .into_iter()
        .map(|c| ClientLine {
            disabled: disabled.contains(&c.id),
            kind: c.kind.as_str(),
            redirect_uris: c.redirect_uris.join("\n"),
            has_secret: c.secret_hash.is_some(),
            id: c.id,
            name: c.name,
        })
        .collect();
    let (secret, cookie) = csrf::browser(req, state);
    let page = ClientsPage {
        t: lang.texts(),
        lang: lang.code(),
        f: Frame::new(lang, officer),
        clients,
        error,
        csrf_clients: csrf::issue(state, &secret, super::CLIENTS, state.clock.now()),
    };
    Ok(with_cookie(html(status, page.render()), cookie))
}

/// `POST /officer/clients`: `action` is register, edit, disable, enable or rotate.
pub async fn clients_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    OfficerForm {
        form,
        lang,
        officer,
        token,
        ..
    }: OfficerForm<ClientsAction>,
) -> Result<HttpResponse, PageError> {
    let o = texts::texts(lang);
    officer
        .must(Role::ClientAdmin)
        .map_err(|_| PageError::forbidden().in_lang(lang))?;
    let bad = StatusCode::BAD_REQUEST;
    if token == Freshness::Expired {
        return list(&req, &state, lang, &officer, bad, Some(o.form_expired)).await;
    }
    let action = form.field(&form.action);
    let client_id = form.field(&form.client_id);
    if matches!(action.as_str(), "disable" | "rotate") && !form.confirmed() {
        return list(&req, &state, lang, &officer, bad, Some(o.confirm_needed)).await;
    }
    let (actor, now) = (officer.actor(), state.clock.now().naive_utc());
    let uris: Vec<String> = form
        .field(&form.redirect_uris)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let name = form.field(&form.client_name);
    let result: Result<Option<(&'static str, String)>, AdminError> = match action.as_str() {
        "register" => {
            let kind = match form.field(&form.kind).as_str() {
                "public" => ClientKind::Public,
                _ => ClientKind::Confidential,
            };
            let new = NewClient {
                name,
                kind,
                redirect_uris: uris,
                scopes: "openid profile".into(),
                ..NewClient::default()
            };
            match registration::check_outbound(&new, state.http.policy()).await {
                Err(e) => Err(e.into()),
                Ok(()) => state
                    .db
                    .run(move |conn| admin::create(conn, new, Actor(&actor), now))
                    .await
                    .map(|(client, secret)| {
                        let shown = match secret {
                            Some(secret) => format!(
                                "client_id: {}\nclient_secret: {}",
                                client.id,
                                secret.expose()
                            ),
                            None => format!("client_id: {}", client.id),
                        };
                        Some((o.secret_once, shown))
                    }),
            }
        }
        "edit" => {
            let id = client_id.clone();
            state
                .db
                .run(move |conn| {
                    admin::update(
                        conn,
                        &id,
                        |mut current| {
                            current.name = name;
                            current.redirect_uris = uris;
                            current
                        },
                        Actor(&actor),
                        now,
                    )
                })
                .await
                .map(|_| None)
        }
        "disable" | "enable" => {
            let (id, disable) = (client_id.clone(), action == "disable");
            state
                .db
                .run(move |conn| admin::set_disabled(conn, &id, disable, Actor(&actor), now))
                .await
                .map(|_| None)
        }
        "rotate" => {
            let id = client_id.clone();
            state
                .db
                .run(move |conn| admin::rotate_secret(conn, &id, Actor(&actor), now))
                .await
                .map(|secret| Some((o.secret_once, secret.expose().to_owned())))
        }
        _ => return Err(PageError::bad_request().in_lang(lang)),
    };
    match result {
        Ok(secret) => {
            state.clients.invalidate(&client_id);
            let shown = secret
                .as_ref()
                .map(|(intro, value)| (*intro, value.as_str()));
            done(&req, &state, lang, &officer, shown, None, PAGE)
        }
        Err(AdminError::Storage(e)) => Err(PageError::from(e).in_lang(lang)),
        // The registration's reasons are the admin API's words, in English.
        Err(e) => {
            let reason = e.to_string();
            list(&req, &state, lang, &officer, bad, Some(&reason)).await
        }
    }
}
