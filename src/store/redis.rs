//! The Redis store, on one Redis server or on a Redis Cluster.
//!
//! One server is reached through the redis crate's reconnecting `ConnectionManager`:
//! one multiplexed connection that transparently reconnects after Redis restarts. A
//! cluster is reached through the crate's cluster connection, which learns the slot
//! map from the nodes it is given, routes each command to the master of its key's slot,
//! and follows the cluster when slots move or a replica is promoted.
//!
//! Both run the same commands (one [`Connection`] over either). Each operation touches
//! exactly one key, so on a cluster it runs on one node; the MULTI pipelines of
//! `add_member`, `take_members` and `increment` name that one key only, so they stay in
//! one slot and keep their atomicity.
//!
//! Every key is prefixed (`redis.key_prefix`), so several deployments, or several test
//! runs, can share one Redis without seeing each other's keys.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::{Store, StoreError};

#[derive(Clone)]
pub struct RedisStore {
    conn: Connection,
    prefix: String,
}

/// Where the store's Redis is.
#[derive(Debug, Clone, Copy)]
pub enum RedisNodes<'a> {
    /// One Redis server (`redis.url`).
    Single(&'a str),
    /// A Redis Cluster, discovered from any of these nodes (`redis.cluster_urls`).
    Cluster(&'a [String]),
}

pub struct RedisOptions<'a> {
    pub nodes: RedisNodes<'a>,
    pub key_prefix: &'a str,
    pub response_timeout: Duration,
    pub connection_timeout: Duration,
}

/// Attempts of one command (after the first) before the store reports it unavailable.
const RETRIES: u32 = 3;

/// One server or a cluster: the store's commands run unchanged on either.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(conn) => conn.req_packed_command(cmd),
            Connection::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(conn) => conn.get_db(),
            Connection::Cluster(conn) => conn.get_db(),
        }
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn millis(ttl: Duration) -> u64 {
    // PX rather than EX: sub-second TTLs must not round down to "no expiry".
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    /// Connects once, so that a wrong URL (or, for a cluster, an unreachable one or a
    /// server that is not in cluster mode) fails at start-up rather than at first login.
    pub async fn connect(options: RedisOptions<'_>) -> Result<Self, StoreError> {
        let conn = match options.nodes {
            RedisNodes::Single(url) => {
                let client = redis::Client::open(url).map_err(unavailable)?;
                let config = ConnectionManagerConfig::new()
                    .set_response_timeout(Some(options.response_timeout))
                    .set_connection_timeout(Some(options.connection_timeout))
                    .set_number_of_retries(RETRIES as usize);
                let manager = ConnectionManager::new_with_config(client, config)
                    .await
                    .map_err(unavailable)?;
                Connection::Single(manager)
            }
            RedisNodes::Cluster(urls) => {
                // The response timeout also bounds a command's retries and redirections
                // (the crate's default), so a lost master costs a request at most this.
                let client = ClusterClient::builder(urls.iter().map(String::as_str))
                    .response_timeout(options.response_timeout)
                    .connection_timeout(options.connection_timeout)
                    .retries(RETRIES)
                    .build()
                    .map_err(unavailable)?;
                Connection::Cluster(client.get_async_connection().await.map_err(unavailable)?)
            }
        };
        Ok(RedisStore {
            conn,
            prefix: options.key_prefix.to_owned(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(millis(ttl))
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn put_new(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut command = redis::cmd("MGET");
        for key in keys {
            command.arg(self.key(key));
        }
        command
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        // GETDEL (Redis 6.2+) reads and deletes atomically: one caller wins.
        redis::cmd("GETDEL")
            .arg(self.key(key))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        redis::cmd("DEL")
            .arg(self.key(key))
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn add_member(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let key = self.key(key);
        redis::pipe()
            .atomic()
            .cmd("SADD")
            .arg(&key)
            .arg(member)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(millis(ttl))
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn take_members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let key = self.key(key);
        let (members,): (Vec<String>,) = redis::pipe()
            .atomic()
            .cmd("SMEMBERS")
            .arg(&key)
            .cmd("DEL")
            .arg(&key)
            .ignore()
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(members)
    }

    async fn increment(&self, key: &str, window: Duration) -> Result<u64, StoreError> {
        let key = self.key(key);
        // NX: only the first increment of a window sets its expiry, so the window is
        // fixed rather than pushed back by every hit.
        let (count,): (u64,) = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(&key)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(millis(window))
            .arg("NX")
            .ignore()
            .query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(count)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        // On a cluster the crate sends PING to every master and succeeds only if all
        // answer: a master that is down leaves its slots unserved.
        redis::cmd("PING")
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        if let Connection::Cluster(_) = conn {
            // The cluster's own verdict, from any node: not `ok` while a slot has no
            // reachable master (the cluster then refuses commands on every node, under
            // the default cluster-require-full-coverage).
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if !info.lines().any(|line| line.trim() == "cluster_state:ok") {
                return Err(StoreError::Unavailable("cluster_state is not ok".into()));
            }
        }
        // A Redis that evicts keys under memory pressure would silently drop
        // revocations, single-use `jti`s and throttle counts: such a server is not fit
        // to serve. INFO, unlike CONFIG, is allowed by managed Redis services.
        // A cluster may answer once per node (a map or an array): every text counts.
        let info: redis::Value = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let info = texts_of(&info);
        if let Some(policy) = evicting_policy(&info) {
            tracing::error!(
                policy,
                "Redis maxmemory-policy is not noeviction: not ready"
            );
            return Err(StoreError::Unavailable(format!(
                "maxmemory-policy is {policy}; it must be noeviction"
            )));
        }
        Ok(())
    }
}

/// Every text in a reply, one after the other.
fn texts_of(value: &redis::Value) -> String {
    match value {
        redis::Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        redis::Value::SimpleString(text) | redis::Value::VerbatimString { text, .. } => {
            text.clone()
        }
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().map(texts_of).collect::<Vec<_>>().join("\n")
        }
        redis::Value::Map(pairs) => pairs
            .iter()
            .map(|(_, v)| texts_of(v))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The `maxmemory_policy` of an `INFO memory` answer, if it is not `noeviction`.
fn evicting_policy(info: &str) -> Option<&str> {
    info.lines()
        .filter_map(|line| line.trim().strip_prefix("maxmemory_policy:"))
        .find(|policy| *policy != "noeviction")
}

#[cfg(test)]
mod policy_tests {
    use super::evicting_policy;

    #[test]
    fn only_noeviction_is_fit_to_serve() {
        let info = "# Memory\r\nused_memory:1024\r\nmaxmemory_policy:noeviction\r\n";
        assert_eq!(evicting_policy(info), None);
        let info = "# Memory\r\nmaxmemory_policy:allkeys-lru\r\n";
        assert_eq!(evicting_policy(info), Some("allkeys-lru"));
        // A cluster answers once per node: any node that evicts is enough to refuse.
        let info = "maxmemory_policy:noeviction\nmaxmemory_policy:volatile-ttl\n";
        assert_eq!(evicting_policy(info), Some("volatile-ttl"));
    }
}
