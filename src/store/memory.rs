//! The in-process store: a map guarded by a mutex, with expiry checked on every read and
//! a periodic sweep so that abandoned entries do not accumulate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Store, StoreError};

#[derive(Default)]
pub struct MemoryStore {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

struct Entry {
    value: Vec<u8>,
    expires: Instant,
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
        lock(&self.entries).insert(key.to_owned(), Entry { value, expires });
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = Instant::now();
        Ok(lock(&self.entries)
            .get(key)
            .filter(|e| e.expires > now)
            .map(|e| e.value.clone()))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = Instant::now();
        Ok(lock(&self.entries)
            .remove(key)
            .filter(|e| e.expires > now)
            .map(|e| e.value))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        lock(&self.entries).remove(key);
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
