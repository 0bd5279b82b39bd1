//! The notification outbox: `notifications`, one message to a citizen's phone or
//! e-mail waiting to be sent. Rows are written in the transaction of what causes them;
//! the servers' workers (`notify::worker`) take them from here, with the same claim
//! and lease as the logout outbox (see `storage::logout_outbox`), so that several
//! instances never send one message twice while each lives.
//!
//! A message may carry a one-time code, so a row holds a secret until it is finished:
//! finishing it blanks the recipient and the text, and a code is never sent after its
//! `expires_at`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::per_backend;
use super::schema::notifications;
use super::{DbConnection, StorageError};
use crate::domain::contact::Channel;

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    Pending,
    /// The relay or gateway took it.
    Sent,
    /// The relay or gateway refused it for good (a rejected address, a 4xx).
    Refused,
    /// Every attempt failed.
    Failed,
    /// Its code expired before it could be sent.
    Expired,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Sent => "sent",
            MessageStatus::Refused => "refused",
            MessageStatus::Failed => "failed",
            MessageStatus::Expired => "expired",
        }
    }
}

/// A message to queue, already in the citizen's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub account_id: Option<String>,
    pub channel: Channel,
    pub recipient: String,
    /// What the message is about (`contact_code`, `password_changed`, …), for
    /// operators: it names no data.
    pub kind: &'static str,
    pub subject: String,
    pub body: String,
    /// After this, the message is worthless (it carries a code that expired).
    pub expires_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = notifications)]
struct MessageRow<'a> {
    account_id: Option<&'a str>,
    channel: &'static str,
    recipient: &'a str,
    kind: &'static str,
    subject: &'a str,
    body: &'a str,
    status: &'static str,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

/// A claimed message.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct Message {
    pub id: i64,
    pub channel: String,
    pub recipient: String,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub expires_at: Option<NaiveDateTime>,
    /// Attempts already made (by any instance).
    pub attempts: i32,
}

/// One message as it stands, for operators and tests.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct MessageState {
    pub id: i64,
    pub account_id: Option<String>,
    pub channel: String,
    pub recipient: String,
    pub kind: String,
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub claimed_by: Option<String>,
    pub last_error: Option<String>,
    pub finished_at: Option<NaiveDateTime>,
}

/// Queues `messages`, due at once; returns how many.
pub fn enqueue(
    conn: &mut DbConnection,
    messages: &[NewMessage],
    now: NaiveDateTime,
) -> Result<usize, StorageError> {
    if messages.is_empty() {
        return Ok(0);
    }
    let rows: Vec<MessageRow<'_>> = messages
        .iter()
        .map(|m| MessageRow {
            account_id: m.account_id.as_deref(),
            channel: m.channel.as_str(),
            recipient: &m.recipient,
            kind: m.kind,
            subject: &m.subject,
            body: &m.body,
            status: MessageStatus::Pending.as_str(),
            attempts: 0,
            next_attempt_at: now,
            expires_at: m.expires_at,
            created_at: now,
        })
        .collect();
    Ok(per_backend!(conn, |c| diesel::insert_into(
        notifications::table
    )
    .values(&rows)
    .execute(c))?)
}

/// Claims up to `limit` pending messages due at `now` for `worker`, until
/// `lease_until`; the oldest first.
pub fn claim_due(
    conn: &mut DbConnection,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<Message>, StorageError> {
    use notifications::dsl as n;
    let due: Vec<i64> = n::notifications
        .select(n::id)
        .filter(n::status.eq(MessageStatus::Pending.as_str()))
        .filter(n::next_attempt_at.le(now))
        .filter(n::claimed_until.is_null().or(n::claimed_until.lt(now)))
        .order((n::next_attempt_at.asc(), n::id.asc()))
        .limit(limit)
        .load(conn)?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let claim = diesel::update(
        n::notifications
            .filter(n::id.eq_any(&due))
            .filter(n::status.eq(MessageStatus::Pending.as_str()))
            .filter(n::claimed_until.is_null().or(n::claimed_until.lt(now))),
    )
    .set((n::claimed_by.eq(worker), n::claimed_until.eq(lease_until)));
    Ok(per_backend!(conn, |c| claim
        .returning(Message::as_returning())
        .get_results(c))?)
}

/// Records a failed attempt of a message `worker` holds and gives the row back, due
/// again at `next_attempt_at` for whichever instance is free then. False if it is no
/// longer its.
pub fn record_attempt(
    conn: &mut DbConnection,
    id: i64,
    worker: &str,
    attempts: i32,
    last_error: &str,
    next_attempt_at: NaiveDateTime,
) -> Result<bool, StorageError> {
    use notifications::dsl as n;
    let updated = diesel::update(
        n::notifications
            .filter(n::id.eq(id))
            .filter(n::claimed_by.eq(worker))
            .filter(n::status.eq(MessageStatus::Pending.as_str())),
    )
    .set((
        n::attempts.eq(attempts),
        n::last_error.eq(last_error),
        n::next_attempt_at.eq(next_attempt_at),
        n::claimed_by.eq(None::<String>),
        n::claimed_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Ends a message `worker` holds with `status`, blanking its recipient and text (a
/// code in it must not outlive its use). False if the row is no longer its.
pub fn finish(
    conn: &mut DbConnection,
    id: i64,
    worker: &str,
    status: MessageStatus,
    attempts: i32,
    last_error: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    use notifications::dsl as n;
    let updated = diesel::update(
        n::notifications
            .filter(n::id.eq(id))
            .filter(n::claimed_by.eq(worker))
            .filter(n::status.eq(MessageStatus::Pending.as_str())),
    )
    .set((
        n::status.eq(status.as_str()),
        n::attempts.eq(attempts),
        n::last_error.eq(last_error),
        n::recipient.eq(""),
        n::subject.eq(""),
        n::body.eq(""),
        n::finished_at.eq(now),
        n::claimed_by.eq(None::<String>),
        n::claimed_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Gives back every message `worker` holds (it is stopping).
pub fn release(conn: &mut DbConnection, worker: &str) -> Result<usize, StorageError> {
    use notifications::dsl as n;
    Ok(diesel::update(
        n::notifications
            .filter(n::claimed_by.eq(worker))
            .filter(n::status.eq(MessageStatus::Pending.as_str())),
    )
    .set((
        n::claimed_by.eq(None::<String>),
        n::claimed_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?)
}

/// Deletes the messages that finished before `before`; returns how many.
pub fn purge_finished(
    conn: &mut DbConnection,
    before: NaiveDateTime,
) -> Result<usize, StorageError> {
    use notifications::dsl as n;
    Ok(diesel::delete(
        n::notifications
            .filter(n::status.ne(MessageStatus::Pending.as_str()))
            .filter(n::finished_at.lt(before)),
    )
    .execute(conn)?)
}

/// Every message, oldest first (operators' and tests' view).
pub fn all(conn: &mut DbConnection) -> Result<Vec<MessageState>, StorageError> {
    Ok(notifications::table
        .order(notifications::id.asc())
        .select(MessageState::as_select())
        .load(conn)?)
}
