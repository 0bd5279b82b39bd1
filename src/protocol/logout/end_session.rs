//! RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2), below HTTP: what a request
//! to the `end_session_endpoint`, or the citizen's confirmation of one, comes to.
//!
//! A logout ends the browser's session at once when the request proves it comes from a
//! relying party of that same session (a valid `id_token_hint` for the session's
//! citizen). Otherwise the citizen is asked to confirm, so that a third-party page
//! cannot log anyone out by embedding the URL. `post_logout_redirect_uri` must match
//! a registered one exactly, and is only used when the request names its client;
//! otherwise the citizen sees a page of ours. Ending the session queues the logout
//! tokens of its relying parties ([`super::backchannel::queue`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::super::Context;
use super::super::error::OAuthError;
use super::backchannel;
use super::request::LogoutRequest;
use crate::audit;
use crate::authn::session::{self, Session};
use crate::domain::secret::SessionToken;
use crate::registry;
use crate::storage::clients;
use crate::store::keys;
use crate::tokens::{random, subject};

/// Where the browser goes once logged out: a registered URI with the client's `state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Return {
    uri: String,
    state: Option<String>,
}

impl Return {
    /// The URI to redirect to, with `state` added to its query.
    pub fn url(&self) -> String {
        match (Url::parse(&self.uri), &self.state) {
            (Ok(mut url), Some(state)) => {
                url.query_pairs_mut().append_pair("state", state);
                url.to_string()
            }
            _ => self.uri.clone(),
        }
    }
}

/// A logout waiting for the citizen's confirmation.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    sid: String,
    back: Option<Return>,
}

const PENDING_TTL: Duration = Duration::from_secs(600);

/// What an end-session request comes to.
#[derive(Debug)]
pub enum Ended {
    /// The session is over (or none was live): back to the relying party, or, with
    /// `None`, to our own page.
    LoggedOut(Option<Return>),
    /// The request did not prove it comes from a relying party of the session: the
    /// citizen is asked, with a form that names the pending logout `pending`, which only
    /// that page knows.
    Confirm { pending: String },
}

/// Why a logout request gets one of our error pages: nothing in it can be trusted to
/// redirect to.
#[derive(Debug)]
pub enum Refused {
    /// The `id_token_hint` is not ours, or names another client than `client_id`.
    BadHint,
    UnknownClient,
    /// Unregistered, or no client to check it against.
    BadPostLogoutRedirectUri,
    /// The confirmation is unknown, expired, or for another session: a forged form.
    BadConfirmation,
    /// An internal cause, already logged.
    Internal(OAuthError),
}

impl<E: Into<OAuthError>> From<E> for Refused {
    fn from(e: E) -> Self {
        Refused::Internal(e.into())
    }
}

/// Answers an end-session request from a browser whose session cookie held
/// `session_token`.
pub async fn end_session(
    ctx: &Context<'_>,
    request: &LogoutRequest,
    session_token: Option<SessionToken>,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Ended, Refused> {
    let hint = request.verified_hint(ctx)?;
    let client_id = match (&hint, &request.client_id) {
        (Some(hint), Some(id)) if *id != hint.aud => return Err(Refused::BadHint),
        (Some(hint), _) => Some(hint.aud.clone()),
        (None, id) => id.clone(),
    };
    let client = match client_id {
        Some(id) => Some(
            ctx.db
                .run(move |conn| clients::find(conn, &id))
                .await?
                .ok_or(Refused::UnknownClient)?,
        ),
        None => None,
    };
    let back = match (&request.post_logout_redirect_uri, &client) {
        (None, _) => None,
        (Some(uri), Some(client)) if client.has_post_logout_redirect_uri(uri) => Some(Return {
            uri: uri.clone(),
            state: request.state.clone(),
        }),
        // Unregistered, or no client to check it against: never redirect (an open
        // redirector would let anyone bounce citizens through our domain).
        (Some(_), _) => return Err(Refused::BadPostLogoutRedirectUri),
    };

    let Some((token, session)) = live_session(ctx, session_token, now).await? else {
        // Nothing to end: the citizen is already logged out here.
        return Ok(Ended::LoggedOut(back));
    };
    let proven = match (&hint, &client) {
        (Some(hint), Some(client)) => {
            let sub = subject::for_client(ctx.pairwise_key, client, &session.facts.account_id);
            random::constant_time_eq(hint.sub.as_bytes(), sub.as_bytes())
                && hint
                    .sid
                    .as_ref()
                    .is_none_or(|sid| *sid == session.facts.sid)
        }
        _ => false,
    };
    if !proven {
        let pending = ask(ctx, &session, back).await?;
        return Ok(Ended::Confirm { pending });
    }
    log_out(ctx, &token, &session, request_id, now).await?;
    Ok(Ended::LoggedOut(back))
}

/// Keeps the logout for the citizen's confirmation, bound to the session it would end;
/// returns the id the confirmation form names.
async fn ask(
    ctx: &Context<'_>,
    session: &Session,
    back: Option<Return>,
) -> Result<String, Refused> {
    let id = random::token();
    let pending = Pending {
        sid: session.facts.sid.clone(),
        back,
    };
    let value = serde_json::to_vec(&pending).map_err(|e| OAuthError::internal(&e, false))?;
    ctx.store
        .put(&keys::logout_confirmation(&id), value, PENDING_TTL)
        .await?;
    Ok(id)
}

/// Carries out the logout the citizen confirmed (`pending`, from the confirmation
/// form); returns where the browser goes.
pub async fn confirm(
    ctx: &Context<'_>,
    pending: Option<String>,
    session_token: Option<SessionToken>,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Return>, Refused> {
    let id = pending
        .filter(|id| id.len() <= 64)
        .ok_or(Refused::BadConfirmation)?;
    let pending = ctx
        .store
        .take(&keys::logout_confirmation(&id))
        .await?
        .and_then(|bytes| serde_json::from_slice::<Pending>(&bytes).ok())
        .ok_or(Refused::BadConfirmation)?;
    match live_session(ctx, session_token, now).await? {
        Some((token, session)) if session.facts.sid == pending.sid => {
            log_out(ctx, &token, &session, request_id, now).await?;
        }
        // The session already ended (another tab, expiry): the citizen's wish holds.
        None => {}
        // Another session than the one the page was shown for: a forged form.
        Some(_) => {
            tracing::warn!(target: "security", "logout confirmation for another session refused");
            return Err(Refused::BadConfirmation);
        }
    }
    Ok(pending.back)
}

/// The browser's live session, with the cookie's token that names it.
async fn live_session(
    ctx: &Context<'_>,
    session_token: Option<SessionToken>,
    now: DateTime<Utc>,
) -> Result<Option<(SessionToken, Session)>, OAuthError> {
    let Some(token) = session_token else {
        return Ok(None);
    };
    let session = session::find(ctx.store, &token, now).await?;
    Ok(session.map(|session| (token, session)))
}

/// Ends the session and tells its relying parties.
async fn log_out(
    ctx: &Context<'_>,
    token: &SessionToken,
    session: &Session,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    session::end(ctx.store, token).await?;
    let client_ids = session::take_clients(ctx.store, &session.facts.sid).await?;
    let citizen = registry::identity_by_account(ctx.db, session.facts.account_id.clone())
        .await?
        .map(|(_, citizen)| citizen.national_id);
    let mut event =
        audit::Event::new(audit::Kind::Login, "logout", now.naive_utc()).request_id(request_id);
    if let Some(citizen) = &citizen {
        event = event.citizen(citizen.clone());
    }
    // Queued, not awaited: the session is over whatever the trail says, and an audit
    // outage must not turn a logout into an error.
    ctx.audit.record(event).await;
    tracing::info!(target: "security", clients = client_ids.len(), "session ended by logout");
    backchannel::queue(ctx, &session.facts, &client_ids, citizen.as_ref(), now).await?;
    Ok(())
}
