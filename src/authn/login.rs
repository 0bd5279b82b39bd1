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

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::authn::password::{PasswordError, PasswordHasher, PasswordMatch};
use crate::authn::throttle::{Failure, Throttle, Verdict};
use crate::domain::national_id::NationalId;
use crate::domain::secret::Password;
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
