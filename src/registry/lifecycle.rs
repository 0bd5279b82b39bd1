//! Life events and account decisions that reach identity at once: a death recorded in
//! the register, an account suspended, locked or unlocked.
//!
//! Nothing needs to be pushed to sessions or tokens: every SSO answer, token exchange
//! and userinfo call asks the register again (see [`super::check_eligible`]), so the
//! change takes effect on the next request. Each change and its audit row are written
//! in one transaction, so there is never a change without its record.

use chrono::NaiveDateTime;

use crate::audit::{Event, Kind};
use crate::domain::citizen::{AccountStatus, LifeStatus};
use crate::domain::national_id::NationalId;
use crate::storage::{self, DbConnection, StorageError, accounts, audit_events, citizens};

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

pub fn change_account(
    conn: &mut DbConnection,
    id: &NationalId,
    action: AccountAction,
    actor: Actor<'_>,
    now: NaiveDateTime,
) -> Result<AccountStatus, LifecycleError> {
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
        let event = Event::new(Kind::Admin, "account_status_changed", now)
            .citizen(id.clone())
            .detail(format!(
                "status={}->{} by={}",
                account.status.as_str(),
                next.as_str(),
                actor.0
            ));
        audit_events::append(conn, &[event.into_row()])?;
        Ok(next)
    })
}
