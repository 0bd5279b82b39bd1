//! An officer's decision on an account's assurance level: level 2 after verifying the
//! citizen in person (ID card in hand), or back to level 1. The change and its audit row
//! (who, which officer, why) are written in one transaction.
//!
//! A raised level reaches sessions at the next login, or the next step-up a client asks
//! for. A lowered level ends every session of the account (an `account_logouts` row,
//! written in the same transaction; see `registry::lifecycle`), and the relying parties
//! they signed in to get their back-channel logout tokens.

use chrono::NaiveDateTime;

use super::lifecycle::{Actor, LifecycleError};
use crate::audit::{Event, Kind};
use crate::domain::acr::AssuranceLevel;
use crate::domain::national_id::NationalId;
use crate::notify::{self, Language, Notice};
use crate::storage::{self, DbConnection, accounts, audit_events, logout_outbox};

/// Longest officer id and reason kept in the audit trail.
pub const MAX_OFFICER_LEN: usize = 64;
pub const MAX_REASON_LEN: usize = 500;

/// Who decided and why; both required, both go to the audit trail.
pub struct Decision<'a> {
    pub officer: &'a str,
    pub reason: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error("officer must be 1 to {MAX_OFFICER_LEN} visible characters")]
    Officer,
    #[error("reason must be 1 to {MAX_REASON_LEN} characters")]
    Reason,
}

impl Decision<'_> {
    pub fn check(&self) -> Result<(), DecisionError> {
        let officer = self.officer.trim();
        // Characters, as the OpenAPI schema counts them; no control characters (a NUL
        // would fail on PostgreSQL, a line break would forge audit lines).
        if officer.is_empty()
            || officer.chars().count() > MAX_OFFICER_LEN
            || officer.chars().any(char::is_control)
        {
            return Err(DecisionError::Officer);
        }
        let reason = self.reason.trim();
        if reason.is_empty()
            || reason.chars().count() > MAX_REASON_LEN
            || reason.chars().any(char::is_control)
        {
            return Err(DecisionError::Reason);
        }
        Ok(())
    }
}

/// Sets the level of the account of `id`; returns the level before and after.
pub fn set_level(
    conn: &mut DbConnection,
    id: &NationalId,
    level: AssuranceLevel,
    decision: &Decision<'_>,
    actor: Actor<'_>,
    now: NaiveDateTime,
) -> Result<(AssuranceLevel, AssuranceLevel), LifecycleError> {
    storage::transaction(conn, |conn| {
        let account = accounts::find_by_national_id(conn, id)?.ok_or(LifecycleError::NoAccount)?;
        accounts::set_level(conn, id, level, now)?;
        let event = Event::new(Kind::Admin, "assurance_level_changed", now)
            .citizen(id.clone())
            .detail(format!(
                "level={}->{} by={} officer={} reason={}",
                account.assurance_level.number(),
                level.number(),
                actor.0,
                decision.officer.trim(),
                decision.reason.trim(),
            ));
        audit_events::append(conn, &[event.into_row()])?;
        if level != account.assurance_level {
            let notice = Notice::LevelChanged {
                level: level.number(),
            };
            notify::queue_notice(conn, &account.id, &notice, Language::Vi, now.and_utc())?;
        }
        if level < account.assurance_level {
            logout_outbox::request_account_logout(
                conn,
                &account.id,
                super::lifecycle::logout_reason::LEVEL_LOWERED,
                now,
            )?;
        }
        Ok((account.assurance_level, level))
    })
}
