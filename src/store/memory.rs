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
//! **Replay markers** (the spent `jti`s of client assertions, DPoP proofs and request
//! objects, `store::keys::REPLAY_MARKERS`) live apart, in a set of their keys' digests,
//! and may take at most half of the byte bound ([`MARKER_SHARE`]). Any client with a key
//! writes one per request: at about 5,000 signed requests a second they once filled the
//! whole store within a minute, and from then on every write failed, logins included.
//! Now a full share refuses only new markers (the signed request gets 503, the safe
//! answer: a marker is never dropped to make room), and sessions, codes and flows keep
//! the other half at least. A marker costs a sixth of a session ([`MARKER_COST`]), so
//! the share holds about 109,000 of them under the default bound.
//!
//! **What a byte of the bound is.** Each entry is charged its key and value plus what the
//! map spends on it ([`ENTRY_OVERHEAD`], [`MARKER_COST`]: measured, see
//! `footprint_per_entry_kind` below), so that `max_bytes` bounds the memory the store
//! really holds, not only its payload.
//!
//! A full store logs its refusals at most once a minute, with their count
//! ([`StoreError::Full`]): one line per refused request would flood the log during the
//! very flood that filled it. `/metrics` counts every one.
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
use ring::digest::{SHA256, digest};

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
///
/// So do the records of redeemed codes, kept for the access token's lifetime only so
/// that a replayed code can revoke what it gave (RFC 6749 §4.1.2): thousands of single
/// sign-ons a second filled the store with them, and then every new login was refused
/// (docs/PERFORMANCE.md, the run of record of issue 18). Dropping one costs that
/// revocation, never a code's single use: the code itself was taken when redeemed.
const EVICTABLE_PREFIXES: [&str; 4] = super::keys::EVICTABLE;
/// The shortest time between two sweeps made to find room (the periodic one aside).
const PRESSURE_SWEEP: TimeDelta = TimeDelta::seconds(1);
/// What one entry costs beyond its key and value: its slot in the map (81 bytes) at the
/// table's lowest load (7/16, just after it grew), the smaller tables it grew from, which
/// the allocator keeps, and the allocator's rounding of its key and value. Measured, with
/// the next two (`footprint_per_entry_kind`): the real cost stays within a few per cent
/// of the charge at the table's lowest load, and 10 to 30 % below it at 100,000 entries.
const ENTRY_OVERHEAD: usize = 240;
/// What an evictable entry costs beyond that and a second copy of its key: its place in
/// the eviction queue, at the queue's lowest load.
const QUEUE_OVERHEAD: usize = 80;
/// What one replay marker costs, all told: a 128-bit digest and an expiry in a table of
/// its own (33 bytes a slot), at the table's lowest load.
const MARKER_COST: usize = 96;
/// The part of `max_bytes` that replay markers may take, at most.
const MARKER_SHARE: usize = 2;
/// How often a full store says so in the log, at most.
const FULL_LOG_INTERVAL: TimeDelta = TimeDelta::seconds(60);

/// The bounds of the in-process store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Entries other than replay markers (the markers' table is bounded by its bytes).
    pub max_entries: usize,
    /// Every entry, replay markers included, as charged (see the module's header).
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 100_000,
            max_bytes: 20 * 1024 * 1024,
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
    /// Replay markers: the first 128 bits of each key's SHA-256, and when it expires
    /// (Unix milliseconds). 128 bits: two of a million live markers collide with a
    /// chance of one in 10^26, and a collision would only refuse a request.
    markers: HashMap<u128, i64>,
    /// Evictable keys in the order they were written, with the write's sequence number
    /// (an entry rewritten since has a newer one, and its old place is skipped).
    flows: VecDeque<(u64, String)>,
    next_seq: u64,
    evicted: u64,
    limits: Limits,
    /// When the map was last swept for expired entries.
    swept: Option<DateTime<Utc>>,
    refusals: Refusals,
}

/// Writes refused since the last line in the log.
#[derive(Default)]
struct Refusals {
    markers: u64,
    others: u64,
    logged: Option<DateTime<Utc>>,
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

/// The digest a replay marker is kept under, if `key` names one.
fn marker_digest(key: &str) -> Option<u128> {
    if !super::keys::REPLAY_MARKERS
        .iter()
        .any(|prefix| key.starts_with(prefix))
    {
        return None;
    }
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest(&SHA256, key.as_bytes()).as_ref()[..16]);
    Some(u128::from_le_bytes(first))
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

/// Tables this much larger than what they hold give memory back after a sweep.
const SHRINK_FACTOR: usize = 4;

fn shrink<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > 1024 && map.capacity() > SHRINK_FACTOR * map.len() {
        map.shrink_to(2 * map.len());
    }
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
        let now_ms = now.timestamp_millis();
        self.markers.retain(|_, expires| *expires > now_ms);
        let entries = &self.entries;
        self.flows
            .retain(|(seq, key)| entries.get(key).is_some_and(|e| e.seq == *seq));
        // After a flood, the tables would otherwise keep their peak size for good.
        shrink(&mut self.entries);
        shrink(&mut self.markers);
        if self.flows.capacity() > 1024 && self.flows.capacity() > SHRINK_FACTOR * self.flows.len()
        {
            self.flows.shrink_to(2 * self.flows.len());
        }
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.bytes -= entry.size;
        Some(entry)
    }

    fn marker_bytes(&self) -> usize {
        self.markers.len() * MARKER_COST
    }

    /// Sweeps for expired entries, unless the last sweep is younger than
    /// [`PRESSURE_SWEEP`] (a clock that went back since allows one at once).
    fn sweep_under_pressure(&mut self, now: DateTime<Utc>) {
        if self
            .swept
            .is_none_or(|swept| now < swept || now - swept >= PRESSURE_SWEEP)
        {
            self.sweep(now);
        }
    }

    /// Drops the oldest flow still in the store; `false` if none is left (or only
    /// `keep`, the key being written).
    fn evict_one(&mut self, keep: &str) -> bool {
        while let Some((seq, victim)) = self.flows.pop_front() {
            if victim != keep && self.entries.get(&victim).is_some_and(|e| e.seq == seq) {
                // The gauge counts flows: a browser's count goes with its flows.
                if self.remove(&victim).is_some() && victim.starts_with(EVICTABLE_PREFIXES[0]) {
                    self.evicted += 1;
                }
                return true;
            }
        }
        false
    }

    /// A write refused for lack of room: counted, and logged at most once per
    /// [`FULL_LOG_INTERVAL`] with the count since the last line.
    fn refuse(&mut self, marker: bool, now: DateTime<Utc>) -> StoreError {
        let refusals = &mut self.refusals;
        if marker {
            refusals.markers += 1;
        } else {
            refusals.others += 1;
        }
        if refusals
            .logged
            .is_none_or(|logged| now < logged || now - logged >= FULL_LOG_INTERVAL)
        {
            tracing::error!(
                replay_markers_refused = refusals.markers,
                other_writes_refused = refusals.others,
                entries = self.entries.len(),
                replay_markers = self.markers.len(),
                bytes = self.bytes + self.markers.len() * MARKER_COST,
                "the in-process store is full (redis.in_process_max_entries / \
                 redis.in_process_max_bytes): writes refused since the last report"
            );
            *refusals = Refusals {
                logged: Some(now),
                ..Refusals::default()
            };
        }
        StoreError::Full(if marker {
            "no room for replay markers in the in-process store"
        } else {
            "the in-process store is full"
        })
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
        // serde_json leaves up to twice a value's length allocated: charged by its
        // length, a value must hold no more.
        let value = match value {
            Value::Bytes(mut bytes) => {
                bytes.shrink_to_fit();
                Value::Bytes(bytes)
            }
            other => other,
        };
        let evictable = EVICTABLE_PREFIXES
            .iter()
            .any(|prefix| key.starts_with(prefix));
        let queued = if evictable {
            key.len() + QUEUE_OVERHEAD
        } else {
            0
        };
        let size = key.len() + value.size() + ENTRY_OVERHEAD + queued;
        let replaced = self.entries.get(key).map_or(0, |e| e.size);
        let is_new = !self.entries.contains_key(key);
        let fits = |inner: &Inner| {
            inner.entries.len() + usize::from(is_new) <= inner.limits.max_entries
                && inner.bytes - replaced + size + inner.marker_bytes() <= inner.limits.max_bytes
        };
        if !fits(self) {
            self.sweep_under_pressure(now);
        }
        while !fits(self) {
            if !self.evict_one(key) {
                return Err(self.refuse(false, now));
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if evictable {
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

    /// Writes a replay marker, within its share of the bytes: making room may sweep
    /// expired entries and drop flows, never another marker.
    fn insert_marker(
        &mut self,
        digest: u128,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let limits = self.limits;
        let is_new = !self.markers.contains_key(&digest);
        let room_in_share =
            |inner: &Inner| inner.marker_bytes() + MARKER_COST <= limits.max_bytes / MARKER_SHARE;
        let fits =
            |inner: &Inner| inner.bytes + inner.marker_bytes() + MARKER_COST <= limits.max_bytes;
        if is_new && !(room_in_share(self) && fits(self)) {
            self.sweep_under_pressure(now);
            if !room_in_share(self) {
                return Err(self.refuse(true, now));
            }
            while !fits(self) {
                if !self.evict_one("") {
                    return Err(self.refuse(true, now));
                }
            }
        }
        self.markers.insert(digest, expires.timestamp_millis());
        Ok(())
    }

    fn live(&self, key: &str, now: DateTime<Utc>) -> Option<&Entry> {
        self.entries.get(key).filter(|e| e.expires > now)
    }

    fn live_marker(&self, digest: u128, now: DateTime<Utc>) -> bool {
        self.markers
            .get(&digest)
            .is_some_and(|expires| *expires > now.timestamp_millis())
    }

    /// Removes whatever `key` names (a marker and an entry, if both exist).
    fn remove_any(&mut self, key: &str, now: DateTime<Utc>) -> Option<Vec<u8>> {
        let marker = marker_digest(key)
            .and_then(|digest| self.markers.remove(&digest))
            .filter(|expires| *expires > now.timestamp_millis())
            .map(|_| Vec::new());
        let entry = self
            .remove(key)
            .filter(|e| e.expires > now)
            .and_then(|e| e.value.bytes());
        entry.or(marker)
    }
}

impl MemoryStore {
    /// Entries (replay markers included) and bytes held now, and flows dropped to keep
    /// the bounds since start.
    pub fn usage(&self) -> StoreUsage {
        let inner = lock(&self.inner);
        StoreUsage {
            entries: (inner.entries.len() + inner.markers.len()) as u64,
            bytes: (inner.bytes + inner.marker_bytes()) as u64,
            evicted: inner.evicted,
        }
    }

    /// Writes `value` under `key`: a replay marker (its key names one and it has no
    /// value) goes to the markers' set, anything else to the map.
    fn write(
        inner: &mut Inner,
        key: &str,
        value: Vec<u8>,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let digest = marker_digest(key);
        match digest.filter(|_| value.is_empty()) {
            Some(digest) => {
                inner.insert_marker(digest, expires, now)?;
                inner.remove(key);
            }
            None => {
                inner.insert(key, Value::Bytes(value), expires, now)?;
                if let Some(digest) = digest {
                    inner.markers.remove(&digest);
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let (now, expires) = self.now_and_expiry(ttl);
        Self::write(&mut lock(&self.inner), key, value, expires, now)
    }

    async fn put_new(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        let (now, expires) = self.now_and_expiry(ttl);
        let mut inner = lock(&self.inner);
        let marked = marker_digest(key).is_some_and(|digest| inner.live_marker(digest, now));
        if marked || inner.live(key, now).is_some() {
            return Ok(false);
        }
        Self::write(&mut inner, key, value, expires, now)?;
        Ok(true)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = self.clock.now();
        let inner = lock(&self.inner);
        if marker_digest(key).is_some_and(|digest| inner.live_marker(digest, now)) {
            return Ok(Some(Vec::new()));
        }
        Ok(inner.live(key, now).and_then(|e| match &e.value {
            Value::Bytes(bytes) => Some(bytes.clone()),
            Value::Set(_) | Value::Counter(_) => None,
        }))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = self.clock.now();
        Ok(lock(&self.inner).remove_any(key, now))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let now = self.clock.now();
        lock(&self.inner).remove_any(key, now);
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

    /// Replay markers keep to their share of the bytes: past it only new markers are
    /// refused, and sessions and login flows still find room; expired markers make room
    /// again. A spent marker stays spent throughout.
    #[tokio::test]
    async fn replay_markers_keep_to_their_share_and_never_crowd_out_sessions_or_logins() {
        let clock = Arc::new(FixedClock::new(
            DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
        ));
        let max_bytes = 64 * MARKER_COST;
        let store = MemoryStore::bounded(
            Limits {
                max_entries: 1000,
                max_bytes,
            },
            clock.clone(),
        );
        let marker = |i: usize| crate::store::keys::dpop_proof("jkt", &i.to_string());
        let mut written = 0;
        for i in 0..100 {
            let result = store.put_new(&marker(i), Vec::new(), TTL).await;
            if matches!(result, Err(StoreError::Full(_))) {
                break;
            }
            assert!(result.unwrap());
            written += 1;
        }
        assert_eq!(written, max_bytes / MARKER_SHARE / MARKER_COST);
        assert!(!store.put_new(&marker(0), Vec::new(), TTL).await.unwrap());
        // The rest of the bound is the others': a session, a code, a login flow.
        let hour = Duration::from_secs(3600);
        for key in ["session:s", "code:c", "login:f"] {
            store.put(key, vec![1; 100], hour).await.unwrap();
        }
        // Expired markers make room for new ones (once the last sweep is old enough).
        clock.advance(TimeDelta::from_std(TTL).unwrap() + PRESSURE_SWEEP);
        assert!(store.put_new(&marker(1000), Vec::new(), TTL).await.unwrap());
        assert!(store.get("session:s").await.unwrap().is_some());
    }

    /// Within their share, markers take room from login flows like any write, never from
    /// what may not be dropped.
    #[tokio::test]
    async fn a_replay_marker_pushes_out_the_oldest_flow_when_the_store_is_full() {
        let store = store_of(1000, 16 * MARKER_COST);
        let mut flows = 0;
        while store
            .put(&format!("login:{flows}"), vec![0; 8], TTL)
            .await
            .is_ok()
            && store.usage().evicted == 0
        {
            flows += 1;
        }
        let marker = crate::store::keys::client_assertion("client", "jti");
        assert!(store.put_new(&marker, Vec::new(), TTL).await.unwrap());
        assert!(store.get(&marker).await.unwrap().is_some());
        assert!(store.get("login:0").await.unwrap().is_none());
    }

    /// A marker is a value like any other to the store's callers: read, taken once,
    /// deleted; a value written under a marker's key replaces it.
    #[tokio::test]
    async fn replay_markers_honour_the_store_contract() {
        let store = MemoryStore::new();
        let key = crate::store::keys::request_object("client", "jti");
        assert_eq!(store.get(&key).await.unwrap(), None);
        assert!(store.put_new(&key, Vec::new(), TTL).await.unwrap());
        assert!(!store.put_new(&key, Vec::new(), TTL).await.unwrap());
        assert_eq!(store.get(&key).await.unwrap(), Some(Vec::new()));
        assert_eq!(store.take(&key).await.unwrap(), Some(Vec::new()));
        assert_eq!(store.take(&key).await.unwrap(), None);
        store.put(&key, Vec::new(), TTL).await.unwrap();
        store.put(&key, b"v".to_vec(), TTL).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap(), Some(b"v".to_vec()));
        store.delete(&key).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap(), None);
        assert_eq!(store.usage().entries, 0);
        assert_eq!(store.usage().bytes, 0);
    }

    const FOOTPRINT_KINDS: [&str; 5] =
        ["replay_marker", "login_flow", "session", "counter", "empty"];
    /// 58,000 entries: just past a table's growth to 131,072 slots, its lowest load, so
    /// the most each entry costs; 100,000: the default bound.
    const FOOTPRINT_ENTRIES: [usize; 2] = [58_000, 100_000];

    /// What each kind of entry really costs (the process's RSS grows by it), against
    /// what the store charges for it. Each kind is measured in a process of its own:
    /// `cargo test --release --lib store::memory::tests::footprint -- --ignored --nocapture`.
    #[test]
    #[ignore = "measures the process's RSS: run alone, in release"]
    fn footprint_per_entry_kind() {
        if let Ok(kind) = std::env::var("FOOTPRINT_KIND") {
            let entries = std::env::var("FOOTPRINT_ENTRIES").unwrap().parse().unwrap();
            let (real, charged) = footprint(&kind, entries);
            println!("footprint\t{kind}\t{real}\t{charged}");
            return;
        }
        let exe = std::env::current_exe().unwrap();
        println!("kind\tentries\treal bytes per entry\tcharged");
        for (kind, entries) in FOOTPRINT_KINDS
            .into_iter()
            .flat_map(|kind| FOOTPRINT_ENTRIES.map(|entries| (kind, entries)))
        {
            let out = std::process::Command::new(&exe)
                .args(["--exact", "store::memory::tests::footprint_per_entry_kind"])
                .args(["--ignored", "--nocapture", "--test-threads=1"])
                .env("FOOTPRINT_KIND", kind)
                .env("FOOTPRINT_ENTRIES", entries.to_string())
                .output()
                .unwrap();
            let out = String::from_utf8(out.stdout).unwrap();
            // The harness may print its own "test ... " before the line.
            let at = out.find("footprint\t").unwrap();
            let fields: Vec<&str> = out[at..].lines().next().unwrap().split('\t').collect();
            println!("{}\t{entries}\t{}\t{}", fields[1], fields[2], fields[3]);
            let (real, charged): (usize, usize) =
                (fields[2].parse().unwrap(), fields[3].parse().unwrap());
            // The bound holds if no kind costs much more than it is charged.
            if kind != "empty" {
                assert!(real <= charged + charged / 10, "{kind}: {real} > {charged}");
            }
        }
    }

    fn rss_bytes() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    /// Real and charged bytes per entry of `kind`, over `entries` entries.
    fn footprint(kind: &str, entries: usize) -> (usize, usize) {
        let clock = Arc::new(FixedClock::new(
            DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
        ));
        let store = MemoryStore::bounded(
            Limits {
                max_entries: usize::MAX,
                max_bytes: usize::MAX,
            },
            clock,
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // Values of the sizes the server writes: a pending login flow (bench/flood: about
        // 700 bytes of JSON), a session (about 300).
        let before = rss_bytes();
        runtime.block_on(async {
            for entry in 0..entries {
                // As long as a random token (43 characters); the store's layer may not
                // call `tokens`.
                let token = format!("{entry:043}");
                let result = match kind {
                    "replay_marker" => store
                        .put_new(
                            &crate::store::keys::dpop_proof(&token, "j"),
                            Vec::new(),
                            TTL,
                        )
                        .await
                        .map(drop),
                    // Grown as serde_json grows it, past its length.
                    "login_flow" => {
                        let value = serde_json::to_vec(&"x".repeat(698)).unwrap();
                        store
                            .put(&crate::store::keys::login_flow(&token), value, TTL)
                            .await
                    }
                    "session" => {
                        store
                            .put(&crate::store::keys::session(&token), vec![b'x'; 300], TTL)
                            .await
                    }
                    "counter" => store
                        .increment(
                            &crate::store::keys::login_throttle_by_number("failures", &token),
                            TTL,
                        )
                        .await
                        .map(drop),
                    _ => Ok(()),
                };
                result.unwrap();
            }
        });
        let real = rss_bytes().saturating_sub(before) / entries;
        let charged = store.usage().bytes as usize / entries;
        (real, charged)
    }
}
