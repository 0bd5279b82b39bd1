//! A citizen changing their password from a signed-in session. The new password meets
//! the enrolment policy (NIST SP 800-63B §5.1.1.2); the current one is a password guess
//! like a login's, under the same throttle and counters, so a stolen session cannot try
//! passwords here unthrottled (`claim` counts the attempt before Argon2 runs, so
//! parallel guesses cannot either). A change revokes every refresh family of the
//! account and ends every other session: whoever knew the old password may hold one.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::password::{PasswordError, PasswordHasher};
use super::password_policy::{self, PolicyContext, PolicyError};
use super::session::{self, Session};
use super::throttle::{Throttle, Verdict};
use crate::audit::{self, AuditLog};
use crate::domain::authn_facts::AuthnFacts;
use crate::domain::national_id::NationalId;
use crate::domain::secret::Password;
use crate::registry;
use crate::storage::{self, Db, StorageError, accounts, refresh_tokens};
use crate::store::{Store, StoreError};
use crate::tokens::revocation;

/// The longest current password looked at; a longer one is wrong without a hash.
const MAX_PASSWORD_BYTES: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The session's account is gone.
    #[error("the account no longer exists")]
    NoAccount,
    #[error("the new password breaks the policy: {0}")]
    Policy(PolicyError),
    /// The current password was wrong; `retry_after_secs` when the failure made the
    /// number wait.
    #[error("the current password is wrong")]
    WrongPassword { retry_after_secs: Option<u64> },
    #[error("too many failed attempts")]
    Throttled { retry_after_secs: u64 },
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct PasswordServices<'a> {
    pub db: &'a Db,
    pub store: &'a dyn Store,
    pub hasher: &'a PasswordHasher,
    pub throttle: &'a Throttle<'a>,
}

/// The change asked for, by the session that asks it.
pub struct ChangeRequest<'a> {
    pub session: &'a AuthnFacts,
    pub current: Password,
    pub new: Password,
    pub client_ip: Option<IpAddr>,
    pub now: DateTime<Utc>,
}

/// What a change did, for the caller to tell the relying parties and audit.
pub struct PasswordChanged {
    pub citizen: NationalId,
    /// The account's other sessions, ended.
    pub ended: Vec<Session>,
    pub revoked_families: usize,
}

pub async fn change(
    services: &PasswordServices<'_>,
    request: ChangeRequest<'_>,
) -> Result<PasswordChanged, ChangeError> {
    let ChangeRequest {
        session: facts,
        current,
        new,
        client_ip,
        now,
    } = request;
    let (account, citizen) = registry::identity_by_account(services.db, facts.account_id.clone())
        .await?
        .ok_or(ChangeError::NoAccount)?;
    let context = PolicyContext {
        national_id: Some(citizen.national_id.expose()),
        birth_date: Some(citizen.birth_date),
    };
    password_policy::check(new.expose(), &context).map_err(ChangeError::Policy)?;

    let number = citizen.national_id.expose().to_owned();
    let throttle = services.throttle;
    if let Verdict::Wait { retry_after_secs } = throttle.claim(&number, client_ip, now).await? {
        return Err(ChangeError::Throttled { retry_after_secs });
    }
    let stored =
        (current.expose().len() <= MAX_PASSWORD_BYTES).then(|| account.password_hash.clone());
    if !services.hasher.verify(current, stored).await? {
        let failure = throttle.record_failure(&number, client_ip, now).await?;
        let retry_after_secs = match failure.wait {
            Verdict::Wait { retry_after_secs } => Some(retry_after_secs),
            Verdict::Allowed => None,
        };
        return Err(ChangeError::WrongPassword { retry_after_secs });
    }
    throttle.record_success(&number).await?;
    let hash = services.hasher.hash(new).await?;

    let (account_id, at) = (facts.account_id.clone(), now.naive_utc());
    let (revoked_families, revoked) = services
        .db
        .run(move |conn| {
            storage::transaction(conn, |conn| {
                accounts::set_password_hash(conn, &account_id, &hash, at)?;
                let families = refresh_tokens::families_of_account(conn, &account_id)?;
                let mut revoked = Vec::new();
                for family in &families {
                    revoked.extend(refresh_tokens::revoke_family(conn, family, at)?);
                }
                Ok::<_, StorageError>((families.len(), revoked))
            })
        })
        .await?;
    revocation::remember(services.store, &revoked, now).await?;
    let ended = session::end_others(services.store, &facts.account_id, &facts.sid, now).await?;
    Ok(PasswordChanged {
        citizen: citizen.national_id,
        ended,
        revoked_families,
    })
}

/// Audits a change, after the ended sessions' relying parties were told.
pub async fn audit_change(
    log: &AuditLog,
    changed: &PasswordChanged,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) {
    let event = audit::Event::new(audit::Kind::Admin, "password_changed", now.naive_utc())
        .citizen(changed.citizen.clone())
        .detail(format!(
            "by the citizen; {} other sessions ended, {} refresh token families revoked",
            changed.ended.len(),
            changed.revoked_families
        ))
        .request_id(request_id);
    // Queued, not awaited: the password is changed whatever the trail says.
    log.record(event).await;
}
