//! The `recovery_codes` table: SHA-256 digests of an account's one-time recovery codes
//! (see `authn::recovery_codes`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{passkeys, recovery_codes, second_factors};
use super::{DbConnection, StorageError};

/// Whether the account has a second factor of any kind (TOTP or passkey). Recovery
/// codes stand in for a lost factor, so they are issued with the first one and
/// forgotten with the last one.
pub fn account_has_factor(conn: &mut DbConnection, account_id: &str) -> Result<bool, StorageError> {
    let totp = diesel::select(diesel::dsl::exists(
        second_factors::table.filter(second_factors::account_id.eq(account_id)),
    ))
    .get_result::<bool>(conn)?;
    Ok(totp
        || diesel::select(diesel::dsl::exists(
            passkeys::table.filter(passkeys::account_id.eq(account_id)),
        ))
        .get_result::<bool>(conn)?)
}

/// Deletes the account's codes if it has no second factor left (after a removal).
pub fn forget_if_no_factor(conn: &mut DbConnection, account_id: &str) -> Result<(), StorageError> {
    if !account_has_factor(conn, account_id)? {
        diesel::delete(recovery_codes::table.filter(recovery_codes::account_id.eq(account_id)))
            .execute(conn)?;
    }
    Ok(())
}

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
