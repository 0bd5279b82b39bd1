//! The logout outbox: `logout_deliveries` (back-channel logout tokens waiting to be
//! sent) and `account_logouts` (requests to end every session of an account). Rows are
//! written in the transaction of the change that causes them; the servers' workers
//! (`oidc::logout::outbox`) take them from here.
//!
//! Several instances share these tables, so a row is taken by a *claim*: a SELECT
//! picks due rows that nobody holds (or whose holder's lease ran out), then one UPDATE
//! sets `claimed_by` and a lease (`claimed_until`) on those of them that are still
//! free, repeating the conditions in its own WHERE, and returns the rows it changed.
//! Another instance that picked the same rows meanwhile finds them taken: on PostgreSQL
//! its UPDATE waits for the first one's row locks and then re-checks the WHERE against
//! the committed rows (READ COMMITTED), and SQLite runs one writer at a time. Every
//! later change of a claimed row names its holder, so an instance whose lease ran out
//! cannot overwrite what the next holder did. This works the same on both backends,
//! without `FOR UPDATE SKIP LOCKED` (which SQLite lacks).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::per_backend;
use super::schema::{account_logouts, accounts, citizens, clients, logout_deliveries};
use super::{DbConnection, StorageError};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    /// The relying party answered 2xx.
    Delivered,
    /// The relying party answered 4xx: retrying the same request cannot help.
    Refused,
    /// Every attempt failed (5xx, timeout, connection), or the token could not be signed.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Refused => "refused",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// A logout token to send, as queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub client_id: String,
    pub uri: String,
    /// The subject as this relying party knows it (pairwise or public).
    pub sub: String,
    pub sid: String,
    pub alg: String,
    /// The citizen, for the audit row of the outcome only.
    pub national_id: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = logout_deliveries)]
struct DeliveryRow<'a> {
    client_id: &'a str,
    uri: &'a str,
    sub: &'a str,
    sid: &'a str,
    alg: &'a str,
    national_id: Option<&'a str>,
    status: &'static str,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

/// A claimed delivery.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = logout_deliveries)]
pub struct Delivery {
    pub id: i64,
    pub client_id: String,
    pub uri: String,
    pub sub: String,
    pub sid: String,
    pub alg: String,
    pub national_id: Option<String>,
    /// Attempts already made (by any instance).
    pub attempts: i32,
}

/// One delivery as it stands, for operators and tests.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = logout_deliveries)]
pub struct DeliveryState {
    pub id: i64,
    pub client_id: String,
    pub sid: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_by: Option<String>,
    pub last_error: Option<String>,
    pub finished_at: Option<NaiveDateTime>,
}

/// Queues `deliveries`, due at once. Those whose client was deleted meanwhile are
/// dropped (there is no one left to tell). Returns how many were queued.
pub fn enqueue(
    conn: &mut DbConnection,
    deliveries: &[NewDelivery],
    now: NaiveDateTime,
) -> Result<usize, StorageError> {
    if deliveries.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&str> = deliveries.iter().map(|d| d.client_id.as_str()).collect();
    let existing: Vec<String> = clients::table
        .filter(clients::client_id.eq_any(&ids))
        .select(clients::client_id)
        .load(conn)?;
    let rows: Vec<DeliveryRow<'_>> = deliveries
        .iter()
        .filter(|d| existing.contains(&d.client_id))
        .map(|d| DeliveryRow {
            client_id: &d.client_id,
            uri: &d.uri,
            sub: &d.sub,
            sid: &d.sid,
            alg: &d.alg,
            national_id: d.national_id.as_deref(),
            status: DeliveryStatus::Pending.as_str(),
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
        })
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(per_backend!(conn, |c| diesel::insert_into(
        logout_deliveries::table
    )
    .values(&rows)
    .execute(c))?)
}

/// Claims up to `limit` pending deliveries due at `now` for `worker`, until
/// `lease_until`; the oldest first.
pub fn claim_due(
    conn: &mut DbConnection,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Delivery>, StorageError> {
    use logout_deliveries::dsl as d;
    let due: Vec<i64> = d::logout_deliveries
        .select(d::id)
        .filter(d::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(d::next_attempt_at.le(now))
        .filter(d::claimed_until.is_null().or(d::claimed_until.lt(now)))
        .order((d::next_attempt_at.asc(), d::id.asc()))
        .limit(limit)
        .load(conn)?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let claim = diesel::update(
        d::logout_deliveries
            .filter(d::id.eq_any(&due))
            .filter(d::status.eq(DeliveryStatus::Pending.as_str()))
            .filter(d::claimed_until.is_null().or(d::claimed_until.lt(now))),
    )
    .set((d::claimed_by.eq(worker), d::claimed_until.eq(lease_until)));
    Ok(per_backend!(conn, |c| claim
        .returning(Delivery::as_returning())
        .get_results(c))?)
}

/// Records a failed attempt of a delivery `worker` holds: the attempts so far, when the
/// next is due, and the lease that covers the wait. False if the row is no longer its.
pub fn record_attempt(
    conn: &mut DbConnection,
    id: i64,
    worker: &str,
    attempts: i32,
    last_error: &str,
    next_attempt_at: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> Result<bool, StorageError> {
    use logout_deliveries::dsl as d;
    let updated = diesel::update(
        d::logout_deliveries
            .filter(d::id.eq(id))
            .filter(d::claimed_by.eq(worker))
            .filter(d::status.eq(DeliveryStatus::Pending.as_str())),
    )
    .set((
        d::attempts.eq(attempts),
        d::last_error.eq(last_error),
        d::next_attempt_at.eq(next_attempt_at),
        d::claimed_until.eq(lease_until),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Ends a delivery `worker` holds with `status`. False if the row is no longer its
/// (another instance took it over after the lease ran out, and will record its own).
pub fn finish(
    conn: &mut DbConnection,
    id: i64,
    worker: &str,
    status: DeliveryStatus,
    attempts: i32,
    last_error: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    use logout_deliveries::dsl as d;
    let updated = diesel::update(
        d::logout_deliveries
            .filter(d::id.eq(id))
            .filter(d::claimed_by.eq(worker))
            .filter(d::status.eq(DeliveryStatus::Pending.as_str())),
    )
    .set((
        d::status.eq(status.as_str()),
        d::attempts.eq(attempts),
        d::last_error.eq(last_error),
        d::finished_at.eq(now),
        d::claimed_by.eq(None::<String>),
        d::claimed_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Gives back every row `worker` holds (it is stopping): another instance, or this one
/// after a restart, takes them when they are due.
pub fn release(conn: &mut DbConnection, worker: &str) -> Result<usize, StorageError> {
    let deliveries = diesel::update(
        logout_deliveries::table
            .filter(logout_deliveries::claimed_by.eq(worker))
            .filter(logout_deliveries::status.eq(DeliveryStatus::Pending.as_str())),
    )
    .set((
        logout_deliveries::claimed_by.eq(None::<String>),
        logout_deliveries::claimed_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    let requests =
        diesel::update(account_logouts::table.filter(account_logouts::claimed_by.eq(worker)))
            .set((
                account_logouts::claimed_by.eq(None::<String>),
                account_logouts::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
    Ok(deliveries + requests)
}

/// Deletes the deliveries that finished before `before`; returns how many.
pub fn purge_finished(
    conn: &mut DbConnection,
    before: NaiveDateTime,
) -> Result<usize, StorageError> {
    Ok(diesel::delete(
        logout_deliveries::table
            .filter(logout_deliveries::status.ne(DeliveryStatus::Pending.as_str()))
            .filter(logout_deliveries::finished_at.lt(before)),
    )
    .execute(conn)?)
}

/// Every delivery, oldest first (operators' and tests' view).
pub fn all(conn: &mut DbConnection) -> Result<Vec<DeliveryState>, StorageError> {
    Ok(logout_deliveries::table
        .order(logout_deliveries::id.asc())
        .select(DeliveryState::as_select())
        .load(conn)?)
}

/// A request to end every session of an account.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = account_logouts)]
pub struct AccountLogout {
    pub id: i64,
    pub account_id: String,
    /// Why, for the audit trail: `account_suspended`, `account_locked`,
    /// `level_lowered`, `citizen_deceased`.
    pub reason: String,
}

/// Asks the servers to end every session of `account_id`.
pub fn request_account_logout(
    conn: &mut DbConnection,
    account_id: &str,
    reason: &str,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    diesel::insert_into(account_logouts::table)
        .values((
            account_logouts::account_id.eq(account_id),
            account_logouts::reason.eq(reason),
            account_logouts::requested_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Claims up to `limit` requests nobody holds for `worker`, until `lease_until`.
pub fn claim_account_logouts(
    conn: &mut DbConnection,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<AccountLogout>, StorageError> {
    use account_logouts::dsl as a;
    let free: Vec<i64> = a::account_logouts
        .select(a::id)
        .filter(a::claimed_until.is_null().or(a::claimed_until.lt(now)))
        .order(a::id.asc())
        .limit(limit)
        .load(conn)?;
    if free.is_empty() {
        return Ok(Vec::new());
    }
    let claim = diesel::update(
        a::account_logouts
            .filter(a::id.eq_any(&free))
            .filter(a::claimed_until.is_null().or(a::claimed_until.lt(now))),
    )
    .set((a::claimed_by.eq(worker), a::claimed_until.eq(lease_until)));
    Ok(per_backend!(conn, |c| claim
        .returning(AccountLogout::as_returning())
        .get_results(c))?)
}

/// Deletes a request `worker` holds, once its sessions have ended. False if it is no
/// longer its.
pub fn complete_account_logout(
    conn: &mut DbConnection,
    id: i64,
    worker: &str,
) -> Result<bool, StorageError> {
    let deleted = diesel::delete(
        account_logouts::table
            .filter(account_logouts::id.eq(id))
            .filter(account_logouts::claimed_by.eq(worker)),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}

/// The requests not yet taken by a server (operators' and tests' view).
pub fn pending_account_logouts(conn: &mut DbConnection) -> Result<i64, StorageError> {
    Ok(account_logouts::table.count().get_result(conn)?)
}

/// The accounts of those of `national_ids` the register holds as living: an import that records their death must end their sessions.
pub fn accounts_of_living(
    conn: &mut DbConnection,
    national_ids: &[&str],
) -> Result<Vec<String>, StorageError> {
    if national_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(accounts::table
        .inner_join(citizens::table)
        .filter(citizens::national_id.eq_any(national_ids))
        .filter(citizens::life_status.eq("living"))
        .select(accounts::id)
        .load(conn)?)
}

/// Those of `account_ids` whose citizen the register holds as deceased.
pub fn accounts_of_deceased(
    conn: &mut DbConnection,
    account_ids: &[String],
) -> Result<Vec<String>, StorageError> {
    if account_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(accounts::table
        .inner_join(citizens::table)
        .filter(accounts::id.eq_any(account_ids))
        .filter(citizens::life_status.eq("deceased"))
        .select(accounts::id)
        .load(conn)?)
}
