//! The audit trail: every login (success or failure), every release of register data
//! to a relying party (which claims, by name, never their values), and every
//! administrative change to a citizen or an account.
//!
//! Writing must not slow the token path, so events go through a bounded channel to one
//! background writer that inserts them in batches. Nothing is dropped: when the channel
//! is full, callers wait (backpressure) rather than lose rows, and [`AuditLog::flush`]
//! at shutdown returns only once every queued event is in the database.

use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::domain::national_id::NationalId;
use crate::storage::audit_events::{self, AuditEvent, NewAuditEvent};
use crate::storage::{Db, DbConnection, StorageError};

// The lock-down's SQL is storage's (only storage names diesel); operators reach it here.
pub use crate::storage::audit_guard::{AUDIT_OWNER, LockDownError, LockedDown, lock_down};

const QUEUE: usize = 10_000;
const BATCH: usize = 500;
/// How long a lone event may wait for company before it is written.
const LINGER: Duration = Duration::from_millis(20);

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

enum Message {
    Event(Box<Event>),
    Flush(oneshot::Sender<()>),
}

/// The handle that request handlers record through.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Message>,
}

impl AuditLog {
    /// Starts the background writer on the current runtime.
    pub fn start(db: Db) -> AuditLog {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(db, rx));
        AuditLog { tx }
    }

    pub async fn record(&self, event: Event) {
        if self.tx.send(Message::Event(Box::new(event))).await.is_err() {
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

async fn write_loop(db: Db, mut rx: mpsc::Receiver<Message>) {
    let mut batch: Vec<NewAuditEvent> = Vec::with_capacity(BATCH);
    while let Some(first) = rx.recv().await {
        let mut flushes = Vec::new();
        let mut take = |message: Message, batch: &mut Vec<NewAuditEvent>| match message {
            Message::Event(event) => batch.push(event.into_row()),
            Message::Flush(ack) => flushes.push(ack),
        };
        take(first, &mut batch);
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(message)) => take(message, &mut batch),
                Ok(None) | Err(_) => break,
            }
        }
        write_with_retry(&db, &mut batch).await;
        for ack in flushes {
            let _ = ack.send(());
        }
    }
}

/// Keeps retrying while the database is away: audit rows are never dropped.
async fn write_with_retry(db: &Db, batch: &mut Vec<NewAuditEvent>) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(100);
    loop {
        let rows = batch.clone();
        match db
            .run_to_completion(move |conn| audit_events::append(conn, &rows))
            .await
        {
            Ok(_) => {
                batch.clear();
                return;
            }
            Err(e) => {
                tracing::error!(target: "security", error = %e, pending = batch.len(), "audit write failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
