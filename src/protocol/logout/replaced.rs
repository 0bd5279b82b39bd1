//! A completed login replaces the browser's session: every login (a re-login,
//! `prompt=login`, a `max_age` the session exceeded, a step-up to a second factor)
//! starts a new session with a new `sid`, so that a session id planted before it is
//! useless. The session it replaces ends here, and the relying parties that session
//! signed in to get their back-channel logout tokens for the old `sid`: a relying party
//! must not keep a session open on the strength of one the provider has ended, and a
//! step-up or a login as someone else is such an end.

use chrono::{DateTime, Utc};

use crate::audit::{Event, Kind};
use crate::authn::session;
use crate::domain::secret::SessionToken;
use crate::registry;

use super::super::Context;
use super::super::error::OAuthError;
use super::backchannel;

/// Ends the browser's current session (`session_token`, from its cookie), if any,
/// because a login just completed and is about to start a new one; queues the logout
/// tokens of its relying parties. Call it before creating the new session.
pub async fn end_replaced_session(
    ctx: &Context<'_>,
    session_token: Option<&SessionToken>,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    let Some(token) = session_token else {
        return Ok(());
    };
    let store = ctx.store;
    let old = session::find(store, token, now).await?;
    session::end(store, token).await?;
    // An expired or unknown cookie: nothing was live, no one to tell.
    let Some(old) = old else {
        return Ok(());
    };
    let client_ids = session::take_clients(store, &old.facts.sid).await?;
    let citizen = registry::identity_by_account(ctx.db, old.facts.account_id.clone())
        .await?
        .map(|(_, citizen)| citizen.national_id);
    let queued = backchannel::queue(ctx, &old.facts, &client_ids, citizen.as_ref(), now).await?;
    let mut event = Event::new(Kind::Login, "session_replaced", now.naive_utc())
        .detail(format!("clients={} notified={queued}", client_ids.len()))
        .request_id(request_id);
    if let Some(citizen) = citizen {
        event = event.citizen(citizen);
    }
    // Queued, not awaited: the old session is over whatever the trail says.
    ctx.audit.record(event).await;
    tracing::info!(target: "security", clients = client_ids.len(), "session replaced by a new login");
    Ok(())
}
