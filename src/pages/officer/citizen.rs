//! A citizen's case file in the console, its actions, and the audit trail of one
//! citizen for an auditor. The look-up and the trail are audited as disclosures to the
//! officer (`officers::casework::look_up`), so the citizen sees them in the access
//! history; each action is audited with the officer's account id.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Act, Audit, ConsoleForm, Frame, HOME, LookUp, done, refused, texts};
use crate::authn::session;
use crate::domain::acr::AssuranceLevel;
use crate::domain::citizen::AccountStatus;
use crate::domain::national_id::NationalId;
use crate::domain::officer::Role;
use crate::http::csrf::{self, Freshness};
use crate::http::lang::{Lang, Texts};
use crate::http::officer::OfficerForm;
use crate::http::page_error::{PageError, html};
use crate::officers::casework::{self, CaseFile};
use crate::officers::{Officer, OfficerError};
use crate::registry::assurance;
use crate::registry::assurance::Decision;
use crate::registry::lifecycle::{self, AccountAction, Actor};
use crate::state::AppState;

struct EventLine {
    at: String,
    kind: String,
    outcome: String,
    client: String,
    /// Who did it and why (`by=`, `officer=`, `reason=`), for an auditor.
    detail: String,
}

/// One of the support role's actions, as its form shows it.
struct SupportAction {
    action: &'static str,
    label: &'static str,
    reason: bool,
    confirm: bool,
}

fn support_actions(o: &'static super::texts::OfficerTexts) -> Vec<SupportAction> {
    let form = |action, label, reason, confirm| SupportAction {
        action,
        label,
        reason,
        confirm,
    };
    vec![
        form("unlock", o.unlock, true, false),
        form("reinstate", o.reinstate, true, false),
        form("lock", o.lock, true, true),
        form("suspend", o.suspend, true, true),
        form("reset_factors", o.reset_factors, false, true),
        form("recovery_code", o.recovery_code, false, true),
        form("end_sessions", o.end_sessions, false, true),
    ]
}

#[derive(Template)]
#[template(path = "officer_citizen.html")]
struct CasePage<'a> {
    t: &'a Texts,
    lang: &'a str,
    f: Frame<'a>,
    national_id: &'a str,
    name: &'a str,
    status: &'a str,
    status_text: &'a str,
    level: i32,
    created: String,
    living: bool,
    totp_since: Vec<String>,
    passkeys: Vec<String>,
    codes_left: usize,
    contacts: Vec<(String, bool)>,
    sessions: Vec<String>,
    events: Vec<EventLine>,
    may_register: bool,
    may_support: bool,
    support_actions: Vec<SupportAction>,
    own: bool,
    error: Option<&'a str>,
    csrf_act: String,
}

#[derive(Template)]
#[template(path = "officer_audit.html")]
struct AuditPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    f: Frame<'a>,
    national_id: &'a str,
    events: Vec<EventLine>,
}

fn when(at: chrono::NaiveDateTime) -> String {
    at.and_utc().format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn lines(file: &CaseFile) -> Vec<EventLine> {
    file.events
        .iter()
        .map(|e| EventLine {
            at: when(e.at),
            kind: e.kind.clone(),
            outcome: e.outcome.clone(),
            client: e.client_id.clone().unwrap_or_default(),
            detail: e.detail.clone().unwrap_or_default(),
        })
        .collect()
}

/// The number from a form; the home page explains a malformed one.
fn number(form: &ConsoleForm) -> Option<NationalId> {
    NationalId::parse(&form.field(&form.national_id)).ok()
}

/// `POST /officer/citizen`: looks up the account of a number (registrar or support).
pub async fn citizen_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    OfficerForm {
        form,
        lang,
        officer,
        token,
        ..
    }: OfficerForm<LookUp>,
) -> Result<HttpResponse, PageError> {
    let o = texts::texts(lang);
    if token == Freshness::Expired {
        return super::home_refusing(&req, &state, lang, &officer, o.form_expired);
    }
    if !(officer.may(Role::Registrar) || officer.may(Role::Support)) {
        return Err(PageError::forbidden().in_lang(lang));
    }
    let Some(id) = number(&form) else {
        return super::home_refusing(&req, &state, lang, &officer, o.bad_number);
    };
    case_file(&req, &state, lang, &officer, id, StatusCode::OK, None).await
}

async fn case_file(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    officer: &Officer,
    id: NationalId,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let (by, now) = (officer.actor(), state.clock.now().naive_utc());
    let file = match state
        .db
        .run(move |conn| casework::look_up(conn, &id, &by, now))
        .await
    {
        Ok(file) => file,
        Err(e) => return refused(req, state, lang, officer, e),
    };
    let sessions =
        session::list_for_account(state.store.as_ref(), &file.account.id, state.clock.now())
            .await
            .map_err(|e| PageError::from(e).in_lang(lang))?
            .into_iter()
            .map(|s| {
                let started = chrono::DateTime::from_timestamp(s.facts.auth_time, 0)
                    .map(|at| when(at.naive_utc()))
                    .unwrap_or_default();
                format!(
                    "{} ({started}, {})",
                    s.device.unwrap_or_else(|| "?".into()),
                    s.facts.acr.as_str()
                )
            })
            .collect();
    let (secret, cookie) = csrf::browser(req, state);
    let page = CasePage {
        t: lang.texts(),
        lang: lang.code(),
        f: Frame::new(lang, officer),
        national_id: file.national_id.expose(),
        name: file.citizen.as_ref().map_or("", |c| c.full_name.as_str()),
        status: file.account.status.as_str(),
        status_text: texts::texts(lang).states[match file.account.status {
            AccountStatus::Active => 0,
            AccountStatus::Locked => 1,
            AccountStatus::Suspended => 2,
        }],
        level: file.account.assurance_level.number(),
        created: when(file.account.created_at),
        living: file.citizen.as_ref().is_some_and(|c| c.is_living()),
        totp_since: file.totp_since.iter().map(|at| when(*at)).collect(),
        passkeys: file
            .passkeys
            .iter()
            .map(|(name, at)| format!("{name} ({})", when(*at)))
            .collect(),
        codes_left: file.recovery_codes_left,
        contacts: file
            .contacts
            .iter()
            .map(|c| (c.contact.masked(), c.verified()))
            .collect(),
        sessions,
        events: lines(&file),
        may_register: officer.may(Role::Registrar),
        may_support: officer.may(Role::Support),
        support_actions: support_actions(texts::texts(lang)),
        own: file.account.id == officer.account_id,
        error,
        csrf_act: csrf::issue(state, &secret, super::ACT, state.clock.now()),
    };
    Ok(super::with_cookie(html(status, page.render()), cookie))
}

/// What an action on an account is, the role it needs, and whether its confirmation
/// box must be ticked.
#[derive(Debug, Clone, Copy)]
enum Action {
    Level(AssuranceLevel),
    Status(AccountAction),
    ResetFactors,
    RecoveryCode,
    EndSessions,
}

impl Action {
    fn parse(name: &str, level: &str) -> Option<Action> {
        Some(match name {
            "level" => Action::Level(AssuranceLevel::from_number(level.parse().ok()?)?),
            "unlock" => Action::Status(AccountAction::Unlock),
            "lock" => Action::Status(AccountAction::Lock),
            "suspend" => Action::Status(AccountAction::Suspend),
            "reinstate" => Action::Status(AccountAction::Reinstate),
            "reset_factors" => Action::ResetFactors,
            "recovery_code" => Action::RecoveryCode,
            "end_sessions" => Action::EndSessions,
            _ => return None,
        })
    }

    fn role(self) -> Role {
        match self {
            Action::Level(_) => Role::Registrar,
            _ => Role::Support,
        }
    }

    /// Lifting a lock or a suspension takes nothing away; everything else does.
    fn destructive(self) -> bool {
        !matches!(
            self,
            Action::Status(AccountAction::Unlock | AccountAction::Reinstate)
        )
    }
}

/// `POST /officer/citizen/act`: one action on an account, within the officer's roles.
pub async fn act_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    OfficerForm {
        form,
        lang,
        officer,
        token,
        ..
    }: OfficerForm<Act>,
) -> Result<HttpResponse, PageError> {
    let o = texts::texts(lang);
    let Some(id) = number(&form) else {
        return super::home_refusing(&req, &state, lang, &officer, o.bad_number);
    };
    let Some(action) = Action::parse(&form.field(&form.action), &form.field(&form.level)) else {
        return Err(PageError::bad_request().in_lang(lang));
    };
    if !officer.may(action.role()) {
        return Err(PageError::forbidden().in_lang(lang));
    }
    let again = |error: &'static str| {
        case_file(
            &req,
            &state,
            lang,
            &officer,
            id.clone(),
            StatusCode::BAD_REQUEST,
            Some(error),
        )
    };
    if token == Freshness::Expired {
        return again(o.form_expired).await;
    }
    if action.destructive() && !form.confirmed() {
        return again(o.confirm_needed).await;
    }
    let reason = form.field(&form.reason);
    let by = officer.actor();
    let decision = Decision {
        officer: &by,
        reason: &reason,
    };
    if matches!(action, Action::Level(_) | Action::Status(_)) && decision.check().is_err() {
        return again(o.reason_needed).await;
    }
    let (own_id, now) = (officer.account_id.clone(), state.clock.now().naive_utc());
    let target = id.clone();
    let outcome = state
        .db
        .run(move |conn| {
            if casework::account_of_is(conn, &target, &own_id)? {
                return Ok(Err(()));
            }
            let decision = Decision {
                officer: &by,
                reason: &reason,
            };
            let code = match action {
                Action::Level(level) => {
                    assurance::set_level(conn, &target, level, &decision, Actor(&by), now)?;
                    None
                }
                Action::Status(change) => {
                    lifecycle::change_account(
                        conn,
                        &target,
                        change,
                        Actor(&by),
                        Some(&decision),
                        now,
                    )?;
                    None
                }
                Action::ResetFactors => {
                    casework::reset_factors(conn, &target, &by, now)?;
                    None
                }
                Action::RecoveryCode => Some(casework::recovery_code(conn, &target, &by, now)?),
                Action::EndSessions => {
                    casework::end_sessions(conn, &target, &by, now)?;
                    None
                }
            };
            Ok::<_, OfficerError>(Ok(code))
        })
        .await;
    let code = match outcome {
        Ok(Ok(code)) => code,
        Ok(Err(())) => return again(o.own_account).await,
        Err(OfficerError::Invalid(reason)) => {
            let status = StatusCode::CONFLICT;
            return case_file(&req, &state, lang, &officer, id, status, Some(&reason)).await;
        }
        Err(e) => return refused(&req, &state, lang, &officer, e),
    };
    state.identities.clear();
    state.logout_wakeup.notify_one();
    state.notify_wakeup.notify_one();
    let secret = code.as_ref().map(|c| (o.code_once, c.expose()));
    done(
        &req,
        &state,
        lang,
        &officer,
        secret,
        Some(id.expose()),
        HOME,
    )
}

/// `POST /officer/audit`: the whole trail of one citizen, for an auditor; the reading
/// is itself audited.
pub async fn audit_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    OfficerForm {
        form,
        lang,
        officer,
        token,
        ..
    }: OfficerForm<Audit>,
) -> Result<HttpResponse, PageError> {
    let o = texts::texts(lang);
    if !officer.may(Role::Auditor) {
        return Err(PageError::forbidden().in_lang(lang));
    }
    if token == Freshness::Expired {
        return super::home_refusing(&req, &state, lang, &officer, o.form_expired);
    }
    let Some(id) = number(&form) else {
        return super::home_refusing(&req, &state, lang, &officer, o.bad_number);
    };
    let (by, now, shown) = (officer.actor(), state.clock.now().naive_utc(), id.clone());
    let file = match state
        .db
        .run(move |conn| casework::trail(conn, &id, &by, now))
        .await
    {
        Ok(file) => file,
        Err(e) => return refused(&req, &state, lang, &officer, e),
    };
    let page = AuditPage {
        t: lang.texts(),
        lang: lang.code(),
        f: Frame::new(lang, &officer),
        national_id: shown.expose(),
        events: lines(&file),
    };
    Ok(html(StatusCode::OK, page.render()))
}
