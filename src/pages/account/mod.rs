//! `/account`: the citizen's own page, after logging in. It lists the browsers signed
//! in (each can be ended), the services the citizen consented to (each can be
//! withdrawn), the access history from the disclosure audit, the security events
//! (second factors added and removed, new recovery codes: from the audit too, so that
//! a change the citizen did not make shows), and a form to change the password. Every form is a POST with a CSRF token bound to the browser
//! ([`crate::http::csrf`]); the actions are in [`actions`].

mod actions;
mod texts;

use std::collections::HashMap;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;

use super::consent as consent_page;
use super::factors::events;
use crate::authn::session;
use crate::consent::data;
use crate::http::csrf;
use crate::http::lang::{Lang, Texts};
use crate::http::page_error::{PageError, html};
use crate::http::signed_in::{Any, SignedIn};
use crate::officers::casework;
use crate::protocol::authorize::LiveSession;
use crate::registry;
use crate::state::AppState;
use crate::storage::{audit_events, clients, consents, federated_clients};

pub(crate) use actions::after_end;
pub use actions::{end_session_post, password_post, withdraw_post};
pub use texts::{AccountTexts, texts};

/// The entries of the access history shown: the latest ones only.
const HISTORY_LIMIT: i64 = 50;
/// The security events shown: the latest ones only.
const SECURITY_LIMIT: i64 = 20;

/// The page, where its forms' logins come back to.
const PAGE: &str = "/account";

/// CSRF purposes, one per form.
const END_SESSION: &str = "account-end-session";
const WITHDRAW: &str = "account-withdraw";
const PASSWORD: &str = "account-password";

struct SessionView {
    sid: String,
    device: String,
    started: String,
    current: bool,
}

struct ServiceView {
    client_id: String,
    name: String,
    data: String,
    granted: String,
}

struct HistoryView {
    at: String,
    service: String,
    data: String,
}

struct SecurityView {
    at: String,
    what: &'static str,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    t: &'a Texts,
    a: &'a AccountTexts,
    lang: &'a str,
    other_lang: &'a str,
    full_name: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    sessions: Vec<SessionView>,
    services: Vec<ServiceView>,
    history: Vec<HistoryView>,
    security: Vec<SecurityView>,
    csrf_end_session: String,
    csrf_withdraw: String,
    csrf_password: String,
}

#[derive(Deserialize)]
pub struct AccountQuery {
    done: Option<String>,
}

pub async fn account_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn { live, lang, .. }: SignedIn<Any>,
    query: Option<web::Query<AccountQuery>>,
) -> Result<HttpResponse, PageError> {
    let a = texts(lang);
    // Only known outcomes are shown: nothing from the URL is echoed.
    let notice = match query.and_then(|q| q.into_inner().done).as_deref() {
        Some("session_ended") => Some(a.session_ended),
        Some("withdrawn") => Some(a.consent_withdrawn),
        Some("password") => Some(a.password_changed),
        _ => None,
    };
    render(&req, &state, lang, &live, StatusCode::OK, notice, None)
        .await
        .map_err(|e| e.in_lang(lang))
}

/// The account page for `live`, with a notice or an error at the top.
async fn render(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    live: &LiveSession,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let (t, a) = (lang.texts(), texts(lang));
    let account_id = live.session.facts.account_id.clone();
    let (_, citizen) = registry::identity_by_account(&state.db, account_id.clone())
        .await?
        .ok_or_else(PageError::login_expired)?;

    let sessions = session::list_for_account(state.store.as_ref(), &account_id, now)
        .await?
        .into_iter()
        .map(|s| SessionView {
            current: s.facts.sid == live.session.facts.sid,
            device: s.device.unwrap_or_else(|| a.unknown_device.to_owned()),
            started: local_time(DateTime::from_timestamp(s.facts.auth_time, 0).unwrap_or(now)),
            sid: s.facts.sid,
        })
        .collect();

    let national_id = citizen.national_id.expose().to_owned();
    let foreign_service = a.foreign_service;
    let (grants, disclosures, changes, names) = state
        .db
        .run(move |conn| {
            let grants = consents::for_account(conn, &account_id)?;
            let disclosures =
                audit_events::disclosures_for_citizen(conn, &national_id, HISTORY_LIMIT)?;
            let changes = audit_events::latest_for_citizen(
                conn,
                &national_id,
                events::KIND,
                &events::ALL,
                SECURITY_LIMIT,
            )?;
            // Only the clients the history names, each looked up once.
            let mut names: HashMap<String, String> = HashMap::new();
            for id in disclosures.iter().filter_map(|e| e.client_id.as_deref()) {
                if !names.contains_key(id)
                    && let Some(client) = clients::find_registered(conn, id)?
                {
                    names.insert(client.id, client.name);
                }
            }
            // A service of another country is named with its organisation.
            let ids: Vec<String> = names.keys().cloned().collect();
            for (id, organization) in federated_clients::organizations(conn, &ids)? {
                if let Some(name) = names.get_mut(&id) {
                    *name = format!("{name} ({organization}, {foreign_service})");
                }
            }
            Ok::<_, crate::storage::StorageError>((grants, disclosures, changes, names))
        })
        .await?;
    let in_words = |items: Vec<data::DataItem>| {
        items
            .into_iter()
            .map(|item| consent_page::words(item, lang))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let services = grants
        .into_iter()
        .map(|g| ServiceView {
            data: in_words(data::for_scopes(&g.scope)),
            granted: local_time(g.granted_at.and_utc()),
            client_id: g.client_id,
            name: g.client_name,
        })
        .collect();
    let history = disclosures
        .into_iter()
        .map(|event| match event.outcome.as_str() {
            // A look-up at the counter: an officer, not a service, saw the account.
            casework::LOOKUP => HistoryView {
                at: local_time(event.at.and_utc()),
                service: a.officer_lookup.to_owned(),
                data: a.account_record.to_owned(),
            },
            _ => HistoryView {
                at: local_time(event.at.and_utc()),
                service: event
                    .client_id
                    .and_then(|id| names.get(&id).cloned())
                    .unwrap_or_else(|| a.unknown_service.to_owned()),
                data: in_words(data::for_claims(event.claims.as_deref().unwrap_or(""))),
            },
        })
        .collect();
    let security = changes
        .into_iter()
        .filter_map(|event| {
            Some(SecurityView {
                what: security_event(a, &event.outcome, event.detail.as_deref())?,
                at: local_time(event.at.and_utc()),
            })
        })
        .collect();

    let (secret, new_cookie) = csrf::browser(req, state);
    let other = if lang == Lang::Vi { Lang::En } else { Lang::Vi };
    let page = AccountPage {
        t,
        a,
        lang: lang.code(),
        other_lang: other.code(),
        full_name: &citizen.full_name,
        notice,
        error,
        sessions,
        services,
        history,
        security,
        csrf_end_session: csrf::issue(state, &secret, END_SESSION, now),
        csrf_withdraw: csrf::issue(state, &secret, WITHDRAW, now),
        csrf_password: csrf::issue(state, &secret, PASSWORD, now),
    };
    with_cookie(html(status, page.render()), new_cookie)
}

/// How the account page says an audited change to the account's authenticators;
/// `None` for an outcome it does not show.
fn security_event(a: &AccountTexts, outcome: &str, detail: Option<&str>) -> Option<&'static str> {
    let kind = detail
        .unwrap_or("")
        .split(' ')
        .find_map(|field| field.strip_prefix("kind="));
    Some(match (outcome, kind) {
        (events::FACTOR_ADDED, Some("totp")) => a.totp_added,
        (events::FACTOR_ADDED, Some("passkey")) => a.passkey_added,
        (events::FACTOR_REMOVED, Some("totp")) => a.totp_removed,
        (events::FACTOR_REMOVED, Some("passkey")) => a.passkey_removed,
        (events::CODES_RENEWED, _) => a.codes_renewed,
        _ => return None,
    })
}

fn with_cookie(
    mut response: HttpResponse,
    cookie: Option<Cookie<'static>>,
) -> Result<HttpResponse, PageError> {
    if let Some(cookie) = cookie {
        response
            .add_cookie(&cookie)
            .map_err(|e| PageError::internal(&e, false))?;
    }
    Ok(response)
}

/// Citizens read times in Vietnam's time zone (UTC+7 all year, no daylight saving).
fn local_time(at: DateTime<Utc>) -> String {
    match FixedOffset::east_opt(7 * 3600) {
        Some(vietnam) => at
            .with_timezone(&vietnam)
            .format("%d/%m/%Y %H:%M")
            .to_string(),
        None => at.format("%d/%m/%Y %H:%M UTC").to_string(),
    }
}
