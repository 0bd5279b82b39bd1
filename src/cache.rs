//! A small bounded cache whose entries expire on the injected clock: the one shape of
//! the per-instance caches (client registrations, register identities, verified access
//! tokens). Time is a parameter, so tests advance a fixed clock instead of sleeping.
//!
//! Invariants:
//! - an entry is served only from the time it was stored until it expires; a clock that
//!   went back makes it stale, never older-but-fresh;
//! - it holds at most `max_entries`: when full, expired entries go, and if none had
//!   expired everything goes (the next requests read afresh). A flood cannot grow it,
//!   and keeping it simple beats tracking which entries are used;
//! - every update replaces whole entries, so a panic elsewhere cannot leave one
//!   half-written: a poisoned lock is still consistent and is taken over.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};

struct Entry<V> {
    value: V,
    stored: DateTime<Utc>,
    expires: DateTime<Utc>,
}

pub struct TtlCache<K, V> {
    max_entries: usize,
    entries: RwLock<HashMap<K, Entry<V>>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(max_entries: usize) -> Self {
        TtlCache {
            max_entries,
            entries: RwLock::default(),
        }
    }

    /// The value stored under `key`, if it is fresh at `now`.
    pub fn get<Q>(&self, key: &Q, now: DateTime<Utc>) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let entries = self.read();
        let entry = entries.get(key)?;
        (entry.stored <= now && now < entry.expires).then(|| entry.value.clone())
    }

    /// Stores `value` under `key` from `now` until `expires`.
    pub fn insert(&self, key: K, value: V, now: DateTime<Utc>, expires: DateTime<Utc>) {
        let mut entries = self.write();
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            entries.retain(|_, e| e.stored <= now && now < e.expires);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                value,
                stored: now,
                expires,
            },
        );
    }

    pub fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.write().remove(key);
    }

    pub fn clear(&self) {
        self.write().clear();
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<K, Entry<V>>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<K, Entry<V>>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn an_entry_is_fresh_from_its_storing_until_its_expiry_only() {
        let cache = TtlCache::new(10);
        cache.insert("k".to_owned(), 1, at(0), at(5));
        assert_eq!(cache.get("k", at(0)), Some(1));
        assert_eq!(cache.get("k", at(4)), Some(1));
        assert_eq!(cache.get("k", at(5)), None);
        // A clock that went back: stale, not fresh.
        assert_eq!(cache.get("k", at(-1)), None);
        cache.remove("k");
        assert!(cache.is_empty());
    }

    #[test]
    fn a_full_cache_drops_expired_entries_then_everything() {
        let cache = TtlCache::new(3);
        cache.insert(1, "a", at(0), at(1));
        cache.insert(2, "b", at(0), at(100));
        cache.insert(3, "c", at(0), at(100));
        // Full: the expired entry goes.
        cache.insert(4, "d", at(10), at(100));
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&1, at(10)), None);
        assert_eq!(cache.get(&2, at(10)), Some("b"));
        // Full of live entries: it starts again with the new one.
        cache.insert(5, "e", at(10), at(10) + Duration::seconds(5));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&5, at(11)), Some("e"));
        // Replacing an entry of a full cache drops nothing.
        let full = TtlCache::new(2);
        full.insert(1, "a", at(0), at(100));
        full.insert(2, "b", at(0), at(100));
        full.insert(2, "b2", at(1), at(100));
        assert_eq!(full.len(), 2);
    }
}
