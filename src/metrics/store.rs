//! A [`Store`] that counts the failures of the store it wraps, by operation, and puts
//! each call in a `store` span (at debug level) so a slow Redis shows in traces.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tracing::Instrument;

use super::Metrics;
use crate::store::{Store, StoreError};

pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Metrics,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn Store>, metrics: Metrics) -> Self {
        MeteredStore { inner, metrics }
    }

    async fn observe<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        call.instrument(tracing::debug_span!("store", operation))
            .await
            .inspect_err(|_| self.metrics.store_error(operation))
    }
}

#[async_trait]
impl Store for MeteredStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        self.observe("put", self.inner.put(key, value, ttl)).await
    }

    async fn put_new(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        self.observe("put_new", self.inner.put_new(key, value, ttl))
            .await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.observe("get", self.inner.get(key)).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.observe("take", self.inner.take(key)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.observe("delete", self.inner.delete(key)).await
    }

    async fn add_member(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        self.observe("add_member", self.inner.add_member(key, member, ttl))
            .await
    }

    async fn take_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        self.observe("take_members", self.inner.take_members(key))
            .await
    }

    async fn increment(&self, key: &str, window: Duration) -> Result<u64, StoreError> {
        self.observe("increment", self.inner.increment(key, window))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.observe("ping", self.inner.ping()).await
    }

    fn usage(&self) -> Option<crate::store::StoreUsage> {
        self.inner.usage()
    }
}
