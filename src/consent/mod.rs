//! Consent: what a citizen agreed to share with each service.
//!
//! A grant is kept per account and client as the union of the scopes agreed to, so a
//! client asking for what it already has gets its code at once, and one asking for more
//! sends the citizen back to the consent page. Clients an operator marks first-party
//! never ask. Withdrawing a grant also revokes the client's refresh tokens for the
//! citizen (and the access tokens they yielded), so the service loses access at once.

pub mod data;

use chrono::{DateTime, Utc};

use crate::audit;
use crate::authn::session::Session;
use crate::domain::national_id::NationalId;
use crate::domain::scope::ScopeSet;
use crate::oidc::authorize::request::AuthorizationRequest;
use crate::pages::PageError;
use crate::state::AppState;
use crate::storage::{consents, refresh_tokens};
use crate::tokens::{refresh, revocation};

/// The scopes of a checked request (already parsed once, so never malformed).
pub fn requested_scope(request: &AuthorizationRequest) -> ScopeSet {
    ScopeSet::parse(&request.scope).unwrap_or_default()
}

/// Records that the citizen agreed to share `request`'s scopes with its client.
pub async fn grant(
    state: &AppState,
    session: &Session,
    request: &AuthorizationRequest,
    now: DateTime<Utc>,
) -> Result<(), PageError> {
    let scope = requested_scope(request);
    let (account_id, client_id, at) = (
        session.account_id.clone(),
        request.client_id.clone(),
        now.naive_utc(),
    );
    state
        .db
        .run(move |conn| consents::grant(conn, &account_id, &client_id, &scope, at))
        .await?;
    Ok(())
}

/// Deletes the grant of `client_id` and revokes the client's refresh tokens for this
/// account, with the access tokens they yielded. Returns whether there was a grant.
pub async fn withdraw(
    state: &AppState,
    account_id: &str,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, PageError> {
    let (account, client, at) = (account_id.to_owned(), client_id.to_owned(), now.naive_utc());
    let (existed, revoked) = state
        .db
        .run(move |conn| {
            let existed = consents::withdraw(conn, &account, &client)?;
            let mut revoked = Vec::new();
            for family in refresh_tokens::families_of(conn, &account, &client)? {
                revoked.extend(refresh::revoke_family(conn, &family, at)?);
            }
            Ok::<_, crate::storage::StorageError>((existed, revoked))
        })
        .await?;
    revocation::remember(state.store.as_ref(), &revoked, now).await?;
    Ok(existed)
}

/// Audits a consent decision (`consent_granted`, `consent_denied`, `consent_withdrawn`).
pub async fn audit(
    state: &AppState,
    outcome: &'static str,
    citizen: Option<NationalId>,
    client_id: &str,
    scope: &ScopeSet,
    request_id: Option<&str>,
) {
    let mut event = audit::Event::new(audit::Kind::Admin, outcome, state.clock.now().naive_utc())
        .client(client_id)
        .detail(format!("scope: {scope}"))
        .request_id(request_id);
    if let Some(citizen) = citizen {
        event = event.citizen(citizen);
    }
    state.audit.record(event).await;
}
