//! The notification outbox's worker: one per server, started with it, which sends the
//! messages queued in `notifications`. Each claim covers one attempt: a message whose
//! transport failed for now is given back with the time of its next attempt (the base
//! wait doubling), so any instance free then takes it. A message that carries a code is
//! dropped unsent once the code expired. Rows are claimed with a lease, as in the
//! logout outbox, so several instances share the table and a server that dies mid-way
//! leaves its rows to the others once the lease ends.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use super::SendError;
use super::Transports;
use crate::clock::Clock;
use crate::config::NotifySettings;
use crate::domain::contact::Channel;
use crate::outbox::{self, InFlight, InFlightIds};
use crate::storage::notifications::{self, Message, MessageStatus};
use crate::storage::{Db, StorageError};
use crate::tokens::random;

/// Messages one server sends at once; more wait in the outbox.
const MAX_IN_FLIGHT: usize = 16;
/// Added to a lease beyond the transport's own timeout.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// The least time between rounds while the outbox is unreachable.
const UNREACHABLE_PAUSE: Duration = Duration::from_secs(5);
/// How often finished rows past their retention are deleted.
const PURGE_EVERY: chrono::Duration = chrono::Duration::minutes(10);

/// The running worker of one server.
pub struct NotifyWorker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// What the worker sends with.
#[derive(Clone)]
pub struct Outbox {
    pub db: Db,
    pub transports: Arc<Transports>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<NotifySettings>,
    /// Rung when a message is queued on this server.
    pub wakeup: Arc<tokio::sync::Notify>,
}

impl NotifyWorker {
    pub fn start(outbox: Outbox) -> NotifyWorker {
        let (stop, stopped) = watch::channel(false);
        let worker = Worker {
            outbox,
            id: Arc::from(format!("notify-{}", random::token())),
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            running: JoinSet::new(),
            in_flight: Arc::default(),
            saturated: false,
            last_purge: None,
            failing: false,
        };
        NotifyWorker {
            stop,
            task: tokio::spawn(worker.run(stopped)),
        }
    }

    /// Stops the worker; messages in flight are abandoned and their rows given back.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the notification worker failed");
        }
    }
}

struct Worker {
    outbox: Outbox,
    id: Arc<str>,
    slots: Arc<Semaphore>,
    running: JoinSet<()>,
    /// Rows being sent: one claimed again while its send still runs is not sent twice.
    in_flight: InFlightIds,
    saturated: bool,
    last_purge: Option<DateTime<Utc>>,
    failing: bool,
}

impl Worker {
    async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.outbox.settings.outbox_poll_ms);
        let wakeup = self.outbox.wakeup.clone();
        loop {
            while self.running.try_join_next().is_some() {}
            let now = self.outbox.clock.now();
            let outcome = match self.send_due(now).await {
                Ok(()) => self.purge(now).await,
                Err(e) => Err(e),
            };
            self.report(outcome);
            let pause = if self.failing {
                poll.max(UNREACHABLE_PAUSE)
            } else {
                poll
            };
            tokio::select! {
                _ = wakeup.notified() => {}
                _ = tokio::time::sleep(pause) => {}
                Some(_) = self.running.join_next(), if self.saturated => {}
                _ = stopped.changed() => break,
            }
        }
        self.running.abort_all();
        while self.running.join_next().await.is_some() {}
        let id = self.id.clone();
        if let Err(e) = self
            .outbox
            .db
            .run(move |conn| notifications::release(conn, &id))
            .await
        {
            tracing::warn!(error = %e, "cannot give back notification rows; they are taken again when their lease ends");
        }
    }

    fn report(&mut self, outcome: Result<(), StorageError>) {
        match outcome {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!("the notification outbox is reachable again");
            }
            Ok(()) => {}
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(error = %e, "the notification outbox is unreachable; retrying");
            }
            Err(_) => {}
        }
    }

    async fn purge(&mut self, now: DateTime<Utc>) -> Result<(), StorageError> {
        if self.last_purge.is_some_and(|at| now - at < PURGE_EVERY) {
            return Ok(());
        }
        let retention = chrono::Duration::seconds(
            i64::try_from(self.outbox.settings.outbox_retention_secs).unwrap_or(i64::MAX / 1000),
        );
        let before = (now - retention).naive_utc();
        self.outbox
            .db
            .run(move |conn| notifications::purge_finished(conn, before))
            .await?;
        self.last_purge = Some(now);
        Ok(())
    }

    async fn send_due(&mut self, now: DateTime<Utc>) -> Result<(), StorageError> {
        let permits: Vec<OwnedSemaphorePermit> =
            std::iter::from_fn(|| self.slots.clone().try_acquire_owned().ok()).collect();
        if permits.is_empty() {
            return Ok(());
        }
        let limit = i64::try_from(permits.len()).unwrap_or(1);
        let settings = &self.outbox.settings;
        let timeout = settings.smtp.timeout_ms.max(settings.sms.timeout_ms);
        let lease_until = (now + Duration::from_millis(timeout) + LEASE_MARGIN).naive_utc();
        let id = self.id.clone();
        let claimed = self
            .outbox
            .db
            .run(move |conn| {
                notifications::claim_due(conn, &id, now.naive_utc(), lease_until, limit)
            })
            .await?;
        self.saturated = claimed.len() == permits.len();
        for (row, permit) in claimed.into_iter().zip(permits) {
            let Some(guard) = InFlight::start(&self.in_flight, row.id, permit) else {
                continue;
            };
            self.running
                .spawn(send(self.outbox.clone(), self.id.clone(), row, guard));
        }
        Ok(())
    }
}

/// One attempt at a claimed message, and what it leaves in the outbox.
async fn send(outbox: Outbox, worker: Arc<str>, row: Message, _guard: InFlight) {
    let now = outbox.clock.now();
    let attempts = row.attempts + 1;
    let result = match Channel::parse(&row.channel) {
        _ if row.expires_at.is_some_and(|at| at <= now.naive_utc()) => {
            finish(
                &outbox,
                &worker,
                &row,
                MessageStatus::Expired,
                row.attempts,
                None,
            )
            .await;
            return;
        }
        Some(channel) => {
            outbox
                .transports
                .send(channel, &row.recipient, &row.subject, &row.body)
                .await
        }
        None => Err(SendError::Permanent("unknown channel".into())),
    };
    let channel = row.channel.as_str();
    let kind = row.kind.as_str();
    match result {
        Ok(()) => {
            tracing::info!(target: "notify", channel, kind, attempts, "message sent");
            finish(&outbox, &worker, &row, MessageStatus::Sent, attempts, None).await;
        }
        Err(SendError::Permanent(error)) => {
            tracing::warn!(target: "notify", channel, kind, attempts, %error, "message refused");
            finish(
                &outbox,
                &worker,
                &row,
                MessageStatus::Refused,
                attempts,
                Some(error),
            )
            .await;
        }
        Err(error) => {
            let error = error.to_string();
            let most = i32::try_from(outbox.settings.attempts).unwrap_or(1);
            if attempts >= most {
                tracing::warn!(target: "notify", channel, kind, attempts, %error, "message not sent: attempts exhausted");
                finish(
                    &outbox,
                    &worker,
                    &row,
                    MessageStatus::Failed,
                    attempts,
                    Some(error),
                )
                .await;
                return;
            }
            tracing::info!(target: "notify", channel, kind, attempts, %error, "message not sent yet; retrying later");
            let wait = outbox::doubling_wait(outbox.settings.retry_base_ms, attempts);
            let next = (now + chrono::Duration::from_std(wait).unwrap_or(chrono::TimeDelta::MAX))
                .naive_utc();
            let (id, holder) = (row.id, worker.clone());
            if let Err(e) = outbox
                .db
                .run(move |conn| {
                    notifications::record_attempt(conn, id, &holder, attempts, &error, next)
                })
                .await
            {
                tracing::warn!(error = %e, "cannot record a notification attempt; it is retried when its lease ends");
            }
        }
    }
}

async fn finish(
    outbox: &Outbox,
    worker: &Arc<str>,
    row: &Message,
    status: MessageStatus,
    attempts: i32,
    last_error: Option<String>,
) {
    let now = outbox.clock.now().naive_utc();
    let (id, holder) = (row.id, worker.clone());
    if let Err(e) = outbox
        .db
        .run(move |conn| {
            notifications::finish(
                conn,
                id,
                &holder,
                status,
                attempts,
                last_error.as_deref(),
                now,
            )
        })
        .await
    {
        tracing::warn!(error = %e, "cannot record a notification's outcome; it may be sent again when its lease ends");
    }
}
