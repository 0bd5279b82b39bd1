//! The only module that knows diesel. It owns the connection pool, the SQLite /
//! PostgreSQL split (here and in `migrations`, nowhere else), and one file per table.
//!
//! Every query runs on tokio's blocking pool through [`Db::run`], never on an actix
//! worker thread: a slow disk or a slow PostgreSQL must not stall other requests.
//!
//! Lookups by a unique key use `get_result`, never diesel's `first` (clippy.toml
//! forbids it): `first` adds `LIMIT ?`, and SQLite (the bundled 3.50) plans with the value
//! bound to a LIMIT, so binding it, even to the same 1, expires the cached statement and
//! the next step parses and plans it again. Profiled under introspection load, that re-preparing was
//! about a quarter of the server's CPU (docs/PERFORMANCE.md).

pub mod accounts;
pub mod audit_events;
pub mod audit_guard;
pub mod citizens;
pub mod clients;
mod connection;
pub mod consents;
pub mod contacts;
pub mod federated_clients;
pub mod federation_subordinates;
pub mod known_devices;
pub mod logout_outbox;
pub mod migrations;
pub mod notifications;
pub mod officers;
pub mod pairwise_subjects;
pub mod passkeys;
pub mod recovery_codes;
pub mod refresh_tokens;
pub mod register_version;
pub mod revoked_tokens;
pub mod schema;
pub mod second_factor_failures;
pub mod second_factors;
pub mod signing_keys;

use std::time::Duration;

use connection::ConnectionManager;
pub use connection::DbConnection;

/// Which database a URL designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.contains("://") && !url.starts_with("sqlite://") {
            Err("must be a postgres:// URL, a sqlite:// URL, or a file path".into())
        } else if sqlite_path(url).is_empty() {
            Err("the SQLite file path is empty".into())
        } else {
            Ok(Backend::Sqlite)
        }
    }
}

/// The file path of a `sqlite://` URL (or of a plain path).
pub(crate) fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").unwrap_or(url)
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no database connection available: {0}")]
    Unavailable(String),
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("migrations failed: {0}")]
    Migration(String),
}

impl From<diesel::result::Error> for StorageError {
    /// A connection that died under a query (the server stopped or the network broke)
    /// is the database being away, like an empty pool: the request may be retried
    /// later. Anything else is a failed query.
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => StorageError::Unavailable(info.message().to_owned()),
            other => StorageError::Query(other),
        }
    }
}

pub type Pool = diesel::r2d2::Pool<ConnectionManager>;

/// Told about the pool's waits, for metrics; storage itself knows no metrics library.
pub trait PoolObserver: Send + Sync {
    /// A connection was handed out after `waited`.
    fn acquired(&self, waited: Duration);
    /// A caller waited the whole acquire timeout without getting a connection.
    fn timed_out(&self);
}

/// The pool's occupancy at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Open connections, in use or idle.
    pub connections: u32,
    pub idle: u32,
    /// The most connections the pool opens (`database.pool_size`).
    pub max: u32,
}

/// Forwards r2d2's events to a [`PoolObserver`].
struct PoolEvents(std::sync::Arc<dyn PoolObserver>);

impl std::fmt::Debug for PoolEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolEvents")
    }
}

impl diesel::r2d2::HandleEvent for PoolEvents {
    fn handle_checkout(&self, event: diesel::r2d2::event::CheckoutEvent) {
        self.0.acquired(event.duration());
    }

    fn handle_timeout(&self, _event: diesel::r2d2::event::TimeoutEvent) {
        self.0.timed_out();
    }
}

/// A bounded pool of connections to one database.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    query_timeout: Option<Duration>,
}

impl Db {
    pub fn connect(
        url: &str,
        pool_size: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StorageError> {
        Self::connect_observed(url, pool_size, acquire_timeout, None)
    }

    /// [`Db::connect`], with `observer` told of every wait for a connection.
    pub fn connect_observed(
        url: &str,
        pool_size: u32,
        acquire_timeout: Duration,
        observer: Option<std::sync::Arc<dyn PoolObserver>>,
    ) -> Result<Self, StorageError> {
        let backend = Backend::from_url(url).map_err(StorageError::Unavailable)?;
        if backend == Backend::Sqlite {
            let path = std::path::Path::new(sqlite_path(url));
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StorageError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            connection::prepare_sqlite(sqlite_path(url))
                .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        }
        let manager = ConnectionManager::new(backend, url.to_owned());
        let mut builder = diesel::r2d2::Pool::builder()
            .max_size(pool_size)
            .connection_timeout(acquire_timeout);
        if let Some(observer) = observer {
            builder = builder.event_handler(Box::new(PoolEvents(observer)));
        }
        let pool = builder
            .build(manager)
            .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        Ok(Db {
            pool,
            backend,
            query_timeout: None,
        })
    }

    /// Bounds how long [`Db::run`] waits for its work. A database that stops answering
    /// without closing its connections (a frozen server, a silent network) would
    /// otherwise hold requests forever.
    pub fn with_query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = Some(timeout);
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool_status(&self) -> PoolStatus {
        let state = self.pool.state();
        PoolStatus {
            connections: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
        }
    }

    /// Runs `f` with a pooled connection on the blocking thread pool. `f` may fail with
    /// its own error type (a service's refusals), as long as storage failures fit in it.
    ///
    /// After the query timeout the caller gets [`StorageError::Unavailable`]; the work
    /// itself cannot be cancelled and finishes (or fails) on its own, like a request
    /// whose answer was lost on the network. Writers that retry on failure and must not
    /// write twice use [`Db::run_to_completion`].
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let work = self.run_to_completion(f);
        match self.query_timeout {
            None => work.await,
            Some(limit) => tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
                Err(StorageError::Unavailable(format!(
                    "no answer from the database within {} ms",
                    limit.as_millis()
                ))
                .into())
            }),
        }
    }

    /// [`Db::run`] without the query timeout: the caller learns the outcome, however
    /// long the database takes.
    pub async fn run_to_completion<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let pool = self.pool.clone();
        // The blocking thread does not inherit the request's span: carry it over, so
        // that whatever the query logs still carries the request id.
        let parent = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _request = parent.enter();
            let _db = tracing::debug_span!("db").entered();
            let mut pooled = pool
                .get()
                .map_err(|e| StorageError::Unavailable(e.to_string()))?;
            let outcome = f(&mut pooled.conn);
            pooled.finished(outcome.is_ok());
            outcome
        })
        .await
        .map_err(|e| StorageError::Unavailable(format!("database task failed: {e}")))?
    }

    /// Runs `f` on the calling thread; for the CLI and start-up, never for requests.
    pub fn run_blocking<T, E>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StorageError>,
    {
        let mut pooled = self
            .pool
            .get()
            .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        let outcome = f(&mut pooled.conn);
        pooled.finished(outcome.is_ok());
        outcome
    }
}

/// A trivial query, to check that the database answers.
pub fn ping(conn: &mut DbConnection) -> Result<(), StorageError> {
    use diesel::RunQueryDsl;
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}

/// Runs `f` in a transaction: committed if it returns `Ok`, rolled back otherwise.
/// Callers outside this module get transactions without importing diesel.
pub fn transaction<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StorageError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    // SQLite's default deferred transaction takes the write lock at its first write; in
    // WAL mode, if another writer committed since this one read, that upgrade fails at
    // once with SQLITE_BUSY instead of waiting. BEGIN IMMEDIATE takes the lock up front,
    // so concurrent writers queue behind busy_timeout instead. Inside a transaction
    // already (a function with its own transaction called from a caller's), it is a
    // savepoint: BEGIN IMMEDIATE cannot be nested.
    match conn {
        DbConnection::Sqlite(c) => {
            let nested = AnsiTransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()
                .map_err(StorageError::from)?
                .is_some();
            if nested {
                AnsiTransactionManager::begin_transaction(c)
            } else {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
            }
        }
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c),
    }
    .map_err(StorageError::from)?;
    let outcome = f(conn);
    let end = match (conn, outcome.is_ok()) {
        (DbConnection::Sqlite(c), true) => AnsiTransactionManager::commit_transaction(c),
        (DbConnection::Sqlite(c), false) => AnsiTransactionManager::rollback_transaction(c),
        (DbConnection::Postgres(c), true) => AnsiTransactionManager::commit_transaction(c),
        (DbConnection::Postgres(c), false) => AnsiTransactionManager::rollback_transaction(c),
    };
    match (outcome, end) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(e)) => Err(StorageError::from(e).into()),
        // The caller's error explains more than a failed rollback would.
        (Err(e), _) => Err(e),
    }
}
