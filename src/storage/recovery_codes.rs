//! The `recovery_codes` table: SHA-256 digests of an account's one-time recovery codes
//! (see `authn::recovery_codes`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::recovery_codes;
use super::{DbConnection, StorageError};

/// Replaces the account's codes with `digests`.
pub fn replace(
    conn: &mut DbConnection,
    account_id: &str,
    digests: &[String],
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::account_id.eq(account_id)))
        .execute(conn)?;
    let rows: Vec<_> = digests
        .iter()
        .map(|d| {
            (
                recovery_codes::account_id.eq(account_id),
                recovery_codes::code_digest.eq(d),
                recovery_codes::created_at.eq(now),
            )
        })
        .collect();
    for row in rows {
        diesel::insert_into(recovery_codes::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Digests of the codes not used yet.
pub fn unused(conn: &mut DbConnection, account_id: &str) -> Result<Vec<String>, StorageError> {
    Ok(recovery_codes::table
        .filter(recovery_codes::account_id.eq(account_id))
        .filter(recovery_codes::used_at.is_null())
        .select(recovery_codes::code_digest)
        .load(conn)?)
}

/// Marks a code used, if it still is unused: returns whether this use is the first.
pub fn use_code(
    conn: &mut DbConnection,
    account_id: &str,
    digest: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let updated = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::account_id.eq(account_id))
            .filter(recovery_codes::code_digest.eq(digest))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)?;
    Ok(updated == 1)
}
