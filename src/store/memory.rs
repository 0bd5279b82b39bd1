//! The in-process store: a map guarded by a mutex, with expiry checked on every read and
//! a periodic sweep so that abandoned entries do not accumulate.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Store, StoreError};

#[derive(Default)]
pub struct MemoryStore {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

struct Entry {
    value: Value,
    expires: Instant,
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
}

const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

impl MemoryStore {
    /// Creates the store and, inside a tokio runtime, its background sweeper. The
    /// sweeper holds only a weak reference, so it ends when the store is dropped.
    pub fn new() -> Self {
        let store = MemoryStore::default();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&store.entries);
            runtime.spawn(async move {
                let mut interval = tokio::time::interval(SWEEP_INTERVAL);
                loop {
                    interval.tick().await;
                    let Some(entries) = weak.upgrade() else { break };
                    let now = Instant::now();
                    lock(&entries).retain(|_, e| e.expires > now);
                }
            });
        }
        store
    }
}

// A panic while the lock is held cannot leave an entry half-written (each operation
// is a single map call), so a poisoned lock is safe to keep using.
fn lock(entries: &Mutex<HashMap<String, Entry>>) -> MutexGuard<'_, HashMap<String, Entry>> {
    entries
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait]
impl Store for MemoryStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let expires = Instant::now() + ttl;
        let value = Value::Bytes(value);
        lock(&self.entries).insert(key.to_owned(), Entry { value, expires });
        Ok(())
    }

    async fn put_new(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut entries = lock(&self.entries);
        if entries.get(key).is_some_and(|e| e.expires > now) {
            return Ok(false);
        }
        let value = Value::Bytes(value);
        entries.insert(
            key.to_owned(),
            Entry {
                value,
                expires: now + ttl,
            },
        );
        Ok(true)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = Instant::now();
        Ok(lock(&self.entries)
            .get(key)
            .filter(|e| e.expires > now)
            .and_then(|e| match &e.value {
                Value::Bytes(bytes) => Some(bytes.clone()),
                Value::Set(_) | Value::Counter(_) => None,
            }))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = Instant::now();
        Ok(lock(&self.entries)
            .remove(key)
            .filter(|e| e.expires > now)
            .and_then(|e| e.value.bytes()))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        lock(&self.entries).remove(key);
        Ok(())
    }

    async fn add_member(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let mut entries = lock(&self.entries);
        let entry = entries.entry(key.to_owned()).or_insert_with(|| Entry {
            value: Value::Set(BTreeSet::new()),
            expires: now,
        });
        // Like Redis, an expired set or a plain value under the key is replaced.
        if entry.expires <= now || !matches!(entry.value, Value::Set(_)) {
            entry.value = Value::Set(BTreeSet::new());
        }
        if let Value::Set(members) = &mut entry.value {
            members.insert(member.to_owned());
        }
        entry.expires = now + ttl;
        Ok(())
    }

    async fn take_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let now = Instant::now();
        Ok(lock(&self.entries)
            .remove(key)
            .filter(|e| e.expires > now)
            .map(|e| match e.value {
                Value::Set(members) => members.into_iter().collect(),
                Value::Bytes(_) | Value::Counter(_) => Vec::new(),
            })
            .unwrap_or_default())
    }

    async fn increment(&self, key: &str, window: Duration) -> Result<u64, StoreError> {
        let now = Instant::now();
        let mut entries = lock(&self.entries);
        match entries.get_mut(key) {
            Some(Entry {
                value: Value::Counter(count),
                expires,
            }) if *expires > now => {
                *count += 1;
                Ok(*count)
            }
            // Absent, expired, or another kind of value: a new window starts.
            _ => {
                let value = Value::Counter(1);
                let expires = now + window;
                entries.insert(key.to_owned(), Entry { value, expires });
                Ok(1)
            }
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
