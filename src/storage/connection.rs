//! One connection type for both backends, and the pool manager that opens it.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};

use super::{Backend, sqlite_path};

/// A connection to whichever database is configured. Queries are written once against
/// this type; diesel's `MultiConnection` dispatches them to the right backend.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs the same diesel expression against the concrete connection of each backend.
/// For the few statements `MultiConnection` cannot dispatch (multi-row inserts, upserts);
/// everything else is written against [`DbConnection`] directly.
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::storage::DbConnection::Postgres($c) => $body,
            $crate::storage::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use per_backend;

/// Opens connections of the configured backend only. diesel's own r2d2 manager tries
/// each backend in turn, which would turn an unreachable PostgreSQL URL into a SQLite
/// file named after it.
pub struct ConnectionManager {
    backend: Backend,
    url: String,
}

/// Seconds libpq waits to open a connection, unless the URL says otherwise. Without
/// it, a server that accepts TCP but never answers (frozen, or a half-open network)
/// would hold the pool's connecting threads forever, and the pool would not recover
/// when the server comes back.
const PG_CONNECT_TIMEOUT_SECS: u32 = 5;

impl ConnectionManager {
    pub fn new(backend: Backend, url: String) -> Self {
        let url = match backend {
            Backend::Postgres if !url.contains("connect_timeout=") => {
                let separator = if url.contains('?') { '&' } else { '?' };
                format!("{url}{separator}connect_timeout={PG_CONNECT_TIMEOUT_SECS}")
            }
            _ => url,
        };
        ConnectionManager { backend, url }
    }
}

// busy_timeout makes concurrent writers wait instead of failing with SQLITE_BUSY;
// SQLite leaves foreign keys off by default. A 4 MiB page cache per connection (the
// default is 2 MiB) keeps the register's upper B-tree levels in memory; at 16 MiB the
// eight pooled connections of a login storm on a register of 10 million citizens filled
// theirs with leaf pages no other login read again, and the server peaked at 116 MB
// (docs/PERFORMANCE.md). The operating system's page cache holds the rest.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; \
     PRAGMA synchronous = NORMAL; \
     PRAGMA cache_size = -4096; \
     PRAGMA foreign_keys = ON;";

/// Puts a SQLite file in WAL mode (readers proceed while one writer commits), once,
/// before the pool opens its connections: the mode is stored in the file, and
/// switching it needs an exclusive lock that concurrently opening connections would
/// fight over.
pub fn prepare_sqlite(path: &str) -> Result<(), diesel::ConnectionError> {
    let mut conn = SqliteConnection::establish(path)?;
    conn.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;")
        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
}

/// How long after a successful query a PostgreSQL connection is trusted without a test.
/// Under load a connection comes back to the pool and leaves again within a millisecond,
/// and a `SELECT 1` round trip on each checkout was one more trip to the server per
/// request. A connection idle for longer is tested: that is where a restarted server's
/// dead connections wait.
const TRUSTED_AFTER_USE: Duration = Duration::from_secs(1);

/// A pooled connection and when it last finished its work without an error.
pub struct Pooled {
    pub conn: DbConnection,
    last_success: Option<Instant>,
}

impl Pooled {
    /// Records how the work done with this connection ended: after an error the next
    /// checkout tests the connection, since the error may have been its death.
    pub fn finished(&mut self, succeeded: bool) {
        self.last_success = succeeded.then(Instant::now);
    }
}

impl diesel::r2d2::ManageConnection for ConnectionManager {
    type Connection = Pooled;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Pooled, Self::Error> {
        let conn = match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url)
                .map(DbConnection::Postgres)
                .map_err(diesel::r2d2::Error::ConnectionError)?,
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(sqlite_path(&self.url))
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(diesel::r2d2::Error::QueryError)?;
                DbConnection::Sqlite(conn)
            }
        };
        Ok(Pooled {
            conn,
            last_success: None,
        })
    }

    /// r2d2 asks this on every checkout. A SQLite connection is a file handle that
    /// cannot be dropped by a server, so it is not asked: parsing and running
    /// `SELECT 1` there cost about 5 % of a client_credentials request. A PostgreSQL
    /// connection can die with its server, so it is tested unless it just served a
    /// request without an error.
    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), Self::Error> {
        if matches!(pooled.conn, DbConnection::Sqlite(_))
            || pooled
                .last_success
                .is_some_and(|at| at.elapsed() < TRUSTED_AFTER_USE)
        {
            return Ok(());
        }
        diesel::sql_query("SELECT 1")
            .execute(&mut pooled.conn)
            .map(|_| ())
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut Pooled) -> bool {
        false
    }
}
