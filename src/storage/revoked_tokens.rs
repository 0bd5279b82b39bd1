//! The `revoked_tokens` table: the durable revocation list of access tokens.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::revoked_tokens;
use super::{DbConnection, StorageError};

/// Records a revoked token; revoking it twice is harmless.
pub fn insert(
    conn: &mut DbConnection,
    jti: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    let row = (
        revoked_tokens::jti.eq(jti),
        revoked_tokens::expires_at.eq(expires_at),
        revoked_tokens::revoked_at.eq(now),
    );
    match conn {
        DbConnection::Postgres(pg) => diesel::insert_into(revoked_tokens::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(pg),
        DbConnection::Sqlite(sqlite) => diesel::insert_or_ignore_into(revoked_tokens::table)
            .values(row)
            .execute(sqlite),
    }?;
    Ok(())
}

/// The revoked tokens that have not expired yet, with their expiry.
pub fn live(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<Vec<(String, NaiveDateTime)>, StorageError> {
    Ok(revoked_tokens::table
        .filter(revoked_tokens::expires_at.gt(now))
        .select((revoked_tokens::jti, revoked_tokens::expires_at))
        .load(conn)?)
}
