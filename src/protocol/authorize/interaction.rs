//! The login interaction's I/O around the state machine of `domain::interaction`: the
//! pages (password, second factor, consent) and the authorization endpoint read what
//! holds now ([`read_facts`]), ask [`interaction::next`] where the flow goes, and
//! move it there with [`advance`]. A page acts only on a flow at its own step
//! ([`flow_for_page`]); a code is issued only by [`advance`] after `next` answered
//! `Done` against the session as it is now.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::flow::{self, LoginFlow, Progress};
use super::grant::AuthorizationResponse;
use super::request::{AuthorizationRequest, Prompt};
use super::{Browser, Refused, grant, live_session};
use crate::authn::session::{self, Session};
use crate::authn::{new_device, second_factor};
use crate::domain::acr::{Acr, Amr, AssuranceLevel, AuthMethod};
use crate::domain::authn_facts::AuthnFacts;
use crate::domain::citizen::Citizen;
use crate::domain::client::Client;
use crate::domain::interaction::{self, AccountFacts, Authn, Demands, Facts, Next, Refusal, Step};
use crate::domain::scope::ScopeSet;
use crate::domain::secret::SessionToken;
use crate::notify::Language;
use crate::protocol::Context;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::protocol::logout::end_replaced_session;
use crate::registry;
use crate::storage::accounts::{self, Account};
use crate::storage::{StorageError, clients, consents};
use crate::tokens::subject;

const MAX_FLOW_ID_LEN: usize = 128;

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
    pub amr: Amr,
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
            level: session.facts.acr.level(),
            password_in_flow: reauthenticated,
        }
    }
}

/// What the database holds about a claimed account for one request.
struct Standing {
    account: Account,
    citizen: Option<Citizen>,
    has_factor: bool,
    client: Option<Client>,
    granted: Option<ScopeSet>,
}

/// Reads, in one database trip, what the state machine judges: the account and its
/// register record, its factors, the client and the citizen's consent to it.
async fn read_standing(
    ctx: &Context<'_>,
    account_id: &str,
    request: &AuthorizationRequest,
) -> Result<Option<Standing>, StorageError> {
    let account_id = account_id.to_owned();
    let client_id = (request.own_page.is_none()).then(|| request.client_id.clone());
    // Passkeys count only where they can be presented (not on an IP-address issuer).
    let passkeys_on = ctx.passkeys_on;
    ctx.db
        .run(move |conn| {
            let (account, citizen) = match accounts::find_with_citizen(conn, &account_id)? {
                Some((account, citizen)) => (account, Some(citizen)),
                None => match accounts::find(conn, &account_id)? {
                    Some(account) => (account, None),
                    None => return Ok(None),
                },
            };
            let has_factor = second_factor::has_factor_in(conn, &account_id, passkeys_on)?;
            let (client, granted) = match client_id {
                Some(client_id) => (
                    clients::find(conn, &client_id)?,
                    consents::granted(conn, &account_id, &client_id)?,
                ),
                None => (None, None),
            };
            Ok(Some(Standing {
                account,
                citizen,
                has_factor,
                client,
                granted,
            }))
        })
        .await
}

/// Facts without a claimed citizen: nobody has authenticated.
fn no_facts() -> Facts {
    Facts {
        authn: None,
        account: None,
        consent_due: false,
    }
}

/// Reads what the state machine judges for `request`, given who has authenticated.
pub async fn read_facts(
    ctx: &Context<'_>,
    request: &AuthorizationRequest,
    claimed: Option<Claimed>,
) -> Result<Facts, Refused> {
    let Some(claimed) = claimed else {
        return Ok(no_facts());
    };
    let standing = read_standing(ctx, &claimed.account_id, request).await?;
    Ok(facts_from(ctx, request, claimed, standing))
}

/// The browser's session, if it is live and its citizen may still sign in (ended
/// otherwise), and the facts of `request` on it: what [`live_session`] then
/// [`read_facts`] give, in one database trip instead of two (the authorization
/// endpoint's single sign-on path).
pub async fn session_and_facts(
    ctx: &Context<'_>,
    token: Option<&SessionToken>,
    request: &AuthorizationRequest,
    now: DateTime<Utc>,
) -> Result<(Option<Session>, Facts), Refused> {
    let Some(token) = token else {
        return Ok((None, no_facts()));
    };
    let Some(mut session) = session::find(ctx.store, token, now).await? else {
        return Ok((None, no_facts()));
    };
    let standing = read_standing(ctx, &session.facts.account_id, request).await?;
    // The register may have changed since the login: re-checked before SSO.
    let live = standing.filter(|standing| {
        standing
            .citizen
            .as_ref()
            .is_some_and(|citizen| registry::check_eligible(&standing.account, citizen).is_ok())
    });
    let Some(standing) = live else {
        session::end(ctx.store, token).await?;
        return Ok((None, no_facts()));
    };
    // An officer may have lowered the account since the login: the session never
    // vouches for more than the account has now.
    session.facts.acr = session.facts.acr.capped(standing.account.assurance_level);
    let claimed = Claimed::from_session(&session, false);
    let facts = facts_from(ctx, request, claimed, Some(standing));
    Ok((Some(session), facts))
}

fn facts_from(
    ctx: &Context<'_>,
    request: &AuthorizationRequest,
    claimed: Claimed,
    standing: Option<Standing>,
) -> Facts {
    let Some(Standing {
        account,
        citizen,
        has_factor,
        client,
        granted,
    }) = standing
    else {
        return no_facts();
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
            let requested = &request.scope;
            granted.is_none_or(|granted| !requested.is_subset(&granted))
        }
    };
    let subject = client
        .as_ref()
        .map(|client| subject::for_client(ctx.pairwise_key, client, &claimed.account_id))
        .unwrap_or_default();
    Facts {
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
    }
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
    ctx: &Context<'_>,
    flow_id: Option<&str>,
    page: Step,
    now: DateTime<Utc>,
) -> Result<PageFlow, Refused> {
    let flow_id = flow_id
        .filter(|f| f.len() <= MAX_FLOW_ID_LEN)
        .ok_or(Refused::LoginExpired)?;
    let flow = flow::find(ctx.store, flow_id, now)
        .await?
        .ok_or(Refused::LoginExpired)?;
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
    /// For a form POST: the flow, or a refusal. A form posted for a step the flow is not
    /// at is someone skipping a step.
    pub fn or_refuse(self, page: Step) -> Result<(String, LoginFlow), Refused> {
        match self {
            PageFlow::At { flow_id, flow } => Ok((flow_id, *flow)),
            PageFlow::Elsewhere { step, .. } => {
                tracing::warn!(target: "security", at = ?step, page = ?page, "form posted for a step the flow is not at");
                Err(Refused::BadRequest)
            }
        }
    }
}

/// Who the flow can stand on now: the login in progress, or the browser's session the
/// flow is bound to. A step-up's progress stands only while its session lives.
async fn claimed_now(
    ctx: &Context<'_>,
    browser: &Browser,
    flow: &LoginFlow,
    now: DateTime<Utc>,
) -> Result<(Option<Claimed>, Option<Session>), Refused> {
    let session_of_flow = async {
        let Some(sid) = flow.sid.as_deref() else {
            return Ok::<_, Refused>(None);
        };
        let live = live_session(ctx, browser.session_token.as_ref(), now).await?;
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

/// What a page's step proved.
pub enum Proved<'a> {
    /// The password of `account`, at `auth_time` (seconds since the epoch): a new
    /// login, which everything proved before in this flow no longer counts towards.
    Password {
        account_id: &'a str,
        account_level: AssuranceLevel,
        auth_time: i64,
    },
    /// A second factor, by these methods (a passkey: `hwk` and `user`).
    SecondFactor(&'a [AuthMethod]),
}

/// Records in `flow` what its step proved, then moves it on ([`advance`]).
pub async fn step_proved(
    ctx: &Context<'_>,
    browser: &Browser,
    flow_id: &str,
    mut flow: LoginFlow,
    proved: Proved<'_>,
    now: DateTime<Utc>,
) -> Result<Advanced, Refused> {
    match proved {
        Proved::Password {
            account_id,
            account_level,
            auth_time,
        } => {
            flow.progress = Some(Progress {
                account_id: account_id.to_owned(),
                account_level,
                amr: Amr::password(),
                auth_time,
                level: AssuranceLevel::Level1,
                password_in_flow: true,
            });
        }
        Proved::SecondFactor(methods) => {
            let progress = flow.progress.as_mut().ok_or(Refused::LoginExpired)?;
            progress.amr = progress.amr.with_second_factor(methods);
            progress.level = second_factor::achieved_level(progress.account_level, &progress.amr);
        }
    }
    advance(ctx, browser, flow_id, flow, now).await
}

/// Where a flow went after a step.
pub enum Destination {
    /// To the page of the step it needs now.
    Step(Step),
    /// To the client, with a code or an error.
    Client(AuthorizationResponse),
    /// Back to one of our own pages, for a login made for it (`own_page`).
    OwnPage(String),
}

/// What [`advance`] did: where the browser goes, and the session it now holds if this
/// step completed a login.
pub struct Advanced {
    pub destination: Destination,
    pub new_session: Option<SessionToken>,
}

/// Moves `flow` on after a step: to the page of the step it needs now, or to the
/// client with a code once every demand is met, or to the client with an error.
pub async fn advance(
    ctx: &Context<'_>,
    browser: &Browser,
    flow_id: &str,
    mut flow: LoginFlow,
    now: DateTime<Utc>,
) -> Result<Advanced, Refused> {
    let (claimed, session) = claimed_now(ctx, browser, &flow, now).await?;
    let facts = read_facts(ctx, &flow.request, claimed).await?;
    let next = interaction::next(&demands(&flow.request), &facts, now.timestamp());
    let step = match next {
        Next::Refuse(refusal) => {
            let response = finish_with_error(ctx, flow_id, &flow, refusal_error(refusal)).await?;
            return Ok(Advanced {
                destination: Destination::Client(response),
                new_session: None,
            });
        }
        Next::Step(step) => Some(step),
        Next::Done => None,
    };
    // The methods presented so far become a session once no further authentication step
    // is due (consent is given with a session).
    let mut new_session_cookie = None;
    let session = match (step, flow.progress.take(), &facts.authn) {
        (None | Some(Step::Consent), Some(progress), Some(authn)) => {
            let language = Language::from_ui_locales(flow.request.ui_locales.as_deref());
            let (session, token) =
                start_session(ctx, browser, &progress, authn.level, language, now).await?;
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
    let destination = match step {
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
                    return Err(Refused::LoginExpired);
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
            flow::save(ctx.store, flow_id, &flow, now).await?;
            Destination::Step(step)
        }
        None => {
            let session = session.ok_or(Refused::LoginExpired)?;
            if !flow::finish(ctx.store, flow_id).await? {
                // Another request finished this flow first.
                return Err(Refused::LoginExpired);
            }
            match flow.request.own_page {
                Some(page) => Destination::OwnPage(page),
                None => Destination::Client(
                    grant::issue_code(
                        ctx.store,
                        ctx.issuer,
                        &flow.request,
                        &session,
                        Duration::from_secs(ctx.settings.tokens.code_ttl_secs),
                        now,
                    )
                    .await?,
                ),
            }
        }
    };
    Ok(Advanced {
        destination,
        new_session: new_session_cookie,
    })
}

/// Ends the flow with an error for the client, to be sent to its (registered, checked)
/// redirect URI.
pub async fn finish_with_error(
    ctx: &Context<'_>,
    flow_id: &str,
    flow: &LoginFlow,
    error: OAuthError,
) -> Result<AuthorizationResponse, Refused> {
    flow::finish(ctx.store, flow_id).await?;
    Ok(grant::error_response(
        &flow.request.redirect_uri,
        flow.request.response_mode,
        flow.request.state.as_deref(),
        &error,
        ctx.issuer,
    ))
}

/// A new session for every completed login, so a session id planted before it is
/// useless; the browser's previous session ends.
async fn start_session(
    ctx: &Context<'_>,
    browser: &Browser,
    progress: &Progress,
    level: AssuranceLevel,
    language: Language,
    now: DateTime<Utc>,
) -> Result<(Session, SessionToken), Refused> {
    end_replaced_session(
        ctx,
        browser.session_token.as_ref(),
        browser.request_id.as_deref(),
        now,
    )
    .await?;
    let ttl = ctx.settings.session.ttl_secs;
    let session = Session {
        facts: AuthnFacts {
            sid: crate::tokens::random::token(),
            account_id: progress.account_id.clone(),
            auth_time: progress.auth_time,
            acr: Acr::new(level),
            amr: progress.amr.clone(),
        },
        expires_at: now.timestamp() + i64::try_from(ttl).unwrap_or(i64::MAX / 2),
        device: session::device_hint(browser.user_agent.as_deref()),
    };
    let token = session::create(ctx.store, &session, Duration::from_secs(ttl)).await?;
    if ctx.settings.notify.new_device_notice {
        let device = session.device.as_deref();
        new_device::note_login(ctx.db, &progress.account_id, device, language, now).await?;
    }
    Ok((session, token))
}
