//! The in-process store: a map guarded by a mutex, with expiry checked on every read and
//! a periodic sweep so that abandoned entries do not accumulate.
//!
//! It is bounded ([`Limits`]: entries and bytes), since anyone on the internet can make
//! it hold a pending login flow. When a write would pass a bound, the oldest login
//! flows (and the per-browser counts of them) are dropped first (their citizens start
//! the login again); nothing else is ever dropped, because a lost revocation, single-use
//! `jti` or throttle count would be a silent security failure. If no flow is left to
//! drop, the write fails as an unavailable store (503) and nothing is lost.
//! [`MemoryStore::usage`] feeds the `/metrics` gauges.
//!
//! Expiry follows the injected [`Clock`], as every other expiry in the server does, so a
//! test that advances its fixed clock sees codes, flows and sessions expire here too
//! (Redis keeps its own time: see the `store` module's header). An entry lives while `now` is
//! before its expiry: a clock that went back keeps it longer, never drops it sooner, so
//! a revocation or a spent `jti` cannot come back to life.
//!
//! It is not a [`crate::cache::TtlCache`]: that cache may forget everything when full
//! and treats a clock that went back as stale, and the store may forget only login
//! flows and must answer `take`, `put_new`, sets and counters atomically under one lock,
//! with a bound on bytes as well as entries.
//!
//! A full store stays about as fast as an empty one: making room pops the oldest flow,
//! and the whole map is swept for expired entries at most once per [`PRESSURE_SWEEP`]
//! (a flood keeps the store full, and a sweep on every write, under the lock, cut it
//! to under 600 answers a second where it now gives about 30,000; see bench/flood).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use super::{Store, StoreError, StoreUsage};
use crate::clock::{Clock, SystemClock};

/// Keys that may be dropped under pressure, oldest first: pending login flows, and the
/// count of pending logins of each browser (`protocol::authorize`). Every cookieless request
/// is a new browser with a count of its own; never dropped, 100,000 of them filled the
/// store and every login after them failed (bench/flood). They only bound what one
/// browser makes the store hold, which the store's own bound then does; the network's
/// count (`flows:ip:`), which refuses a flood, is never dropped.
///
/// The per-minute request counts (`http::limits`) go too, oldest window first: they
/// shield the server's load and guard no secret, and an attacker holding many IPv6
/// networks makes one per /64, which must not fill the store and refuse every citizen.
const EVICTABLE_PREFIXES: [&str; 3] = super::keys::EVICTABLE;
/// The shortest time between two sweeps made to find room (the periodic one aside).
const PRESSURE_SWEEP: TimeDelta = TimeDelta::seconds(1);
/// What one entry costs beyond its key and value (map slot, expiry, bookkeeping).
const ENTRY_OVERHEAD: usize = 64;

/// The bounds of the in-process store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 200_000,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// The sum of [`Entry::size`].
    bytes: usize,
    /// Evictable keys in the order they were written, with the write's sequence number
    /// (an entry rewritten since has a newer one, and its old place is skipped).
    flows: VecDeque<(u64, String)>,
    next_seq: u64,
    evicted: u64,
    limits: Limits,
    /// When the map was last swept for expired entries.
    swept: Option<DateTime<Utc>>,
}

struct Entry {
    value: Value,
    expires: DateTime<Utc>,
    seq: u64,
    size: usize,
}

enum Value {
    Bytes(Vec<u8>),
    Set(BTreeSet<String>),
    Counter(u64),
}

impl Value {
    fn bytes(self) -> Option<Vec<u8>> {
        match self {
            Value::Bytes(bytes) => Some(bytes),
            Value::Set(_) | Value::Counter(_) => None,
        }
    }

    fn size(&self) -> usize {
        match self {
            Value::Bytes(bytes) => bytes.len(),
            Value::Set(members) => members.iter().map(|m| m.len() + 32).sum(),
            Value::Counter(_) => 8,
        }
    }
}

const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

impl MemoryStore {
    /// Creates the store with the default [`Limits`] on the wall clock.
    pub fn new() -> Self {
        Self::bounded(Limits::default(), Arc::new(SystemClock))
    }

    /// Creates the store, whose entries expire on `clock`, and, inside a tokio runtime,
    /// its background sweeper. The sweeper holds only a weak reference, so it ends when
    /// the store is dropped.
    pub fn bounded(limits: Limits, clock: Arc<dyn Clock>) -> Self {
        let store = MemoryStore {
            inner: Arc::new(Mutex::new(Inner {
                limits,
                ..Inner::default()
            })),
            clock,
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&store.inner);
            let clock = store.clock.clone();
            runtime.spawn(async move {
                let mut interval = tokio::time::interval(SWEEP_INTERVAL);
                loop {
                    interval.tick().await;
                    let Some(inner) = weak.upgrade() else { break };
                    lock(&inner).sweep(clock.now());
                }
            });
        }
        store
    }

    /// `now` and the end of a `ttl` from it (a TTL too long for a date never ends).
    fn now_and_expiry(&self, ttl: Duration) -> (DateTime<Utc>, DateTime<Utc>) {
        let now = self.clock.now();
        let expires = TimeDelta::from_std(ttl)
            .ok()
            .and_then(|ttl| now.checked_add_signed(ttl))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        (now, expires)
    }
}

// A panic while the lock is held cannot leave an entry half-written (each operation
// is a single map call), so a poisoned lock is safe to keep using.
fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn full() -> StoreError {
    StoreError::Unavailable(
        "the in-process store is full (store.max_entries / store.max_bytes)".into(),
    )
}

impl Inner {
    fn sweep(&mut self, now: DateTime<Utc>) {
        self.swept = Some(now);
        let expired: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.expires <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            self.remove(&key);
        }
        let entries = &self.entries;
        self.flows
            .retain(|(seq, key)| entries.get(key).is_some_and(|e| e.seq == *seq));
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.bytes -= entry.size;
        Some(entry)
    }

    /// Writes `value` under `key`, making room first: expired entries (if the last sweep
    /// is older than [`PRESSURE_SWEEP`]), then the oldest flows. Fails, changing
    /// nothing, if the bounds cannot be kept.
    fn insert(
        &mut self,
        key: &str,
        value: Value,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let size = key.len() + value.size() + ENTRY_OVERHEAD;
        let replaced = self.entries.get(key).map_or(0, |e| e.size);
        let is_new = !self.entries.contains_key(key);
        let fits = |inner: &Inner| {
            inner.entries.len() + usize::from(is_new) <= inner.limits.max_entries
                && inner.bytes - replaced + size <= inner.limits.max_bytes
        };
        // A clock that went back since the last sweep allows one at once.
        if !fits(self)
            && self
                .swept
                .is_none_or(|swept| now < swept || now - swept >= PRESSURE_SWEEP)
        {
            self.sweep(now);
        }
        while !fits(self) {
            let Some((seq, victim)) = self.flows.pop_front() else {
                return Err(full());
            };
            if victim != key && self.entries.get(&victim).is_some_and(|e| e.seq == seq) {
                // The gauge counts flows: a browser's count goes with its flows.
                if self.remove(&victim).is_some() && victim.starts_with(EVICTABLE_PREFIXES[0]) {
                    self.evicted += 1;
                }
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if EVICTABLE_PREFIXES
            .iter()
            .any(|prefix| key.starts_with(prefix))
        {
            self.flows.push_back((seq, key.to_owned()));
        }
        self.remove(key);
        self.bytes += size;
        self.entries.insert(
            key.to_owned(),
            Entry {
                value,
                expires,
                seq,
                size,
            },
        );
        Ok(())
    }

    fn live(&self, key: &str, now: DateTime<Utc>) -> Option<&Entry> {
        self.entries.get(key).filter(|e| e.expires > now)
    }
}

impl MemoryStore {
    /// Entries and bytes held now, and flows dropped to keep the bounds since start.
    pub fn usage(&self) -> StoreUsage {
        let inner = lock(&self.inner);
        StoreUsage {
            entries: inner.entries.len() as u64,
            bytes: inner.bytes as u64,
            evicted: inner.evicted,
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let (now, expires) = self.now_and_expiry(ttl);
        lock(&self.inner).insert(key, Value::Bytes(value), expires, now)
    }

    async fn put_new(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        let (now, expires) = self.now_and_expiry(ttl);
        let mut inner = lock(&self.inner);
        if inner.live(key, now).is_some() {
            return Ok(false);
        }
        inner.insert(key, Value::Bytes(value), expires, now)?;
        Ok(true)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = self.clock.now();
        Ok(lock(&self.inner)
            .live(key, now)
            .and_then(|e| match &e.value {
                Value::Bytes(bytes) => Some(bytes.clone()),
                Value::Set(_) | Value::Counter(_) => None,
            }))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = self.clock.now();
        Ok(lock(&self.inner)
            .remove(key)
            .filter(|e| e.expires > now)
            .and_then(|e| e.value.bytes()))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        lock(&self.inner).remove(key);
        Ok(())
    }

    async fn add_member(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let (now, expires) = self.now_and_expiry(ttl);
        let mut inner = lock(&self.inner);
        // Like Redis, an expired set or a plain value under the key is replaced.
        let mut members = match inner.live(key, now).map(|e| &e.value) {
            Some(Value::Set(members)) => members.clone(),
            _ => BTreeSet::new(),
        };
        members.insert(member.to_owned());
        inner.insert(key, Value::Set(members), expires, now)
    }

    async fn take_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let now = self.clock.now();
        Ok(lock(&self.inner)
            .remove(key)
            .filter(|e| e.expires > now)
            .map(|e| match e.value {
                Value::Set(members) => members.into_iter().collect(),
                Value::Bytes(_) | Value::Counter(_) => Vec::new(),
            })
            .unwrap_or_default())
    }

    async fn increment(&self, key: &str, window: Duration) -> Result<u64, StoreError> {
        let (now, window_ends) = self.now_and_expiry(window);
        let mut inner = lock(&self.inner);
        if let Some(Entry {
            value: Value::Counter(count),
            expires,
            ..
        }) = inner.entries.get_mut(key)
            && *expires > now
        {
            *count += 1;
            return Ok(*count);
        }
        // Absent, expired, or another kind of value: a new window starts.
        inner.insert(key, Value::Counter(1), window_ends, now)?;
        Ok(1)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn usage(&self) -> Option<StoreUsage> {
        Some(MemoryStore::usage(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    const TTL: Duration = Duration::from_secs(60);

    fn store_of(max_entries: usize, max_bytes: usize) -> MemoryStore {
        MemoryStore::bounded(
            Limits {
                max_entries,
                max_bytes,
            },
            Arc::new(SystemClock),
        )
    }

    #[tokio::test]
    async fn the_oldest_flows_go_first_and_nothing_else_is_ever_dropped() {
        let store = store_of(4, 1 << 20);
        store.put("revoked:a", b"1".to_vec(), TTL).await.unwrap();
        store.increment("throttle:x", TTL).await.unwrap();
        store.put("login:1", b"f1".to_vec(), TTL).await.unwrap();
        store.put("login:2", b"f2".to_vec(), TTL).await.unwrap();
        // Full: a new flow pushes out the oldest one.
        store.put("login:3", b"f3".to_vec(), TTL).await.unwrap();
        assert_eq!(store.get("login:1").await.unwrap(), None);
        assert!(store.get("login:2").await.unwrap().is_some());
        assert_eq!(store.usage().evicted, 1);
        // Rewriting a flow moves it to the back of the line.
        store.put("login:2", b"f2'".to_vec(), TTL).await.unwrap();
        store.put("login:4", b"f4".to_vec(), TTL).await.unwrap();
        assert_eq!(store.get("login:3").await.unwrap(), None);
        assert!(store.get("login:2").await.unwrap().is_some());
        // Security state pushes out the last two flows, then writes fail.
        store.put("jti:1", b"1".to_vec(), TTL).await.unwrap();
        store.put("jti:2", b"1".to_vec(), TTL).await.unwrap();
        assert_eq!(store.usage().evicted, 4);
        assert!(store.put("jti:3", b"1".to_vec(), TTL).await.is_err());
        assert!(store.put_new("jti:4", b"1".to_vec(), TTL).await.is_err());
        assert!(store.increment("throttle:new", TTL).await.is_err());
        for kept in ["revoked:a", "jti:1", "jti:2"] {
            assert!(store.get(kept).await.unwrap().is_some(), "{kept}");
        }
        assert_eq!(store.increment("throttle:x", TTL).await.unwrap(), 2);
        assert_eq!(store.usage().entries, 4);
    }

    /// A cookieless flood from one network: each request is a new browser, with a count
    /// of its pending logins and a flow. Both go, oldest first; the network's count,
    /// which refuses the flood, stays.
    #[tokio::test]
    async fn the_counts_of_new_browsers_go_with_their_flows_and_the_network_count_stays() {
        let store = store_of(4, 1 << 20);
        for i in 0..100 {
            store
                .increment(&format!("flows:browser:{i}"), TTL)
                .await
                .unwrap();
            store.increment("flows:ip:n", TTL).await.unwrap();
            store
                .put(&format!("login:{i}"), b"f".to_vec(), TTL)
                .await
                .unwrap();
        }
        assert_eq!(store.increment("flows:ip:n", TTL).await.unwrap(), 101);
        assert_eq!(store.increment("flows:browser:99", TTL).await.unwrap(), 2);
        assert!(store.get("login:99").await.unwrap().is_some());
        assert!(store.get("login:98").await.unwrap().is_some());
        assert_eq!(store.get("login:97").await.unwrap(), None);
        let usage = store.usage();
        assert_eq!(usage.entries, 4);
        // The gauge counts the flows dropped (0 to 97), not their browsers' counts.
        assert_eq!(usage.evicted, 98);
        // A dropped count starts again.
        assert_eq!(store.increment("flows:browser:98", TTL).await.unwrap(), 1);
    }

    /// Request counts (one per network and minute) go, oldest first, like flows; the
    /// counts that guard a secret (login throttles, a network's pending logins) stay.
    #[tokio::test]
    async fn old_request_counts_make_room_and_throttle_counts_stay() {
        let store = store_of(3, 1 << 20);
        store.increment("throttle:login:n", TTL).await.unwrap();
        store.increment("flows:ip:n", TTL).await.unwrap();
        for i in 0..50 {
            store
                .increment(&format!("ratelimit:ip:{i}"), TTL)
                .await
                .unwrap();
        }
        assert_eq!(store.increment("ratelimit:ip:49", TTL).await.unwrap(), 2);
        assert_eq!(store.increment("throttle:login:n", TTL).await.unwrap(), 2);
        assert_eq!(store.increment("flows:ip:n", TTL).await.unwrap(), 2);
        assert_eq!(store.usage().entries, 3);
    }

    /// A flood keeps the store full: making room must not sweep the whole map on every
    /// write (that held the lock for milliseconds per request), only once a second.
    #[tokio::test]
    async fn a_full_store_sweeps_for_expired_entries_at_most_once_a_second() {
        let clock = Arc::new(FixedClock::new(
            DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
        ));
        let store = MemoryStore::bounded(
            Limits {
                max_entries: 2,
                max_bytes: 1 << 20,
            },
            clock.clone(),
        );
        let short = Duration::from_millis(1);
        let wait_until_expired = || clock.advance(TimeDelta::milliseconds(20));
        store.put("jti:a", b"1".to_vec(), short).await.unwrap();
        store.put("jti:b", b"1".to_vec(), TTL).await.unwrap();
        wait_until_expired();
        // Full, but one entry has expired: the write sweeps it away.
        store.put("jti:c", b"1".to_vec(), TTL).await.unwrap();
        store.delete("jti:c").await.unwrap();
        store.put("jti:d", b"1".to_vec(), short).await.unwrap();
        wait_until_expired();
        // Full again with an expired entry, but the last sweep was just now.
        assert!(store.put("jti:e", b"1".to_vec(), TTL).await.is_err());
        clock.advance(PRESSURE_SWEEP);
        store.put("jti:e", b"1".to_vec(), TTL).await.unwrap();
        assert!(store.get("jti:b").await.unwrap().is_some());
        assert_eq!(store.usage().entries, 2);
    }

    /// Entries expire on the store's clock, not on the wall clock; a clock that went
    /// back keeps them (a spent `jti` or a revocation never comes back to life).
    #[tokio::test]
    async fn entries_expire_on_the_injected_clock_and_a_clock_going_back_keeps_them() {
        let clock = Arc::new(FixedClock::new(
            DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
        ));
        let store = MemoryStore::bounded(Limits::default(), clock.clone());
        store.put("code:a", b"1".to_vec(), TTL).await.unwrap();
        store.add_member("set", "m", TTL).await.unwrap();
        assert_eq!(store.increment("count", TTL).await.unwrap(), 1);
        clock.advance(TimeDelta::seconds(-3600));
        assert!(store.get("code:a").await.unwrap().is_some());
        clock.advance(TimeDelta::seconds(3600 + 59));
        assert!(store.get("code:a").await.unwrap().is_some());
        assert_eq!(store.increment("count", TTL).await.unwrap(), 2);
        clock.advance(TimeDelta::seconds(1));
        assert_eq!(store.get("code:a").await.unwrap(), None);
        assert_eq!(store.take("code:a").await.unwrap(), None);
        assert!(store.take_members("set").await.unwrap().is_empty());
        assert!(store.put_new("code:a", b"2".to_vec(), TTL).await.unwrap());
        // The window ended: the count starts again.
        assert_eq!(store.increment("count", TTL).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn bytes_are_bounded_and_accounted_through_every_operation() {
        let store = store_of(1000, 4096);
        for i in 0..100 {
            store
                .put(&format!("login:{i}"), vec![0; 500], TTL)
                .await
                .unwrap();
            assert!(store.usage().bytes <= 4096);
        }
        assert!(store.usage().evicted >= 90);
        store.add_member("set", "a", TTL).await.unwrap();
        store.add_member("set", "b", TTL).await.unwrap();
        assert_eq!(store.take_members("set").await.unwrap().len(), 2);
        let before = store.usage().bytes;
        store.put("k", vec![1; 100], TTL).await.unwrap();
        store.take("k").await.unwrap();
        store.delete("nothing").await.unwrap();
        assert_eq!(store.usage().bytes, before);
        // A value larger than the whole bound is refused outright.
        assert!(store.put("big", vec![0; 8192], TTL).await.is_err());
    }
}
