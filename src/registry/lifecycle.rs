//! Life events and account decisions that reach identity at once: a death recorded in
//! the register (by hand or by an import), an account suspended, locked or unlocked.
//!
//! Every SSO answer, token exchange and userinfo call asks the register again (see
//! [`super::check_eligible`]), so the change takes effect on the next request. Relying
//! parties must hear of it too: a change that stops the citizen from signing in also
//! writes an `account_logouts` row, in the same transaction, and a server's logout
//! worker ends the account's sessions and sends their back-channel logout tokens (see
//! `oidc::logout::outbox`). Each change and its audit row are written in one
//! transaction, so there is never a change without its record.

use chrono::NaiveDateTime;

use super::assurance::Decision;
use crate::audit::{Event, Kind};
use crate::domain::citizen::{AccountStatus, LifeStatus};
use crate::domain::national_id::NationalId;
use crate::notify::{self, Language, Notice};
use crate::storage::citizens::UpsertCounts;
use crate::storage::{
    self, DbConnection, StorageError, accounts, audit_events, citizens, logout_outbox,
};

/// Why an account's sessions end, in the `account_logouts` row and the audit trail.
pub mod logout_reason {
    pub const SUSPENDED: &str = "account_suspended";
    pub const LOCKED: &str = "account_locked";
    pub const LEVEL_LOWERED: &str = "level_lowered";
    pub const DECEASED: &str = "citizen_deceased";
}

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("no citizen with this number in the register")]
    UnknownCitizen,
    #[error("this citizen has no e-ID account")]
    NoAccount,
    #[error("the account is {0}, not {1}")]
    WrongState(&'static str, &'static str),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Who made an administrative change, for the audit trail (e.g. "cli").
pub struct Actor<'a>(pub &'a str);

pub fn set_life_status(
    conn: &mut DbConnection,
    id: &NationalId,
    status: LifeStatus,
    actor: Actor<'_>,
    now: NaiveDateTime,
) -> Result<(), LifecycleError> {
    storage::transaction(conn, |conn| {
        if !citizens::set_life_status(conn, id, status, now)? {
            return Err(LifecycleError::UnknownCitizen);
        }
        if status == LifeStatus::Deceased
            && let Some(account) = accounts::find_by_national_id(conn, id)?
        {
            logout_outbox::request_account_logout(conn, &account.id, logout_reason::DECEASED, now)?;
        }
        let event = Event::new(Kind::Admin, "life_status_changed", now)
            .citizen(id.clone())
            .detail(format!("life_status={} by={}", status.as_str(), actor.0));
        audit_events::append(conn, &[event.into_row()])?;
        Ok(())
    })
}

/// What an operator asks of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAction {
    Suspend,
    Reinstate,
    Lock,
    Unlock,
}

impl AccountAction {
    /// The status the action requires first (if any) and the status it sets.
    fn transition(self) -> (Option<AccountStatus>, AccountStatus) {
        match self {
            AccountAction::Suspend => (None, AccountStatus::Suspended),
            AccountAction::Reinstate => (Some(AccountStatus::Suspended), AccountStatus::Active),
            AccountAction::Lock => (Some(AccountStatus::Active), AccountStatus::Locked),
            AccountAction::Unlock => (Some(AccountStatus::Locked), AccountStatus::Active),
        }
    }
}

/// Applies `action` to the account of `id`; returns the status before and after.
/// `decision` (who decided and why) goes to the audit trail when given.
pub fn change_account(
    conn: &mut DbConnection,
    id: &NationalId,
    action: AccountAction,
    actor: Actor<'_>,
    decision: Option<&Decision<'_>>,
    now: NaiveDateTime,
) -> Result<(AccountStatus, AccountStatus), LifecycleError> {
    storage::transaction(conn, |conn| {
        let account = accounts::find_by_national_id(conn, id)?.ok_or(LifecycleError::NoAccount)?;
        let (required, next) = action.transition();
        if let Some(required) = required.filter(|r| *r != account.status) {
            return Err(LifecycleError::WrongState(
                account.status.as_str(),
                required.as_str(),
            ));
        }
        accounts::set_status(conn, id, next, now)?;
        let mut detail = format!(
            "status={}->{} by={}",
            account.status.as_str(),
            next.as_str(),
            actor.0
        );
        if let Some(decision) = decision {
            detail.push_str(&format!(
                " officer={} reason={}",
                decision.officer.trim(),
                decision.reason.trim()
            ));
        }
        let event = Event::new(Kind::Admin, "account_status_changed", now)
            .citizen(id.clone())
            .detail(detail);
        audit_events::append(conn, &[event.into_row()])?;
        let reason = match next {
            AccountStatus::Suspended => Some(logout_reason::SUSPENDED),
            AccountStatus::Locked => Some(logout_reason::LOCKED),
            AccountStatus::Active => None,
        };
        if let Some(reason) = reason {
            logout_outbox::request_account_logout(conn, &account.id, reason, now)?;
        }
        // An officer's act has no page language: the citizen is told in Vietnamese.
        let notice = match next {
            AccountStatus::Locked => Some(Notice::Locked),
            AccountStatus::Suspended => Some(Notice::Suspended),
            AccountStatus::Active => None,
        };
        if let Some(notice) = notice {
            notify::queue_notice(conn, &account.id, &notice, Language::Vi, now.and_utc())?;
        }
        Ok((account.status, next))
    })
}

/// Upserts one batch of an import (see `registry::import`), and asks the servers to
/// end the sessions of every citizen with an account the batch records as deceased,
/// all in one transaction. Only deaths that are new count: a re-import of a citizen
/// already recorded as deceased changes nothing.
pub fn import_batch(
    conn: &mut DbConnection,
    batch: &[crate::domain::citizen::Citizen],
    write: bool,
    now: NaiveDateTime,
) -> Result<UpsertCounts, StorageError> {
    if !write {
        return citizens::upsert_batch(conn, batch, false);
    }
    let deceased: Vec<&str> = batch
        .iter()
        .filter(|c| c.life_status == LifeStatus::Deceased)
        .map(|c| c.national_id.expose())
        .collect();
    storage::transaction(conn, |conn| {
        let were_living = logout_outbox::accounts_of_living(conn, &deceased)?;
        let counts = citizens::upsert_batch(conn, batch, true)?;
        // The upsert keeps a stored record that is newer than the file's.
        for account_id in logout_outbox::accounts_of_deceased(conn, &were_living)? {
            logout_outbox::request_account_logout(conn, &account_id, logout_reason::DECEASED, now)?;
        }
        Ok(counts)
    })
}
