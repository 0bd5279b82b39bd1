//! The login decision: the password, the account's status, and the citizen's record in
//! the population register must all agree before anyone is signed in.
//!
//! Each password check is one counted attempt of the login protection
//! (`authn::throttle`), taken in this order so that the budget holds under any
//! concurrency and nothing but a real verdict spends it: the number's wait (a quick
//! refusal), the account lookup, a turn of the password hasher (a busy server turns
//! the citizen away before anything is counted), the throttle's atomic turn, Argon2,
//! then the verdict recorded. A right password resets the number's count, whether or
//! not the account may log in: the password was known.
//!
//! [`log_in`] is the whole of a login attempt for the login page: the decision, its
//! audit event, and the lock of an account whose failures reached the cap.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::audit::{self, AuditLog};
use crate::authn::password::{PasswordError, PasswordHasher, PasswordMatch};
use crate::authn::throttle::{Failure, Throttle, Verdict};
use crate::domain::citizen::AccountStatus;
use crate::domain::national_id::NationalId;
use crate::domain::secret::Password;
use crate::registry::identity_cache::IdentityCache;
use crate::registry::{self, Ineligible};
use crate::storage::accounts::{self, Account};
use crate::storage::{Db, StorageError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown number, malformed number or wrong password: deliberately one answer,
    /// so the login form cannot tell which numbers have accounts. The failure is
    /// counted; what it earned comes with it.
    #[error("invalid credentials")]
    InvalidCredentials(Failure),
    /// Refused before the password was checked: the number (or the client's address)
    /// must wait, or parallel attempts hold every turn.
    #[error("too many failed attempts")]
    Throttled { retry_after_secs: u64 },
    /// The password was right but the account or the citizen's record forbids login.
    #[error("login not permitted: {0}")]
    NotPermitted(Ineligible),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

/// A login attempt as submitted.
pub struct LoginAttempt<'a> {
    pub unverified_national_id: &'a str,
    pub password: Password,
    pub client_ip: Option<IpAddr>,
    pub now: DateTime<Utc>,
}

/// What the login service works with, as plain parts of the running server.
pub struct LoginServices<'a> {
    pub db: &'a Db,
    pub hasher: &'a PasswordHasher,
    pub throttle: &'a Throttle<'a>,
    pub audit: &'a AuditLog,
    /// Cleared when an account is locked, so that no cached identity outlives the lock.
    pub identities: &'a IdentityCache,
}

/// Where an attempt came from, for its audit event.
pub struct AttemptOrigin<'a> {
    pub client_id: &'a str,
    pub request_id: Option<&'a str>,
}

/// One login attempt: [`authenticate`], its audit event, and the account's lock when
/// its failures reached `login_protection.lock_account_after_failures`.
pub async fn log_in(
    services: &LoginServices<'_>,
    attempt: LoginAttempt<'_>,
    origin: AttemptOrigin<'_>,
) -> Result<Account, LoginError> {
    let (number, now) = (attempt.unverified_national_id, attempt.now);
    let result = authenticate(services.db, services.hasher, services.throttle, attempt).await;
    audit_attempt(services.audit, &origin, number, &result, now).await;
    if let Err(LoginError::InvalidCredentials(failure)) = &result
        && failure.lock_account
    {
        lock_account(services, &origin, number, now).await;
    }
    result
}

/// Every attempt that reached a verdict goes to the audit trail, with the number when
/// it is well-formed (an unknown number is recorded too: it may be a probe).
async fn audit_attempt(
    log: &AuditLog,
    origin: &AttemptOrigin<'_>,
    unverified_number: &str,
    result: &Result<Account, LoginError>,
    now: DateTime<Utc>,
) {
    let outcome = match result {
        Ok(_) => "success",
        Err(LoginError::InvalidCredentials(_)) => "invalid_credentials",
        Err(LoginError::NotPermitted(_)) => "not_permitted",
        // Refused before the password was checked: no verdict on the citizen.
        Err(
            LoginError::Throttled { .. }
            | LoginError::Storage(_)
            | LoginError::Store(_)
            | LoginError::Password(_),
        ) => return,
    };
    let mut event = audit::Event::new(audit::Kind::Login, outcome, now.naive_utc())
        .client(origin.client_id)
        .request_id(origin.request_id);
    if let Ok(id) = NationalId::parse(unverified_number) {
        event = event.citizen(id);
    }
    if let Err(LoginError::NotPermitted(reason)) = result {
        event = event.detail(reason.to_string());
    }
    // Queued, not awaited: a login releases nothing of the register; what it leads to
    // (an ID token, claims) is committed to the trail before it is released.
    log.record(event).await;
}

/// NIST SP 800-63B's cap reached: the account (if the number has one) is locked until
/// an officer unlocks it, and the lock is audited. A failure here is logged, not
/// returned: the citizen's answer must not depend on whether an account exists.
async fn lock_account(
    services: &LoginServices<'_>,
    origin: &AttemptOrigin<'_>,
    unverified_number: &str,
    now: DateTime<Utc>,
) {
    let Ok(id) = NationalId::parse(unverified_number) else {
        return;
    };
    let stored_id = id.clone();
    let at = now.naive_utc();
    let locked = services
        .db
        .run(move |conn| {
            crate::storage::transaction(conn, |conn| {
                let Some(account) = accounts::find_by_national_id(conn, &stored_id)? else {
                    return Ok::<_, crate::storage::StorageError>(false);
                };
                if !accounts::set_status(conn, &stored_id, AccountStatus::Locked, at)? {
                    return Ok(false);
                }
                let notice = crate::notify::Notice::Locked;
                let language = crate::notify::Language::Vi;
                crate::notify::queue_notice(conn, &account.id, &notice, language, now)?;
                Ok(true)
            })
        })
        .await;
    match locked {
        Ok(true) => {
            services.identities.clear();
            tracing::warn!(target: "security", "account locked after too many failed logins");
            let event = audit::Event::new(audit::Kind::Login, "account_locked", at)
                .client(origin.client_id)
                .citizen(id)
                .request_id(origin.request_id)
                .detail("consecutive failed logins reached login_protection.lock_account_after_failures");
            // Queued, not awaited: the account is locked whatever the trail says.
            services.audit.record(event).await;
        }
        Ok(false) => {}
        Err(e) => {
            tracing::error!(error = %e, "could not lock an account after too many failed logins")
        }
    }
}

pub async fn authenticate(
    db: &Db,
    hasher: &PasswordHasher,
    throttle: &Throttle<'_>,
    attempt: LoginAttempt<'_>,
) -> Result<Account, LoginError> {
    let LoginAttempt {
        unverified_national_id: number,
        password,
        client_ip,
        now,
    } = attempt;
    if let Verdict::Wait { retry_after_secs } = throttle.check(number, client_ip, now).await? {
        return Err(LoginError::Throttled { retry_after_secs });
    }
    let identity = match NationalId::parse(number) {
        Ok(id) => registry::identity_by_national_id(db, id).await?,
        Err(_) => None,
    };
    let stored_hash = identity
        .as_ref()
        .map(|(account, _)| account.password_hash.clone());
    let turn = hasher.reserve().await?;
    if let Verdict::Wait { retry_after_secs } = throttle.claim(number, client_ip, now).await? {
        return Err(LoginError::Throttled { retry_after_secs });
    }
    // Always verify, against a dummy hash when there is no account, so that both
    // answers take the same time.
    let matched = turn.check(password.clone(), stored_hash).await?;
    let Some((account, citizen)) = identity.filter(|_| matched.matched()) else {
        let failure = throttle.record_failure(number, client_ip, now).await?;
        return Err(LoginError::InvalidCredentials(failure));
    };
    throttle.record_success(number).await?;
    if matched == PasswordMatch::AsTyped {
        rehash_in_nfc(db, &turn, &account, password, now).await;
    }
    registry::check_eligible(&account, &citizen).map_err(LoginError::NotPermitted)?;
    Ok(account)
}

/// Replaces a hash made from a password's non-NFC form with its NFC one, so that
/// from now on it matches however the citizen's keyboard composes it. Best effort: a
/// failure is logged and the next login tries again.
async fn rehash_in_nfc(
    db: &Db,
    turn: &crate::authn::password::HashTurn,
    account: &Account,
    password: Password,
    now: DateTime<Utc>,
) {
    let new_hash = match turn.hash(password).await {
        Ok(hash) => hash,
        Err(e) => {
            tracing::warn!(error = %e, "could not re-hash a password in NFC form");
            return;
        }
    };
    let (id, old_hash, at) = (
        account.id.clone(),
        account.password_hash.clone(),
        now.naive_utc(),
    );
    let replaced = db
        .run(move |conn| accounts::replace_password_hash(conn, &id, &old_hash, &new_hash, at))
        .await;
    match replaced {
        Ok(true) => tracing::info!(
            target: "security",
            "a password hash made from a non-NFC form was replaced by its NFC form"
        ),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "could not store a password re-hashed in NFC form"),
    }
}
