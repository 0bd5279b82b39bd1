//! The login interaction's I/O around the state machine of `domain::interaction`: the
//! pages (password, second factor, consent) and the authorization endpoint read what
//! holds now ([`read_facts`]), ask [`interaction::next`] where the flow goes, and
//! move it there with [`advance`]. A page acts only on a flow at its own step
//! ([`flow_for_page`]); a code is issued only by [`advance`] after `next` answered
//! `Done` against the session as it is now.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};

use super::flow::{self, LoginFlow, Progress};
use super::request::{AuthorizationRequest, Prompt};
use super::{grant, live_session};
use crate::authn::second_factor;
use crate::authn::session::{self, Session};
use crate::domain::acr::AssuranceLevel;
use crate::domain::authn_facts::AuthnFacts;
use crate::domain::interaction::{self, AccountFacts, Authn, Demands, Facts, Next, Refusal, Step};
use crate::http::cookies;
use crate::http::lang::Lang;
use crate::http::oauth_error::{ErrorCode, OAuthError};
use crate::http::page_error::PageError;
use crate::http::redirect::redirect;
use crate::registry;
use crate::state::AppState;
use crate::storage::{StorageError, accounts, citizens, clients, consents};
use crate::tokens::subject;

/// Pages of the steps, each taking `?flow=` and `&lang=`.
pub const LOGIN_PAGE: &str = "/login";
pub const SECOND_FACTOR_PAGE: &str = "/login/second-factor";
pub const CONSENT_PAGE: &str = "/consent";

const MAX_FLOW_ID_LEN: usize = 128;

/// The page that takes a step.
pub fn page_of(step: Step) -> &'static str {
    match step {
        Step::Password => LOGIN_PAGE,
        Step::SecondFactor => SECOND_FACTOR_PAGE,
        Step::Consent => CONSENT_PAGE,
    }
}

pub fn step_url(page: &str, flow_id: &str, lang: Lang) -> String {
    format!("{page}?flow={flow_id}&lang={}", lang.code())
}

/// What an authorization request demands of the login.
pub fn demands(request: &AuthorizationRequest) -> Demands {
    Demands {
        reauthenticate: request.prompt == Prompt::Login,
        max_age: request.max_age,
        acr: request.acr,
        subject: request.hint_subject.clone(),
    }
}

/// The error `prompt=none` gets for a step a page would take (OIDC Core §3.1.2.6).
pub fn prompt_none_error(step: Step) -> OAuthError {
    match step {
        Step::Password => OAuthError::new(ErrorCode::LoginRequired, "the citizen must log in"),
        Step::SecondFactor => OAuthError::new(
            ErrorCode::LoginRequired,
            "the citizen must present a second factor",
        ),
        Step::Consent => {
            OAuthError::new(ErrorCode::ConsentRequired, "the citizen must grant consent")
        }
    }
}

/// The error a refused flow sends to the client.
pub fn refusal_error(refusal: Refusal) -> OAuthError {
    match refusal {
        Refusal::Unmet => OAuthError::new(
            ErrorCode::UnmetAuthenticationRequirements,
            "the requested authentication context cannot be met for this citizen",
        ),
        Refusal::OtherCitizen => OAuthError::new(
            ErrorCode::LoginRequired,
            "the citizen who logged in is not the one id_token_hint names",
        ),
        Refusal::NotEligible => OAuthError::new(
            ErrorCode::AccessDenied,
            "the citizen may not sign in to this service",
        ),
    }
}

/// Who authenticated, before the account is read: a login in this flow, or a session.
pub struct Claimed {
    pub account_id: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub level: AssuranceLevel,
    pub password_in_flow: bool,
}

impl Claimed {
    pub fn from_progress(progress: &Progress) -> Self {
        Claimed {
            account_id: progress.account_id.clone(),
            auth_time: progress.auth_time,
            amr: progress.amr.clone(),
            level: progress.level,
            password_in_flow: progress.password_in_flow,
        }
    }

    /// A live session's login; `reauthenticated` when this flow's password made it.
    pub fn from_session(session: &Session, reauthenticated: bool) -> Self {
        Claimed {
            account_id: session.facts.account_id.clone(),
            auth_time: session.facts.auth_time,
            amr: session.facts.amr.clone(),
            level: AssuranceLevel::from_acr(&session.facts.acr).unwrap_or(AssuranceLevel::Level1),
            password_in_flow: reauthenticated,
        }
    }
}

/// Reads, in one database trip, what the state machine judges: the account and the
/// register's verdict, its factors, the subject the client sees, and consent.
pub async fn read_facts(
    state: &AppState,
    request: &AuthorizationRequest,
    claimed: Option<Claimed>,
) -> Result<Facts, PageError> {
    let Some(claimed) = claimed else {
        return Ok(Facts {
            authn: None,
            account: None,
            consent_due: false,
        });
    };
    let account_id = claimed.account_id.clone();
    let client_id = (request.own_page.is_none()).then(|| request.client_id.clone());
    // Passkeys count only where they can be presented (not on an IP-address issuer).
    let passkeys_on = state.passkeys.is_some();
    let read = state
        .db
        .run(move |conn| {
            let Some(account) = accounts::find(conn, &account_id)? else {
                return Ok(None);
            };
            let citizen = citizens::find(conn, &account.national_id)?;
            let has_factor = second_factor::has_factor_in(conn, &account_id, passkeys_on)?;
            let (client, granted) = match client_id {
                Some(client_id) => (
                    clients::find(conn, &client_id)?,
                    consents::granted(conn, &account_id, &client_id)?,
                ),
                None => (None, None),
            };
            Ok::<_, StorageError>(Some((account, citizen, has_factor, client, granted)))
        })
        .await?;
    let Some((account, citizen, has_factor, client, granted)) = read else {
        return Ok(Facts {
            authn: None,
            account: None,
            consent_due: false,
        });
    };
    let eligible = citizen.is_some_and(|c| registry::check_eligible(&account, &c).is_ok());
    let consent_due = match &client {
        // citizen-idp's own pages have no client to consent to; first-party clients
        // never ask.
        None => false,
        Some(client) if client.first_party => false,
        // OIDC Core §3.1.2.1 prompt=consent: ask even if a grant covers the request.
        Some(_) if request.prompt_consent => true,
        Some(_) => {
            let requested = request.requested_scope();
            granted.is_none_or(|granted| !requested.is_subset(&granted))
        }
    };
    let subject = client
        .as_ref()
        .map(|client| subject::for_client(&state.pairwise_key, client, &claimed.account_id))
        .unwrap_or_default();
    Ok(Facts {
        authn: Some(Authn {
            account_id: claimed.account_id,
            subject,
            auth_time: claimed.auth_time,
            amr: claimed.amr,
            // Never more than the account has now (an officer may have lowered it).
            level: claimed.level.min(account.assurance_level),
            password_in_flow: claimed.password_in_flow,
        }),
        account: Some(AccountFacts {
            level: account.assurance_level,
            has_factor,
            eligible,
        }),
        consent_due,
    })
}

/// A flow found for a page.
pub enum PageFlow {
    /// At this page's step.
    At {
        flow_id: String,
        flow: Box<LoginFlow>,
    },
    /// Live, but at another step: where it is.
    Elsewhere { flow_id: String, step: Step },
}

/// The flow named by `flow_id`, if it is live.
pub async fn flow_for_page(
    state: &AppState,
    flow_id: Option<&str>,
    page: Step,
) -> Result<PageFlow, PageError> {
    let flow_id = flow_id
        .filter(|f| f.len() <= MAX_FLOW_ID_LEN)
        .ok_or_else(PageError::login_expired)?;
    let flow = flow::find(state.store.as_ref(), flow_id, state.clock.now())
        .await?
        .ok_or_else(PageError::login_expired)?;
    let flow_id = flow_id.to_owned();
    if flow.step.accepts(page) {
        Ok(PageFlow::At {
            flow_id,
            flow: Box::new(flow),
        })
    } else {
        Ok(PageFlow::Elsewhere {
            flow_id,
            step: flow.step,
        })
    }
}

impl PageFlow {
    /// For a page's GET: the flow, or a redirect to the page of its step.
    pub fn or_redirect(self, lang: Lang) -> Result<(String, LoginFlow), Box<HttpResponse>> {
        match self {
            PageFlow::At { flow_id, flow } => Ok((flow_id, *flow)),
            PageFlow::Elsewhere { flow_id, step } => Err(Box::new(redirect(
                &step_url(page_of(step), &flow_id, lang),
                false,
            ))),
        }
    }

    /// For a form POST: the flow, or a refusal. A form posted for a step the flow is not
    /// at is someone skipping a step.
    pub fn or_refuse(self, page: Step) -> Result<(String, LoginFlow), PageError> {
        match self {
            PageFlow::At { flow_id, flow } => Ok((flow_id, *flow)),
            PageFlow::Elsewhere { step, .. } => {
                tracing::warn!(target: "security", at = ?step, page = ?page, "form posted for a step the flow is not at");
                Err(PageError::bad_request())
            }
        }
    }
}

/// Both the browser cookie (one this server issued) and the form's CSRF token match.
pub fn form_accepted(
    req: &HttpRequest,
    state: &AppState,
    flow: &LoginFlow,
    csrf: Option<&str>,
) -> bool {
    let browser_secret = cookies::browser_secret(&state.cookies, req);
    flow.accepts(browser_secret.as_deref(), csrf)
}

/// Who the flow can stand on now: the login in progress, or the browser's session the
/// flow is bound to. A step-up's progress stands only while its session lives.
async fn claimed_now(
    req: &HttpRequest,
    state: &AppState,
    flow: &LoginFlow,
    now: DateTime<Utc>,
) -> Result<(Option<Claimed>, Option<Session>), PageError> {
    let session_of_flow = async {
        let Some(sid) = flow.sid.as_deref() else {
            return Ok::<_, PageError>(None);
        };
        let live = live_session(req, state, now)
            .await
            .map_err(PageError::from_oauth)?;
        Ok(live.map(|l| l.session).filter(|s| s.facts.sid == sid))
    };
    match &flow.progress {
        Some(progress) if progress.password_in_flow => {
            Ok((Some(Claimed::from_progress(progress)), None))
        }
        Some(progress) => {
            let session = session_of_flow.await?;
            let claimed = session.as_ref().map(|_| Claimed::from_progress(progress));
            Ok((claimed, session))
        }
        None => {
            let session = session_of_flow.await?;
            let claimed = session
                .as_ref()
                .map(|s| Claimed::from_session(s, flow.reauthenticated));
            Ok((claimed, session))
        }
    }
}

/// Moves `flow` on after a step: to the page of the step it needs now, or to the
/// client with a code once every demand is met, or to the client with an error.
pub async fn advance(
    req: &HttpRequest,
    state: &AppState,
    lang: Lang,
    flow_id: &str,
    mut flow: LoginFlow,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let (claimed, session) = claimed_now(req, state, &flow, now).await?;
    let facts = read_facts(state, &flow.request, claimed).await?;
    let next = interaction::next(&demands(&flow.request), &facts, now.timestamp());
    let step = match next {
        Next::Refuse(refusal) => {
            return finish_with_error(state, flow_id, &flow, refusal_error(refusal)).await;
        }
        Next::Step(step) => Some(step),
        Next::Done => None,
    };
    // The methods presented so far become a session once no further authentication step
    // is due (consent is given with a session).
    let mut new_session_cookie = None;
    let session = match (step, flow.progress.take(), &facts.authn) {
        (None | Some(Step::Consent), Some(progress), Some(authn)) => {
            let (session, token) = start_session(req, state, &progress, authn.level, now).await?;
            flow.sid = Some(session.facts.sid.clone());
            flow.reauthenticated = progress.password_in_flow;
            new_session_cookie = Some(token);
            Some(session)
        }
        (_, progress, _) => {
            flow.progress = progress;
            session
        }
    };
    let mut response = match step {
        Some(step) => {
            if step == Step::Password {
                // Back to the password: nothing proved so far counts any more.
                flow.progress = None;
                flow.sid = None;
                flow.reauthenticated = false;
            } else if step == Step::SecondFactor && flow.progress.is_none() {
                // A step-up of the flow's session: go on from what it proved.
                let (Some(session), Some(authn), Some(account)) =
                    (&session, &facts.authn, facts.account)
                else {
                    return Err(PageError::login_expired());
                };
                flow.progress = Some(Progress {
                    account_id: session.facts.account_id.clone(),
                    account_level: account.level,
                    amr: session.facts.amr.clone(),
                    auth_time: session.facts.auth_time,
                    level: authn.level,
                    password_in_flow: flow.reauthenticated,
                });
            }
            flow.step = step;
            flow::save(state.store.as_ref(), flow_id, &flow, now).await?;
            redirect(&step_url(page_of(step), flow_id, lang), true)
        }
        None => {
            let session = session.ok_or_else(PageError::login_expired)?;
            if !flow::finish(state.store.as_ref(), flow_id).await? {
                // Another request finished this flow first.
                return Err(PageError::login_expired());
            }
            match flow.request.own_page.as_deref() {
                Some(page) => redirect(page, true),
                None => {
                    let url = grant::issue_code(
                        state.store.as_ref(),
                        &state.issuer,
                        &flow.request,
                        &session,
                        Duration::from_secs(state.settings.tokens.code_ttl_secs),
                        now,
                    )
                    .await?;
                    redirect(&url, true)
                }
            }
        }
    };
    if let Some(token) = new_session_cookie {
        response
            .add_cookie(&cookies::session_cookie(&state.cookies, token))
            .map_err(|e| PageError::internal(&e, false))?;
    }
    Ok(response)
}

/// Ends the flow with an error sent to the client's (registered, checked) redirect URI.
pub async fn finish_with_error(
    state: &AppState,
    flow_id: &str,
    flow: &LoginFlow,
    error: OAuthError,
) -> Result<HttpResponse, PageError> {
    flow::finish(state.store.as_ref(), flow_id).await?;
    let url = grant::error_url(
        &flow.request.redirect_uri,
        flow.request.state.as_deref(),
        &error,
        &state.issuer,
    );
    Ok(redirect(&url, true))
}

/// A new session for every completed login, so a session id planted before it is
/// useless; the browser's previous session ends.
async fn start_session(
    req: &HttpRequest,
    state: &AppState,
    progress: &Progress,
    level: AssuranceLevel,
    now: DateTime<Utc>,
) -> Result<(Session, String), PageError> {
    crate::oidc::logout::end_replaced_session(req, state).await?;
    let ttl = state.settings.session.ttl_secs;
    let session = Session {
        facts: AuthnFacts {
            sid: crate::tokens::random::token(),
            account_id: progress.account_id.clone(),
            auth_time: progress.auth_time,
            acr: level.acr().to_owned(),
            amr: progress.amr.clone(),
        },
        expires_at: now.timestamp() + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
        device: session::device_hint(
            req.headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
        ),
    };
    let token = session::create(state.store.as_ref(), &session, Duration::from_secs(ttl)).await?;
    Ok((session, token.expose().to_owned()))
}
