//! An officer's work on one citizen's account: the look-up (audited as a disclosure, so
//! that it shows in the citizen's access history), removing lost factors, handing out
//! a recovery code in person, and ending the account's sessions. Level and status
//! changes are `registry::assurance` and `registry::lifecycle`, called with the officer
//! as the actor.

use chrono::NaiveDateTime;

use super::OfficerError;
use crate::audit::{Event, Kind};
use crate::authn::recovery_codes::{self, RecoveryCode};
use crate::domain::citizen::Citizen;
use crate::domain::national_id::NationalId;
use crate::domain::officer::Roles;
use crate::notify::{self, Authenticator, Language, Notice};
use crate::storage::accounts::Account;
use crate::storage::audit_events::AuditEvent;
use crate::storage::contacts::StoredContact;
use crate::storage::{
    self, DbConnection, accounts, audit_events, citizens, contacts, logout_outbox, officers,
    passkeys, recovery_codes as stored_codes, second_factors,
};

/// The audit outcome of a look-up; the account pages show it in the access history.
pub const LOOKUP: &str = "officer_lookup";
/// Why an officer ended an account's sessions, in `account_logouts` and the trail.
pub const SESSIONS_ENDED: &str = "officer_ended_sessions";
/// The events a case file shows.
const EVENTS: i64 = 20;
/// The events an auditor's reading of a trail shows, newest first.
const TRAIL: i64 = 1000;

/// What an officer sees of an account: its state, authenticators (kinds and dates,
/// never secrets), contacts (masked), roles and the latest events of its trail.
pub struct CaseFile {
    pub national_id: NationalId,
    pub account: Account,
    pub citizen: Option<Citizen>,
    pub totp_since: Vec<NaiveDateTime>,
    pub passkeys: Vec<(String, NaiveDateTime)>,
    pub recovery_codes_left: usize,
    pub contacts: Vec<StoredContact>,
    pub roles: Roles,
    pub events: Vec<AuditEvent>,
}

/// Reads the case file of `id` for `by`, and records the look-up in the same
/// transaction: no officer reads an account without the citizen being able to see it.
pub fn look_up(
    conn: &mut DbConnection,
    id: &NationalId,
    by: &str,
    now: NaiveDateTime,
) -> Result<CaseFile, OfficerError> {
    audited_read(conn, id, by, now, EVENTS)
}

/// [`look_up`] with the latest [`TRAIL`] events: an auditor's reading of the trail.
pub fn trail(
    conn: &mut DbConnection,
    id: &NationalId,
    by: &str,
    now: NaiveDateTime,
) -> Result<CaseFile, OfficerError> {
    audited_read(conn, id, by, now, TRAIL)
}

/// Whether the account of `id` is `account_id`: an officer does not act on their own.
pub fn account_of_is(
    conn: &mut DbConnection,
    id: &NationalId,
    account_id: &str,
) -> Result<bool, OfficerError> {
    Ok(accounts::find_by_national_id(conn, id)?.is_some_and(|a| a.id == account_id))
}

fn audited_read(
    conn: &mut DbConnection,
    id: &NationalId,
    by: &str,
    now: NaiveDateTime,
    events: i64,
) -> Result<CaseFile, OfficerError> {
    storage::transaction(conn, |conn| {
        let account = accounts::find_by_national_id(conn, id)?.ok_or(OfficerError::NoAccount)?;
        let event = Event::new(Kind::Disclosure, LOOKUP, now)
            .citizen(id.clone())
            .detail(format!("by={by}"));
        audit_events::append(conn, &[event.into_row()])?;
        read(conn, id, account, events)
    })
}

fn read(
    conn: &mut DbConnection,
    id: &NationalId,
    account: Account,
    events: i64,
) -> Result<CaseFile, OfficerError> {
    let totp_since = second_factors::for_account(conn, &account.id)?
        .into_iter()
        .map(|f| f.created_at)
        .collect();
    let passkeys = passkeys::for_account(conn, &account.id)?
        .into_iter()
        .map(|p| (p.name, p.created_at))
        .collect();
    Ok(CaseFile {
        national_id: id.clone(),
        citizen: citizens::find(conn, id)?,
        totp_since,
        passkeys,
        recovery_codes_left: stored_codes::unused(conn, &account.id)?.len(),
        contacts: contacts::of_account(conn, &account.id)?,
        roles: officers::roles_of(conn, &account.id)?,
        events: audit_events::recent_for_citizen(conn, id.expose(), events)?,
        account,
    })
}

/// Removes every second factor of the account (the citizen lost them, and proved who
/// they are at the counter) with its recovery codes; returns how many went. The
/// citizen is told through the proven contacts.
pub fn reset_factors(
    conn: &mut DbConnection,
    id: &NationalId,
    by: &str,
    now: NaiveDateTime,
) -> Result<usize, OfficerError> {
    storage::transaction(conn, |conn| {
        let account = accounts::find_by_national_id(conn, id)?.ok_or(OfficerError::NoAccount)?;
        let had_totp = !second_factors::for_account(conn, &account.id)?.is_empty();
        let had_passkey = passkeys::any(conn, &account.id)?;
        let removed = second_factors::delete_all(conn, &account.id)?;
        let event = Event::new(Kind::Admin, "factors_reset", now)
            .citizen(id.clone())
            .detail(format!("removed={removed} by={by}"));
        audit_events::append(conn, &[event.into_row()])?;
        let told = [
            (had_totp, Authenticator::App),
            (had_passkey, Authenticator::Passkey),
        ];
        for (_, kind) in told.into_iter().filter(|(had, _)| *had) {
            let notice = Notice::FactorRemoved(kind);
            notify::queue_notice(conn, &account.id, &notice, Language::Vi, now.and_utc())?;
        }
        Ok(removed)
    })
}

/// One recovery code, to hand to the citizen in person, replacing the account's codes.
/// Only for an account with a second factor: the code stands in for it at the next
/// login, as the codes shown at enrolment do.
pub fn recovery_code(
    conn: &mut DbConnection,
    id: &NationalId,
    by: &str,
    now: NaiveDateTime,
) -> Result<RecoveryCode, OfficerError> {
    let code = recovery_codes::generate()
        .and_then(|codes| codes.into_iter().next())
        .ok_or_else(|| OfficerError::Invalid("the random generator failed".into()))?;
    let digest = recovery_codes::digest(code.expose())
        .ok_or_else(|| OfficerError::Invalid("a code could not be digested".into()))?;
    storage::transaction(conn, |conn| {
        let account = accounts::find_by_national_id(conn, id)?.ok_or(OfficerError::NoAccount)?;
        if !stored_codes::account_has_factor(conn, &account.id)? {
            return Err(OfficerError::Invalid(
                "the account has no second factor, so it needs no recovery code".into(),
            ));
        }
        stored_codes::replace(conn, &account.id, &[digest], now)?;
        let event = Event::new(Kind::Admin, "recovery_code_issued", now)
            .citizen(id.clone())
            .detail(format!("by={by}"));
        audit_events::append(conn, &[event.into_row()])?;
        notify::queue_notice(
            conn,
            &account.id,
            &Notice::RecoveryCodesRenewed,
            Language::Vi,
            now.and_utc(),
        )?;
        Ok(code)
    })
}

/// Ends every session of the account: the servers' logout workers end them and tell
/// the relying parties (back-channel logout).
pub fn end_sessions(
    conn: &mut DbConnection,
    id: &NationalId,
    by: &str,
    now: NaiveDateTime,
) -> Result<(), OfficerError> {
    storage::transaction(conn, |conn| {
        let account = accounts::find_by_national_id(conn, id)?.ok_or(OfficerError::NoAccount)?;
        logout_outbox::request_account_logout(conn, &account.id, SESSIONS_ENDED, now)?;
        let event = Event::new(Kind::Admin, "sessions_ended", now)
            .citizen(id.clone())
            .detail(format!("by={by}"));
        audit_events::append(conn, &[event.into_row()])?;
        Ok::<_, OfficerError>(())
    })
}

impl From<crate::registry::lifecycle::LifecycleError> for OfficerError {
    fn from(e: crate::registry::lifecycle::LifecycleError) -> Self {
        use crate::registry::lifecycle::LifecycleError as L;
        match e {
            L::UnknownCitizen | L::NoAccount => OfficerError::NoAccount,
            L::WrongState(..) => OfficerError::Invalid(e.to_string()),
            L::Storage(e) => OfficerError::Storage(e),
        }
    }
}
