//! What introspection and userinfo read from the register (the account and the
//! citizen's record behind a `sub`), cached by each instance. Both endpoints are called
//! again and again for the same tokens (a resource server checks every call it
//! receives), and the database trip was most of their cost.
//!
//! **The bound.** A change to the register or to an account's status, level or number
//! reaches every instance's answers within [`IdentityCache::trust`] (four watch
//! intervals: one second with the default `database.register_watch_ms = 250`), whoever
//! makes it: this instance, another one, the CLI (deaths, suspensions, locks, imports)
//! or another system writing the register. Database triggers move a counter
//! (`register_version`) on every such change; each instance reads it every watch
//! interval ([`watch`]) and empties its cache when it moved. A cached identity is used
//! only while a read of the counter that *started* less than `trust` ago succeeded, so
//! an instance whose watch stalls (a slow or lost database) reads the register again
//! instead of answering from memory.
//!
//! Invariants:
//! - a change committed before a watch read started is out of the cache before that
//!   read counts as a confirmation; an answer given at time t from the cache was
//!   confirmed by a read that started after t - `trust`: so no answer is staler than
//!   `trust`;
//! - an identity read from the database just before a change, and stored just after
//!   the cache was emptied for it, is not served: entries carry the generation (count
//!   of emptyings) they were read in, and only the current generation's are used;
//! - a change made through this instance (an officer's level change through the admin
//!   API, the lock after too many failed logins) empties the cache at once
//!   ([`IdentityCache::clear`]);
//! - only these two endpoints use it. Logins, the SSO path, token exchanges and
//!   refreshes read the register every time; revocation and consent withdrawal never go
//!   through it (the revocation list is checked on every request);
//! - unknown subjects are not cached, so made-up tokens cannot fill it (they need a
//!   valid signature anyway), and it holds at most [`MAX_ENTRIES`] identities.
//!
//! Off by default (`database.register_cache_ms = 0`): every answer reads the register,
//! and a change shows in the very next one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

use crate::cache::TtlCache;
use crate::domain::citizen::Citizen;
use crate::storage::accounts::Account;
use crate::storage::{Db, StorageError, register_version};

/// About 1 KB each: at most about 10 MB.
pub const MAX_ENTRIES: usize = 10_000;

pub type Identity = Arc<(Account, Citizen)>;

pub struct IdentityCache {
    /// How long a cached identity is kept at most; zero: nothing is cached.
    ttl: Duration,
    /// How long a confirmation of the watch is trusted.
    trust: std::time::Duration,
    entries: TtlCache<String, (u64, Identity)>,
    /// Moves on every emptying; an entry of an older generation is never served.
    generation: AtomicU64,
    /// When the last successful watch read started, in microseconds after `origin`
    /// (0: never).
    confirmed: AtomicU64,
    origin: Instant,
}

/// How many watch intervals a confirmation is trusted for: a read or two may be slow
/// under load without every answer going to the database.
const TRUSTED_INTERVALS: u32 = 4;

impl IdentityCache {
    /// `ttl_ms`: how long an identity is kept at most (0: no cache); `watch_ms`: how
    /// often [`watch`] reads the register's version.
    pub fn new(ttl_ms: u64, watch_ms: u64) -> Self {
        IdentityCache {
            ttl: Duration::milliseconds(i64::try_from(ttl_ms).unwrap_or(i64::MAX / 1_000_000)),
            trust: std::time::Duration::from_millis(watch_ms) * TRUSTED_INTERVALS,
            entries: TtlCache::new(MAX_ENTRIES),
            generation: AtomicU64::new(0),
            confirmed: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.ttl > Duration::zero()
    }

    /// The staleness bound: no answer from the cache is older than this.
    pub fn trust(&self) -> std::time::Duration {
        self.trust
    }

    /// Whether a watch read that started less than `trust` ago succeeded.
    fn trusted(&self) -> bool {
        let confirmed = self.confirmed.load(Ordering::Acquire);
        confirmed != 0
            && u128::from(confirmed) + self.trust.as_micros() >= self.origin.elapsed().as_micros()
    }

    /// Records that the register had not changed (or the cache was emptied for it) as
    /// of `started`, when the watch's read began.
    fn confirm(&self, started: Instant) {
        let micros = u64::try_from(started.duration_since(self.origin).as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.confirmed.fetch_max(micros, Ordering::AcqRel);
    }

    /// The account and record behind `subject` (as a client knows it): from the cache
    /// if it is on and trusted, else from the database.
    pub async fn by_subject(
        &self,
        db: &Db,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Identity>, StorageError> {
        if !self.enabled() {
            return Ok(super::identity_by_subject(db, subject.to_owned())
                .await?
                .map(Arc::new));
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.trusted()
            && let Some((read_in, identity)) = self.entries.get(subject, now)
            && read_in == generation
        {
            return Ok(Some(identity));
        }
        let Some(found) = super::identity_by_subject(db, subject.to_owned()).await? else {
            self.entries.remove(subject);
            return Ok(None);
        };
        let identity = Arc::new(found);
        self.entries.insert(
            subject.to_owned(),
            (generation, Arc::clone(&identity)),
            now,
            now + self.ttl,
        );
        Ok(Some(identity))
    }

    /// Forgets everything, after a change to the register or an account.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }
}

/// Reads the register's version every `every` and empties `cache` when it moved, for as
/// long as the server runs. Spawned at start-up when the cache is on.
pub async fn watch(cache: Arc<IdentityCache>, db: Db, every: std::time::Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut known = None;
    let mut failing = false;
    loop {
        ticker.tick().await;
        let started = Instant::now();
        match db.run(register_version::current).await {
            Ok(version) => {
                if known != Some(version) {
                    cache.clear();
                    known = Some(version);
                }
                cache.confirm(started);
                if failing {
                    tracing::info!("the register's version is read again; its cache is back on");
                    failing = false;
                }
            }
            // Logged once per outage: the cache stops being trusted by itself.
            Err(e) if !failing => {
                tracing::warn!(error = %e, "cannot read the register's version; its cache is bypassed until it can");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confirmation_is_trusted_for_four_watch_intervals_and_never_before_the_first() {
        let cache = IdentityCache::new(60_000, 50);
        assert!(!cache.trusted(), "no read of the version yet");
        cache.confirm(Instant::now());
        assert!(cache.trusted());
        std::thread::sleep(std::time::Duration::from_millis(250));
        assert!(!cache.trusted(), "a stalled watch stops the cache");
    }

    #[test]
    fn an_older_confirmation_never_replaces_a_newer_one() {
        let cache = IdentityCache::new(60_000, 50);
        let earlier = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        cache.confirm(Instant::now());
        let newer = cache.confirmed.load(Ordering::Acquire);
        cache.confirm(earlier);
        assert_eq!(cache.confirmed.load(Ordering::Acquire), newer);
    }
}
