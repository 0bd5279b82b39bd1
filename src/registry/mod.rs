//! The population register as a service: who a citizen is, and whether their e-ID may
//! be used right now. Every login, SSO round trip and token exchange asks it again, so
//! a death recorded or an account suspended takes effect at once; introspection and
//! userinfo may be configured to ask through a short cache (`identity_cache`).

pub mod assurance;
pub mod claims;
pub mod generate;
pub mod identity_cache;
pub mod import;
pub mod lifecycle;
pub mod seed;

use crate::domain::citizen::{AccountStatus, Citizen};
use crate::domain::national_id::NationalId;
use crate::storage::accounts::{self, Account};
use crate::storage::{Db, StorageError, citizens};

/// Why an identity may not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ineligible {
    #[error("the citizen is recorded as deceased")]
    Deceased,
    #[error("the account is locked")]
    Locked,
    #[error("the account is suspended")]
    Suspended,
}

pub fn check_eligible(account: &Account, citizen: &Citizen) -> Result<(), Ineligible> {
    if !citizen.is_living() {
        return Err(Ineligible::Deceased);
    }
    match account.status {
        AccountStatus::Active => Ok(()),
        AccountStatus::Locked => Err(Ineligible::Locked),
        AccountStatus::Suspended => Err(Ineligible::Suspended),
    }
}

/// The account of a number and the citizen's register record, in one database trip.
pub async fn identity_by_national_id(
    db: &Db,
    id: NationalId,
) -> Result<Option<(Account, Citizen)>, StorageError> {
    db.run(move |conn| {
        let Some(account) = accounts::find_by_national_id(conn, &id)? else {
            return Ok(None);
        };
        Ok(citizens::find(conn, &id)?.map(|citizen| (account, citizen)))
    })
    .await
}

/// The account and register record behind a `sub` a client was given: a pairwise
/// subject is looked up, anything else is the account id itself (public subjects).
pub async fn identity_by_subject(
    db: &Db,
    subject: String,
) -> Result<Option<(Account, Citizen)>, StorageError> {
    // The account id first: most clients get public subjects, and then this is the
    // request's only query. A pairwise subject (random-looking, never an account id)
    // misses and is resolved.
    db.run(move |conn| {
        if let Some(identity) = accounts::find_with_citizen(conn, &subject)? {
            return Ok(Some(identity));
        }
        match crate::storage::pairwise_subjects::resolve(conn, &subject)? {
            Some(account_id) => accounts::find_with_citizen(conn, &account_id),
            None => Ok(None),
        }
    })
    .await
}

/// The account with `account_id` and the citizen's register record.
pub async fn identity_by_account(
    db: &Db,
    account_id: String,
) -> Result<Option<(Account, Citizen)>, StorageError> {
    db.run(move |conn| accounts::find_with_citizen(conn, &account_id))
        .await
}
