//! The `audit_events` table. Rows are only ever inserted; the database refuses updates
//! and deletes (triggers in the migrations).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::per_backend;
use super::schema::audit_events;
use super::{DbConnection, StorageError};

/// One audit row, as written. A `None` is written as NULL rather than as the column's
/// DEFAULT (the same here, no column has another): SQLite has no DEFAULT in a VALUES
/// list, so diesel would insert a group of rows one statement at a time.
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
pub struct NewAuditEvent {
    pub at: NaiveDateTime,
    pub kind: String,
    pub outcome: String,
    pub national_id: Option<String>,
    pub client_id: Option<String>,
    /// Space-separated claim names, never values.
    pub claims: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

/// One audit row, as read back.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub at: NaiveDateTime,
    pub kind: String,
    pub outcome: String,
    pub national_id: Option<String>,
    pub client_id: Option<String>,
    pub claims: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

/// Inserts `events` with one multi-row statement: on both backends, the group commits
/// or fails as a whole, in one transaction (its own, or the caller's).
pub fn append(conn: &mut DbConnection, events: &[NewAuditEvent]) -> Result<usize, StorageError> {
    Ok(per_backend!(conn, |c| diesel::insert_into(
        audit_events::table
    )
    .values(events)
    .execute(c))?)
}

/// The history of one citizen, oldest first.
pub fn for_citizen(
    conn: &mut DbConnection,
    national_id: &str,
) -> Result<Vec<AuditEvent>, StorageError> {
    Ok(audit_events::table
        .filter(audit_events::national_id.eq(national_id))
        .order((audit_events::at.asc(), audit_events::id.asc()))
        .select(AuditEvent::as_select())
        .load(conn)?)
}

/// The latest `limit` releases of one citizen's data, newest first (the access history
/// of the account pages).
pub fn disclosures_for_citizen(
    conn: &mut DbConnection,
    national_id: &str,
    limit: i64,
) -> Result<Vec<AuditEvent>, StorageError> {
    Ok(audit_events::table
        .filter(audit_events::national_id.eq(national_id))
        .filter(audit_events::kind.eq("disclosure"))
        .order((audit_events::at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)?)
}

/// The latest `limit` events of one citizen of `kind` with one of `outcomes`, newest
/// first (the security events of the account pages: factors added and removed).
pub fn latest_for_citizen(
    conn: &mut DbConnection,
    national_id: &str,
    kind: &str,
    outcomes: &[&str],
    limit: i64,
) -> Result<Vec<AuditEvent>, StorageError> {
    Ok(audit_events::table
        .filter(audit_events::national_id.eq(national_id))
        .filter(audit_events::kind.eq(kind))
        .filter(audit_events::outcome.eq_any(outcomes))
        .order((audit_events::at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)?)
}

/// The latest `limit` events of one citizen, of every kind, newest first (the case
/// file of the officer console).
pub fn recent_for_citizen(
    conn: &mut DbConnection,
    national_id: &str,
    limit: i64,
) -> Result<Vec<AuditEvent>, StorageError> {
    Ok(audit_events::table
        .filter(audit_events::national_id.eq(national_id))
        .order((audit_events::at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)?)
}
