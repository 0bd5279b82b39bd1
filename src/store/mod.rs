//! Short-lived shared state: login sessions, pending logins and authorization codes
//! (later also revocation lists). The only module that knows redis.
//!
//! [`Store`] has two implementations: [`redis::RedisStore`] for deployments of several
//! instances, and [`memory::MemoryStore`], the embedded default for a single instance.
//! Both honour the same contract, checked by one behavioural test suite:
//! values expire after their TTL, and [`Store::take`] is atomic, so a value can be
//! taken once only (this is what makes authorization codes single-use).
//!
//! Whose time a TTL runs on differs. The in-process store expires entries on the
//! injected [`crate::clock::Clock`], like every other expiry in the server; Redis
//! expires them on its own clock (`PX`, `PEXPIRE`), which the server cannot move. In
//! production both follow real time. A test that advances its fixed clock past a TTL
//! sees the entry gone from the in-process store and still present in Redis, so such a
//! test must not depend on the entry's presence either way (the values that matter
//! carry their own expiry, checked against the clock by their owners, as a code's or a
//! flow's does); a test that needs an entry to expire waits in real time, on both.

pub mod keys;
pub mod memory;
pub mod redis;

use std::time::Duration;

use async_trait::async_trait;

/// What a bounded store holds (the in-process store; Redis reports its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreUsage {
    pub entries: u64,
    pub bytes: u64,
    /// Login flows dropped to keep the bounds, since start.
    pub evicted: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The in-process store has no room left for this write within its bounds. It logs
    /// these itself, counted and at most once a minute (`store::memory`).
    #[error("store full: {0}")]
    Full(&'static str),
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Sets `key` to `value`, replacing any value, for `ttl`.
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError>;

    /// Sets `key` only if it holds no live value; `true` if this call set it. Of several
    /// concurrent callers, exactly one gets `true` (what makes assertion ids single-use).
    async fn put_new(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError>;

    /// Reads `key` unless it has expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Reads several keys at one instant, in one round trip where the store is remote.
    /// On a Redis Cluster the keys must share a hash tag (one slot).
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key).await?);
        }
        Ok(values)
    }

    /// Reads and deletes `key` in one atomic step: of several concurrent callers, one at
    /// most receives the value.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Adds `member` to the set at `key` and sets the set's TTL to `ttl`. Adding is
    /// atomic, so concurrent adds are never lost (unlike a read-modify-write of a value).
    async fn add_member(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError>;

    /// Reads and deletes the set at `key` in one atomic step (empty if none).
    async fn take_members(&self, key: &str) -> Result<Vec<String>, StoreError>;

    /// Adds one to the counter at `key` and returns the new count. The first increment
    /// starts the counter's `window`; it vanishes when the window ends (a fixed-window
    /// counter, for rate limits shared by every instance).
    async fn increment(&self, key: &str, window: Duration) -> Result<u64, StoreError>;

    /// Checks that the store answers (for readiness).
    async fn ping(&self) -> Result<(), StoreError>;

    /// What the store holds, where it keeps the count itself (the in-process store).
    fn usage(&self) -> Option<StoreUsage> {
        None
    }
}
