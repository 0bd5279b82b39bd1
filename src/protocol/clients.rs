//! Client registrations, cached by each instance: the token, introspection and
//! authorization endpoints read the client on every request, and a database round trip
//! for it cost more than the rest of a client_credentials request.
//!
//! Invariants:
//! - a change made through this instance's admin API is seen at once (the API calls
//!   [`ClientCache::invalidate`]);
//! - a change made elsewhere (the CLI, another instance) is seen within [`TTL`]: an
//!   entry older than that is read again. A rotated secret or a deleted client thus
//!   keeps working for at most that long on instances that had it cached;
//! - unknown client ids are not cached, so a flood of made-up ids cannot fill it, and
//!   it holds at most [`MAX_ENTRIES`] clients.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::cache::TtlCache;
use crate::domain::client::Client;
use crate::storage::{Db, StorageError, clients};

/// How long a cached registration is trusted before it is read again.
pub const TTL: Duration = Duration::seconds(5);

/// Registered clients are few (a country's portals and apps: thousands at most).
pub const MAX_ENTRIES: usize = 10_000;

pub struct ClientCache {
    entries: TtlCache<String, Arc<Client>>,
}

impl Default for ClientCache {
    fn default() -> Self {
        ClientCache {
            entries: TtlCache::new(MAX_ENTRIES),
        }
    }
}

impl ClientCache {
    /// The registered client `client_id`, from the cache if it was read less than
    /// [`TTL`] before `now`, else from the database.
    pub async fn find(
        &self,
        db: &Db,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Client>, StorageError> {
        if let Some(client) = self.entries.get(client_id, now) {
            return Ok(Some(client.as_ref().clone()));
        }
        let id = client_id.to_owned();
        let found = db.run(move |conn| clients::find(conn, &id)).await?;
        match &found {
            Some(client) => {
                let cached = Arc::new(client.clone());
                self.entries
                    .insert(client_id.to_owned(), cached, now, now + TTL);
            }
            None => self.entries.remove(client_id),
        }
        Ok(found)
    }

    /// Forgets `client_id`, after this instance changed or deleted it.
    pub fn invalidate(&self, client_id: &str) {
        self.entries.remove(client_id);
    }
}
