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

/// Reverts every migration, then applies them again: CI proves each `down.sql`.
pub fn redo_all(conn: &mut DbConnection) -> Result<(), StorageError> {
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
