//! The logout outbox's worker: one per server, started with it (`startup`), which sends
//! the back-channel logout tokens queued in the database and ends the sessions of
//! accounts an officer or the register stopped.
//!
//! **Why an outbox.** A logout token queued only in memory is lost when the server
//! stops. Whoever ends a session writes a `logout_deliveries` row instead (one insert
//! in the citizen's request, see `protocol::logout::backchannel::queue`) and wakes this worker;
//! the citizen is answered before anything is sent. The worker claims due rows, POSTs
//! each token with `logout.backchannel_timeout_ms`, retries 5xx and network errors up
//! to `logout.backchannel_attempts` times with waits from
//! `logout.backchannel_retry_base_ms` doubling each time, and ends the row delivered
//! (2xx), refused (4xx: the same request cannot do better) or failed. Each outcome and
//! its audit row are written in one transaction. Every failed attempt is written down
//! (attempts, next attempt time) before the wait, so a server that stops mid-way is
//! resumed where it was, by itself after a restart or by another instance. Finished
//! rows are deleted after `logout.outbox_retention_secs`; the audit trail keeps them.
//!
//! **Several instances.** A row is claimed with a lease (`claimed_by`,
//! `claimed_until`, see `storage::logout_outbox`), which covers one attempt and the
//! wait after it plus a margin; the lease is renewed with each attempt. Another instance
//! takes a row only once its lease ran out, i.e. once its holder has died. On a graceful
//! stop the worker gives its rows back at once. Delivery is therefore at least once: a
//! holder that dies after the relying party accepted the token but before writing it
//! down leaves the row to be sent again. Relying parties must accept a second logout
//! token for a session they already ended (OIDC Back-Channel Logout §2.6 asks them to
//! act on the `sid`, which is the same).
//!
//! **Account events and the command line.** Suspending, locking or lowering an account
//! (`accounts` on the command line, or the admin API), recording a death (`population
//! set-status`, or an import) must end every session of the account and tell its
//! relying parties. The command line runs in its own process, and with the embedded
//! default the sessions live in the server's in-process store, which it cannot reach.
//! So every one of those changes only writes an `account_logouts` row, in the
//! transaction of the change (`registry::lifecycle`, `registry::assurance`); this worker
//! claims it, ends the account's sessions in its store, and queues their deliveries,
//! the audit row and the request's deletion in one transaction. The admin API wakes its
//! own worker; a row from the command line is found by polling
//! (`logout.outbox_poll_ms`). Until then the sessions are useless anyway: every SSO
//! answer asks the register again. A row written while no server runs waits for the
//! next start (with the in-process store its sessions died with the server; with Redis
//! they are ended then).

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::audit::{Event, Kind};
use crate::authn::session;
use crate::config::LogoutSettings;
use crate::domain::national_id::NationalId;
use crate::outbox::{self, InFlight, InFlightIds};
use crate::protocol::logout::backchannel::{self, Attempt};
use crate::registry;
use crate::state::AppState;
use crate::storage::logout_outbox::{self, AccountLogout, Delivery, DeliveryStatus};
use crate::storage::{self, StorageError, audit_events};
use crate::store::StoreError;
use crate::tokens::random;

/// Deliveries one server sends at once; more wait in the outbox.
const MAX_IN_FLIGHT: usize = 64;
/// Account requests taken per round.
const ACCOUNT_LOGOUTS_PER_ROUND: i64 = 32;
/// Added to every lease beyond the time its holder needs, for a slow database write.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// The least time between rounds while the outbox is unreachable.
const UNREACHABLE_PAUSE: Duration = Duration::from_secs(5);
/// How often finished rows past their retention are deleted.
const PURGE_EVERY: chrono::Duration = chrono::Duration::minutes(10);

#[derive(Debug, thiserror::Error)]
enum WorkError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// The running worker of one server.
pub struct OutboxWorker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl OutboxWorker {
    /// Starts the worker on the current runtime.
    pub fn start(state: web::Data<AppState>) -> OutboxWorker {
        let (stop, stopped) = watch::channel(false);
        let worker = Worker {
            state,
            id: Arc::from(format!("worker-{}", random::token())),
            slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            running: JoinSet::new(),
            in_flight: Arc::default(),
            saturated: false,
            last_purge: None,
            failing: false,
        };
        OutboxWorker {
            stop,
            task: tokio::spawn(worker.run(stopped)),
        }
    }

    /// Stops the worker: deliveries in flight are abandoned and their rows given back
    /// (sent again by whichever server takes them next).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the logout worker failed");
        }
    }
}

struct Worker {
    state: web::Data<AppState>,
    /// Names this worker's claims; random, so that a restarted server is another holder.
    id: Arc<str>,
    slots: Arc<Semaphore>,
    running: JoinSet<()>,
    /// Ids of the rows being delivered: a row claimed again while its delivery still
    /// runs (a lease outrun by a moved clock) is not sent twice by this worker.
    in_flight: InFlightIds,
    /// The last round claimed every free slot: more may be due as soon as one frees.
    saturated: bool,
    last_purge: Option<DateTime<Utc>>,
    /// The outbox was unreachable in the last round (logged once, not every round).
    failing: bool,
}

impl Worker {
    async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.state.settings.logout.outbox_poll_ms);
        let wakeup = self.state.logout_wakeup.clone();
        loop {
            while self.running.try_join_next().is_some() {}
            let outcome = self.round().await;
            self.report(outcome);
            // An unreachable database is asked less often, so that the worker does not
            // pile up waits for connections while requests need them.
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
        let released = self
            .state
            .db
            .run(move |conn| logout_outbox::release(conn, &id))
            .await;
        match released {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "logout outbox rows given back at shutdown"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot give back logout outbox rows; they are taken again when their lease ends")
            }
        }
    }

    /// One round: account requests first (they queue deliveries), then due deliveries,
    /// then the purge when it is time.
    async fn round(&mut self) -> Result<(), WorkError> {
        let now = self.state.clock.now();
        // Each step on its own: a store that fails must not hold up the deliveries.
        let ended = self.end_requested_sessions(now).await;
        let sent = self.send_due(now).await;
        let purged = self.purge(now).await;
        ended.and(sent).and(purged)
    }

    async fn purge(&mut self, now: DateTime<Utc>) -> Result<(), WorkError> {
        if self.last_purge.is_none_or(|at| now - at >= PURGE_EVERY) {
            let retention = chrono::Duration::seconds(
                i64::try_from(self.state.settings.logout.outbox_retention_secs)
                    .unwrap_or(i64::MAX / 1000),
            );
            let before = (now - retention).naive_utc();
            let purged = self
                .state
                .db
                .run(move |conn| logout_outbox::purge_finished(conn, before))
                .await?;
            if purged > 0 {
                tracing::info!(rows = purged, "finished logout deliveries deleted");
            }
            self.last_purge = Some(now);
        }
        Ok(())
    }

    fn report(&mut self, outcome: Result<(), WorkError>) {
        match outcome {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!("the logout outbox is reachable again");
            }
            Ok(()) => {}
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(error = %e, "the logout outbox is unreachable; retrying");
            }
            Err(_) => {}
        }
    }

    /// Claims due deliveries for the free slots and starts each.
    async fn send_due(&mut self, now: DateTime<Utc>) -> Result<(), WorkError> {
        let permits: Vec<OwnedSemaphorePermit> =
            std::iter::from_fn(|| self.slots.clone().try_acquire_owned().ok()).collect();
        if permits.is_empty() {
            return Ok(());
        }
        let limit = i64::try_from(permits.len()).unwrap_or(1);
        let lease_until = (now + lease(&self.state.settings.logout, Duration::ZERO)).naive_utc();
        let id = self.id.clone();
        let claimed = self
            .state
            .db
            .run(move |conn| {
                logout_outbox::claim_due(conn, &id, now.naive_utc(), lease_until, limit)
            })
            .await?;
        self.saturated = claimed.len() == permits.len();
        for (row, permit) in claimed.into_iter().zip(permits) {
            let Some(guard) = InFlight::start(&self.in_flight, row.id, permit) else {
                continue;
            };
            self.running
                .spawn(deliver(self.state.clone(), self.id.clone(), row, guard));
        }
        Ok(())
    }

    /// Ends the sessions of the accounts whose requests this worker claims.
    async fn end_requested_sessions(&mut self, now: DateTime<Utc>) -> Result<(), WorkError> {
        let lease_until = (now + LEASE_MARGIN).naive_utc();
        let id = self.id.clone();
        let requests = self
            .state
            .db
            .run(move |conn| {
                logout_outbox::claim_account_logouts(
                    conn,
                    &id,
                    now.naive_utc(),
                    lease_until,
                    ACCOUNT_LOGOUTS_PER_ROUND,
                )
            })
            .await?;
        for request in requests {
            self.end_sessions_of(request, now).await?;
        }
        Ok(())
    }

    async fn end_sessions_of(
        &self,
        request: AccountLogout,
        now: DateTime<Utc>,
    ) -> Result<(), WorkError> {
        let state = &self.state;
        let store = state.store.as_ref();
        let citizen = registry::identity_by_account(&state.db, request.account_id.clone())
            .await?
            .map(|(_, citizen)| citizen.national_id);
        let ended = session::end_all(store, &request.account_id, now).await?;
        let mut deliveries = Vec::new();
        for ended_session in &ended {
            let client_ids = session::take_clients(store, &ended_session.facts.sid).await?;
            deliveries.extend(
                backchannel::deliveries(
                    &state.protocol(),
                    &ended_session.facts,
                    &client_ids,
                    citizen.as_ref(),
                    now,
                )
                .await?,
            );
        }
        let mut event = Event::new(Kind::Login, "sessions_ended", now.naive_utc()).detail(format!(
            "reason={} sessions={}",
            request.reason,
            ended.len()
        ));
        if let Some(citizen) = citizen {
            event = event.citizen(citizen);
        }
        let id = self.id.clone();
        let at = now.naive_utc();
        let queued = state
            .db
            .run(move |conn| {
                storage::transaction(conn, |conn| {
                    if !logout_outbox::complete_account_logout(conn, request.id, &id)? {
                        // Another instance took it over; it ends what is left.
                        return Ok(0);
                    }
                    let queued = logout_outbox::enqueue(conn, &deliveries, at)?;
                    audit_events::append(conn, &[event.into_row()])?;
                    Ok::<_, StorageError>(queued)
                })
            })
            .await?;
        tracing::info!(target: "security", sessions = ended.len(), deliveries = queued, reason = %request.reason, "sessions of a stopped account ended");
        Ok(())
    }
}

/// How long a holder keeps a row: one attempt, the wait before the next, a margin.
fn lease(settings: &LogoutSettings, wait: Duration) -> Duration {
    Duration::from_millis(settings.backchannel_timeout_ms) + wait + LEASE_MARGIN
}

/// The wait after failed attempt `attempt` (1-based): the base, doubling each time.
fn retry_wait(settings: &LogoutSettings, attempt: i32) -> Duration {
    outbox::doubling_wait(settings.backchannel_retry_base_ms, attempt)
}

/// How one delivery ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Delivered { attempts: i32 },
    Refused { attempts: i32, status: u16 },
    Failed { attempts: i32, last: String },
}

/// Sends one claimed delivery to its end, then records the outcome.
async fn deliver(state: web::Data<AppState>, worker: Arc<str>, row: Delivery, _guard: InFlight) {
    let settings = &state.settings.logout;
    let most = i32::try_from(settings.backchannel_attempts).unwrap_or(1);
    let mut attempts = row.attempts;
    let outcome = match backchannel::sign(&state.protocol(), &row, state.clock.now()) {
        Err(last) => Outcome::Failed { attempts, last },
        Ok(token) => loop {
            attempts += 1;
            match backchannel::post(&state.protocol(), &row.uri, &token).await {
                Attempt::Delivered => break Outcome::Delivered { attempts },
                Attempt::Refused(status) => break Outcome::Refused { attempts, status },
                // Retrying cannot help while the name points inside; the operator
                // sees the reason in the audit trail.
                Attempt::Forbidden(last) => break Outcome::Failed { attempts, last },
                Attempt::Retry(last) if attempts >= most => {
                    break Outcome::Failed { attempts, last };
                }
                Attempt::Retry(last) => {
                    let wait = retry_wait(settings, attempts);
                    let now = state.clock.now();
                    let next = (now + wait).naive_utc();
                    let lease_until = (now + lease(settings, wait)).naive_utc();
                    let (id, holder) = (row.id, worker.clone());
                    let kept = state
                        .db
                        .run(move |conn| {
                            logout_outbox::record_attempt(
                                conn,
                                id,
                                &holder,
                                attempts,
                                &last,
                                next,
                                lease_until,
                            )
                        })
                        .await;
                    match kept {
                        Ok(true) => {}
                        // Another instance holds the row now: it carries on.
                        Ok(false) => return,
                        // Carry on: the row is still ours until the lease ends, and the
                        // outcome is written at the end.
                        Err(e) => tracing::warn!(error = %e, "cannot record a logout attempt"),
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        },
    };
    record(&state, &worker, &row, outcome).await;
}

/// Ends the row with `outcome` and audits it, in one transaction.
async fn record(state: &AppState, worker: &Arc<str>, row: &Delivery, outcome: Outcome) {
    let (status, name, attempts, detail, last_error) = match outcome {
        Outcome::Delivered { attempts } => (
            DeliveryStatus::Delivered,
            "backchannel_logout_delivered",
            attempts,
            format!("attempts={attempts}"),
            None,
        ),
        Outcome::Refused { attempts, status } => (
            DeliveryStatus::Refused,
            "backchannel_logout_refused",
            attempts,
            format!("attempts={attempts} status={status}"),
            Some(format!("status {status}")),
        ),
        Outcome::Failed { attempts, last } => (
            DeliveryStatus::Failed,
            "backchannel_logout_failed",
            attempts,
            format!("attempts={attempts} last={last}"),
            Some(last),
        ),
    };
    if status != DeliveryStatus::Delivered {
        tracing::warn!(client_id = %row.client_id, %detail, "back-channel logout not delivered");
    }
    let now = state.clock.now().naive_utc();
    let mut event = Event::new(Kind::Login, name, now)
        .client(&row.client_id)
        .detail(detail);
    if let Some(citizen) = row
        .national_id
        .as_deref()
        .and_then(|n| NationalId::parse(n).ok())
    {
        event = event.citizen(citizen);
    }
    let (id, holder) = (row.id, worker.clone());
    let written = state
        .db
        .run(move |conn| {
            storage::transaction(conn, |conn| {
                let ours = logout_outbox::finish(
                    conn,
                    id,
                    &holder,
                    status,
                    attempts,
                    last_error.as_deref(),
                    now,
                )?;
                if ours {
                    audit_events::append(conn, &[event.into_row()])?;
                }
                Ok::<_, StorageError>(())
            })
        })
        .await;
    if let Err(e) = written {
        // The row stays claimed until its lease ends, then is sent again.
        tracing::warn!(error = %e, "cannot record a logout delivery's outcome");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LogoutSettings {
        LogoutSettings {
            backchannel_timeout_ms: 5000,
            backchannel_attempts: 3,
            backchannel_retry_base_ms: 1000,
            outbox_poll_ms: 1000,
            outbox_retention_secs: 604_800,
        }
    }

    #[test]
    fn the_wait_after_each_failed_attempt_doubles_from_the_base() {
        let s = settings();
        assert_eq!(retry_wait(&s, 1), Duration::from_millis(1000));
        assert_eq!(retry_wait(&s, 2), Duration::from_millis(2000));
        assert_eq!(retry_wait(&s, 3), Duration::from_millis(4000));
        // Bounded, whatever the count.
        assert_eq!(retry_wait(&s, 1000), Duration::from_millis(1000 << 16));
    }

    #[test]
    fn a_lease_covers_one_attempt_and_the_wait_after_it() {
        let s = settings();
        let wait = retry_wait(&s, 2);
        assert!(lease(&s, wait) > Duration::from_millis(s.backchannel_timeout_ms) + wait);
    }
}
