//! Consent: what a citizen agreed to share with each service.
//!
//! A grant is kept per account and client as the union of the scopes agreed to, so a
//! client asking for what it already has gets its code at once, and one asking for more
//! sends the citizen back to the consent page. Clients an operator marks first-party
//! never ask. Withdrawing a grant also revokes the client's refresh tokens for the
//! citizen (and the access tokens they yielded), so the service loses access at once.

pub mod data;

use chrono::{DateTime, Utc};

use crate::audit::{self, AuditLog};
use crate::domain::national_id::NationalId;
use crate::domain::scope::ScopeSet;
use crate::storage::{Db, StorageError, consents, refresh_tokens};
use crate::store::{Store, StoreError};
use crate::tokens::{refresh, revocation};

#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records that the account agreed to share `scope` with `client_id`.
pub async fn grant(
    db: &Db,
    account_id: &str,
    client_id: &str,
    scope: &ScopeSet,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let (account_id, client_id, scope, at) = (
        account_id.to_owned(),
        client_id.to_owned(),
        scope.clone(),
        now.naive_utc(),
    );
    db.run(move |conn| consents::grant(conn, &account_id, &client_id, &scope, at))
        .await
}

/// Deletes the grant of `client_id` and revokes the client's refresh tokens for this
/// account, with the access tokens they yielded. Returns whether there was a grant.
pub async fn withdraw(
    db: &Db,
    store: &dyn Store,
    account_id: &str,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, ConsentError> {
    let (account, client, at) = (account_id.to_owned(), client_id.to_owned(), now.naive_utc());
    let (existed, revoked) = db
        .run(move |conn| {
            let existed = consents::withdraw(conn, &account, &client)?;
            let mut revoked = Vec::new();
            for family in refresh_tokens::families_of(conn, &account, &client)? {
                revoked.extend(refresh::revoke_family(conn, &family, at)?);
            }
            Ok::<_, StorageError>((existed, revoked))
        })
        .await?;
    revocation::remember(store, &revoked, now).await?;
    Ok(existed)
}

/// What a consent decision was about, for its audit event.
pub struct Decision<'a> {
    /// `consent_granted`, `consent_denied` or `consent_withdrawn`.
    pub outcome: &'static str,
    pub citizen: Option<NationalId>,
    pub client_id: &'a str,
    pub scope: &'a ScopeSet,
    pub request_id: Option<&'a str>,
}

/// Audits a consent decision.
pub async fn audit(log: &AuditLog, decision: Decision<'_>, now: DateTime<Utc>) {
    let mut event = audit::Event::new(audit::Kind::Admin, decision.outcome, now.naive_utc())
        .client(decision.client_id)
        .detail(format!("scope: {}", decision.scope))
        .request_id(decision.request_id);
    if let Some(citizen) = decision.citizen {
        event = event.citizen(citizen);
    }
    // Queued, not awaited: the decision is stored whatever the trail says; the
    // releases it allows are committed to the trail as they happen.
    log.record(event).await;
}
