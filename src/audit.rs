//! The audit trail: every login (success or failure), every release of register data
//! to a relying party (which claims, by name, never their values), and every
//! administrative change to a citizen or an account.
//!
//! Rows go through a bounded channel to one background writer, which commits them by
//! group: it takes whatever is queued (up to 500 rows), writes it in one
//! transaction, acknowledges each row's sender, and meanwhile the next group queues.
//! The writer never waits for company, so a lone row costs one transaction and a busy
//! server shares each transaction among every row that arrived while the last one was
//! written. Two ways in:
//!
//! - [`AuditLog::commit`] returns once the row is committed. A disclosure awaits it
//!   before its answer is made: a response that releases a citizen's data is never sent
//!   without its row in the database, even if the process is killed the next instant.
//!   If the row is not committed within the bound (the database query timeout), the
//!   caller gets [`AuditError`] and answers `temporarily_unavailable` instead of the
//!   data. The row stays queued and is written when the database is back: an audit
//!   row for a release that did not happen is acceptable, a release without one is not.
//! - [`AuditLog::record`] returns once the row is queued, for events whose effect has
//!   happened whatever the trail says (a login's verdict, a logout, an account change):
//!   refusing the answer would not undo them. A kill can lose the rows of the group
//!   being written, a few milliseconds' worth.
//!
//! Nothing is dropped on the way: the writer retries while the database is away, when
//! the channel is full callers wait (backpressure), and [`AuditLog::flush`] at
//! shutdown returns only once every queued row is in the database.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::domain::national_id::NationalId;
use crate::storage::audit_events::{self, AuditEvent, NewAuditEvent};
use crate::storage::{Db, DbConnection, StorageError};

// The lock-down's SQL is storage's (only storage names diesel); operators reach it here.
pub use crate::storage::audit_guard::{AUDIT_OWNER, LockDownError, LockedDown, lock_down};

const QUEUE: usize = 10_000;
/// The most rows in one transaction.
const BATCH: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Login,
    Disclosure,
    Admin,
    /// A citizen created their own account (self-enrolment against the register).
    Enrolment,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Login => "login",
            Kind::Disclosure => "disclosure",
            Kind::Admin => "admin",
            Kind::Enrolment => "enrolment",
        }
    }
}

/// An event about to be recorded.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: NaiveDateTime,
    pub kind: Kind,
    pub outcome: &'static str,
    pub citizen: Option<NationalId>,
    pub client_id: Option<String>,
    pub claims: Vec<String>,
    pub request_id: Option<String>,
    pub detail: Option<String>,
}

impl Event {
    pub fn new(kind: Kind, outcome: &'static str, at: NaiveDateTime) -> Self {
        Event {
            at,
            kind,
            outcome,
            citizen: None,
            client_id: None,
            claims: Vec::new(),
            request_id: None,
            detail: None,
        }
    }

    pub fn citizen(mut self, id: NationalId) -> Self {
        self.citizen = Some(id);
        self
    }

    pub fn client(mut self, client_id: &str) -> Self {
        self.client_id = Some(client_id.to_owned());
        self
    }

    pub fn claims(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.claims = names.into_iter().map(Into::into).collect();
        self
    }

    pub fn request_id(mut self, id: Option<&str>) -> Self {
        self.request_id = id.map(str::to_owned);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn into_row(self) -> NewAuditEvent {
        NewAuditEvent {
            at: self.at,
            kind: self.kind.as_str().to_owned(),
            outcome: self.outcome.to_owned(),
            national_id: self.citizen.map(|id| id.expose().to_owned()),
            client_id: self.client_id,
            claims: (!self.claims.is_empty()).then(|| self.claims.join(" ")),
            request_id: self.request_id,
            detail: self.detail,
        }
    }
}

/// The trail of one citizen, oldest first, for an operator (`audit --citizen`).
pub fn trail_of(
    conn: &mut DbConnection,
    citizen: &NationalId,
) -> Result<Vec<AuditEvent>, StorageError> {
    audit_events::for_citizen(conn, citizen.expose())
}

/// Why a row was not acknowledged as committed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database did not take the row in time (away, frozen, or refusing writes).
    /// The row is still queued and will be written once it can be.
    #[error("the audit row was not committed within {} ms", .0.as_millis())]
    NotCommitted(Duration),
    /// The writer is gone (the server is stopping): the row may not be written.
    #[error("the audit writer has stopped")]
    Stopped,
}

enum Message {
    /// A row, and whom to tell once it is committed.
    Row(Box<NewAuditEvent>, Option<oneshot::Sender<()>>),
    /// Whom to tell once every row queued before is committed.
    Flush(oneshot::Sender<()>),
}

/// The handle that request handlers record through.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Message>,
    /// How long [`AuditLog::commit`] waits for its row.
    bound: Duration,
}

impl AuditLog {
    /// Starts the background writer on the current runtime. `bound` is how long a
    /// [`AuditLog::commit`] may take, queueing included, before it gives up.
    pub fn start(db: Db, bound: Duration) -> AuditLog {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(db, rx));
        AuditLog { tx, bound }
    }

    /// Returns once `event` is committed to the database. For an answer that must not
    /// leave without its row (a disclosure): on an error, do not send it.
    pub async fn commit(&self, event: Event) -> Result<(), AuditError> {
        let (ack, committed) = oneshot::channel();
        let row = Message::Row(Box::new(event.into_row()), Some(ack));
        let written = async {
            self.tx.send(row).await.map_err(|_| AuditError::Stopped)?;
            committed.await.map_err(|_| AuditError::Stopped)
        };
        tokio::time::timeout(self.bound, written)
            .await
            .unwrap_or(Err(AuditError::NotCommitted(self.bound)))
    }

    /// Returns once `event` is queued; the writer commits it with the next group.
    pub async fn record(&self, event: Event) {
        let row = Message::Row(Box::new(event.into_row()), None);
        if self.tx.send(row).await.is_err() {
            tracing::error!(target: "security", "audit writer stopped; an audit event could not be queued");
        }
    }

    /// Waits until every event queued before this call is written.
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Message::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

/// Group commit: each turn writes what queued during the last, in one transaction,
/// then tells everyone waiting on it.
async fn write_loop(db: Db, mut rx: mpsc::Receiver<Message>) {
    let mut group = Group::default();
    while let Some(first) = rx.recv().await {
        group.take(first);
        // No linger: waiting for company would add its delay to every disclosure,
        // while under load the queue fills during each write anyway (docs/PERFORMANCE.md).
        while group.rows.len() < BATCH {
            match rx.try_recv() {
                Ok(message) => group.take(message),
                Err(_) => break,
            }
        }
        write_with_retry(&db, std::mem::take(&mut group.rows)).await;
        for ack in group.waiting.drain(..) {
            // A caller that gave up waiting is gone; its row is written all the same.
            let _ = ack.send(());
        }
    }
}

/// The rows of one transaction, and whom to tell once it is committed.
#[derive(Default)]
struct Group {
    rows: Vec<NewAuditEvent>,
    waiting: Vec<oneshot::Sender<()>>,
}

impl Group {
    fn take(&mut self, message: Message) {
        match message {
            Message::Row(row, ack) => {
                self.rows.push(*row);
                self.waiting.extend(ack);
            }
            Message::Flush(ack) => self.waiting.push(ack),
        }
    }
}

/// Keeps retrying while the database is away: audit rows are never dropped. One
/// hand-off to the blocking pool per attempt, whatever the group's size. The wait
/// between attempts stays short (at most a second): disclosures queue behind this
/// group, and are refused until it lands.
async fn write_with_retry(db: &Db, rows: Vec<NewAuditEvent>) {
    if rows.is_empty() {
        return;
    }
    let rows = Arc::new(rows);
    let mut delay = Duration::from_millis(100);
    loop {
        let group = rows.clone();
        match db
            .run_to_completion(move |conn| audit_events::append(conn, &group))
            .await
        {
            Ok(_) => return,
            Err(e) => {
                tracing::error!(target: "security", error = %e, pending = rows.len(), "audit write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::migrations;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_of_many_concurrent_commits_returns_with_its_own_row_in_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("audit.sqlite").display().to_string();
        let db = Db::connect(&url, 4, Duration::from_secs(5)).unwrap();
        db.run(migrations::run_pending).await.unwrap();
        let log = AuditLog::start(db.clone(), Duration::from_secs(5));
        let citizen = NationalId::parse("001090000001").unwrap();
        let at = NaiveDateTime::default();

        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..100 {
            let (log, db, citizen) = (log.clone(), db.clone(), citizen.clone());
            tasks.spawn(async move {
                let id = format!("request-{i}");
                let event = Event::new(Kind::Disclosure, "userinfo", at)
                    .citizen(citizen.clone())
                    .request_id(Some(&id));
                log.commit(event).await.unwrap();
                // Read on another connection, as a restarted server would.
                let rows = db.run(move |conn| trail_of(conn, &citizen)).await.unwrap();
                assert!(
                    rows.iter()
                        .any(|row| row.request_id.as_deref() == Some(&id))
                );
            });
        }
        tasks.join_all().await;
    }
}
