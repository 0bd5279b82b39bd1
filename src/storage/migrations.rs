//! Schema migrations, one folder per backend under `migrations/`.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DbConnection, StorageError};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies every pending migration; returns how many ran.
pub fn run_pending(conn: &mut DbConnection) -> Result<usize, StorageError> {
    let applied = match conn {
        DbConnection::Postgres(pg) => pg.run_pending_migrations(POSTGRES).map(|v| v.len()),
        DbConnection::Sqlite(sqlite) => sqlite.run_pending_migrations(SQLITE).map(|v| v.len()),
    };
    applied.map_err(|e| StorageError::Migration(e.to_string()))
}

/// Reverts every migration, then applies them again: CI proves each `down.sql`. Every
/// table is dropped with its rows; the command line asks for confirmation first.
///
/// Refused before anything is reverted when this role may not drop the audit table (on
/// PostgreSQL after `audit lock-down`): the migrations would drop every other table,
/// then fail on that one, and leave the database half gone.
pub fn redo_all(conn: &mut DbConnection) -> Result<(), StorageError> {
    if !super::audit_guard::may_drop_audit_trail(conn)? {
        return Err(StorageError::Migration(
            "this role may not drop audit_events (another role owns it, as after \
             `citizen-idp audit lock-down`): nothing was reverted"
                .into(),
        ));
    }
    let boxed_error =
        |e: Box<dyn std::error::Error + Send + Sync>| StorageError::Migration(e.to_string());
    match conn {
        DbConnection::Postgres(pg) => {
            pg.revert_all_migrations(POSTGRES).map_err(boxed_error)?;
            pg.run_pending_migrations(POSTGRES).map_err(boxed_error)?;
        }
        DbConnection::Sqlite(sqlite) => {
            sqlite.revert_all_migrations(SQLITE).map_err(boxed_error)?;
            sqlite.run_pending_migrations(SQLITE).map_err(boxed_error)?;
        }
    }
    Ok(())
}
