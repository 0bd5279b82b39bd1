//! The people who help citizens: officers are citizens' accounts holding roles
//! ([`Role`]) that an operator granted. This module is their services, for the console
//! (`pages::officer`), the admin API and the CLI alike: granting and revoking roles,
//! their personal API tokens ([`tokens`]), and the work on a citizen's account
//! ([`casework`]). Every change is written with its audit row, naming the officer, in
//! one transaction.

pub mod casework;
pub mod tokens;

use chrono::NaiveDateTime;

use crate::audit::{Event, Kind};
use crate::domain::national_id::NationalId;
use crate::domain::officer::{Role, Roles};
use crate::storage::officers::{self as stored, Grant};
use crate::storage::{self, DbConnection, StorageError, accounts, audit_events};

/// An officer at work: the account and the roles it holds for this request (those of
/// the account, or of a token limited to some of them).
#[derive(Debug, Clone)]
pub struct Officer {
    pub account_id: String,
    pub roles: Roles,
}

impl Officer {
    /// How the audit trail names the officer: the account id, which is random and says
    /// nothing of the person, while the operator can map it to a name.
    pub fn actor(&self) -> String {
        actor_of(&self.account_id)
    }

    pub fn may(&self, role: Role) -> bool {
        self.roles.contains(role)
    }

    /// The officer if it holds `role`.
    pub fn must(&self, role: Role) -> Result<&Officer, OfficerError> {
        if self.may(role) {
            Ok(self)
        } else {
            Err(OfficerError::Forbidden(role))
        }
    }
}

/// The audit trail's name of the officer with account `account_id`.
pub fn actor_of(account_id: &str) -> String {
    format!("officer:{account_id}")
}

#[derive(Debug, thiserror::Error)]
pub enum OfficerError {
    #[error("no citizen with this number has an e-ID account")]
    NoAccount,
    #[error("this needs the {0} role")]
    Forbidden(Role),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The account id of the citizen `id`.
pub fn account_of(conn: &mut DbConnection, id: &NationalId) -> Result<String, OfficerError> {
    Ok(accounts::find_by_national_id(conn, id)?
        .ok_or(OfficerError::NoAccount)?
        .id)
}

/// What the console needs to know of an account before it lets it in: its roles and
/// whether it has a second factor.
pub fn standing(conn: &mut DbConnection, account_id: &str) -> Result<(Roles, bool), StorageError> {
    Ok((
        stored::roles_of(conn, account_id)?,
        storage::recovery_codes::account_has_factor(conn, account_id)?,
    ))
}

/// Grants `roles` to the account of `id`; returns those it did not hold before.
pub fn grant(
    conn: &mut DbConnection,
    id: &NationalId,
    roles: &Roles,
    by: &str,
    now: NaiveDateTime,
) -> Result<Vec<Role>, OfficerError> {
    storage::transaction(conn, |conn| {
        let account = accounts::find_by_national_id(conn, id)?.ok_or(OfficerError::NoAccount)?;
        let mut granted = Vec::new();
        for role in roles.iter() {
            if stored::grant(conn, &account.id, role, by, now)? {
                granted.push(role);
                audit(conn, id, "officer_role_granted", role, by, now)?;
            }
        }
        Ok(granted)
    })
}

/// Revokes `roles` from the account of `id`; returns those it held. An officer left
/// with no role loses every personal token too.
pub fn revoke(
    conn: &mut DbConnection,
    id: &NationalId,
    roles: &Roles,
    by: &str,
    now: NaiveDateTime,
) -> Result<Vec<Role>, OfficerError> {
    storage::transaction(conn, |conn| {
        let account = accounts::find_by_national_id(conn, id)?.ok_or(OfficerError::NoAccount)?;
        let mut revoked = Vec::new();
        for role in roles.iter() {
            if stored::revoke(conn, &account.id, role)? {
                revoked.push(role);
                audit(conn, id, "officer_role_revoked", role, by, now)?;
            }
        }
        if stored::roles_of(conn, &account.id)?.is_empty() {
            stored::revoke_all_tokens(conn, &account.id, now)?;
        }
        Ok(revoked)
    })
}

/// Every officer's roles.
pub fn list(conn: &mut DbConnection) -> Result<Vec<Grant>, StorageError> {
    stored::all_grants(conn)
}

fn audit(
    conn: &mut DbConnection,
    id: &NationalId,
    outcome: &'static str,
    role: Role,
    by: &str,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    let event = Event::new(Kind::Admin, outcome, now)
        .citizen(id.clone())
        .detail(format!("role={role} by={by}"));
    audit_events::append(conn, &[event.into_row()]).map(|_| ())
}
