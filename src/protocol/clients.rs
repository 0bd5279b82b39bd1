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

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::cache::TtlCache;
use crate::domain::client::Client;
use crate::federation::registration::{self, FederatedClientError};
use crate::storage::{Db, StorageError, clients};

/// How long a cached registration is trusted before it is read again.
pub const TTL: Duration = Duration::seconds(5);

/// Registered clients are few (a country's portals and apps: thousands at most).
pub const MAX_ENTRIES: usize = 10_000;

/// How long an entity identifier whose trust chain did not resolve is left alone: a
/// made-up client id at `/par` or `/authorize` costs the server requests to the
/// network, so a repeated one costs none for this long.
pub const UNRESOLVED_TTL: Duration = Duration::seconds(60);

pub struct ClientCache {
    entries: TtlCache<String, Arc<Client>>,
    /// Clients registered through the federation, until their chain must be resolved
    /// again (see `federation::registration`).
    federated: TtlCache<String, Arc<Client>>,
    unresolved: TtlCache<String, ()>,
    /// One resolution at a time per entity identifier: requests racing with the same
    /// (perhaps made-up) `client_id` wait for the first one's answer instead of each
    /// sending the network requests of a resolution. An entry lives while a
    /// resolution runs.
    flights: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Default for ClientCache {
    fn default() -> Self {
        ClientCache {
            entries: TtlCache::new(MAX_ENTRIES),
            federated: TtlCache::new(MAX_ENTRIES),
            unresolved: TtlCache::new(MAX_ENTRIES),
            flights: std::sync::Mutex::new(HashMap::new()),
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
        self.federated.remove(client_id);
    }

    /// The client registered through the federation as `entity_id`: from the cache
    /// while its chain is trusted, else resolved and registered again. `None` when no
    /// chain resolves (or one did not within [`UNRESOLVED_TTL`]), or when an operator
    /// disabled it.
    pub async fn find_federated(
        &self,
        ctx: &super::Context<'_>,
        entity_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Client>, StorageError> {
        if let Some(known) = self.federated_known(entity_id, now) {
            return Ok(known);
        }
        let flight = self.flight(entity_id);
        let _turn = flight.lock().await;
        // Whoever flew first has answered meanwhile.
        let known = self.federated_known(entity_id, now);
        let outcome = match known {
            Some(known) => Ok(known),
            None => self.register_federated(ctx, entity_id, now).await,
        };
        self.land(entity_id, &flight);
        outcome
    }

    /// What the caches say of `entity_id`: `Some(Some(client))` while it is trusted,
    /// `Some(None)` while it recently failed, `None` when it must be resolved.
    fn federated_known(&self, entity_id: &str, now: DateTime<Utc>) -> Option<Option<Client>> {
        if let Some(client) = self.federated.get(entity_id, now) {
            return Some(Some(client.as_ref().clone()));
        }
        self.unresolved.get(entity_id, now).map(|()| None)
    }

    fn flight(&self, entity_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        flights.entry(entity_id.to_owned()).or_default().clone()
    }

    /// Forgets the flight of `entity_id` once nobody else waits on it.
    fn land(&self, entity_id: &str, flight: &Arc<tokio::sync::Mutex<()>>) {
        let mut flights = self
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // The map's reference and ours: no one else is waiting.
        if Arc::strong_count(flight) <= 2 {
            flights.remove(entity_id);
        }
    }

    async fn register_federated(
        &self,
        ctx: &super::Context<'_>,
        entity_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Client>, StorageError> {
        let settings = &ctx.settings.federation;
        match registration::register(
            ctx.db,
            ctx.outbound,
            ctx.federation,
            settings,
            entity_id,
            now,
        )
        .await
        {
            Ok(registered) => {
                // Read again as soon as an operator's registration would be: a client
                // disabled on another instance stops within [`TTL`] here too. The
                // chain itself comes from the resolver's cache meanwhile.
                let until = registered.until.min(now + TTL);
                self.federated.insert(
                    entity_id.to_owned(),
                    Arc::new(registered.client.clone()),
                    now,
                    until,
                );
                Ok(Some(registered.client))
            }
            Err(FederatedClientError::Storage(e)) => Err(e),
            Err(e) => {
                tracing::info!(target: "security", error = %e, "a relying party of the federation was not registered");
                self.unresolved
                    .insert(entity_id.to_owned(), (), now, now + UNRESOLVED_TTL);
                Ok(None)
            }
        }
    }
}
