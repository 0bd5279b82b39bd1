//! The `second_factors` table: the TOTP factor of an account, its secret sealed (see
//! `authn::totp`), and the last time step a code was accepted for.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::second_factors;
use super::{DbConnection, StorageError, recovery_codes};

pub const KIND_TOTP: &str = "totp";

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = second_factors)]
pub struct FactorRow {
    pub id: String,
    pub account_id: String,
    pub kind: String,
    pub sealed_secret: Vec<u8>,
    pub last_used_step: Option<i64>,
    pub created_at: NaiveDateTime,
}

impl std::fmt::Debug for FactorRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactorRow")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The account's factors, oldest first.
pub fn for_account(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<Vec<FactorRow>, StorageError> {
    Ok(second_factors::table
        .filter(second_factors::account_id.eq(account_id))
        .order(second_factors::created_at.asc())
        .select(FactorRow::as_select())
        .load(conn)?)
}

/// Adds a factor; returns false when the account already has one of its kind.
pub fn insert(conn: &mut DbConnection, row: &FactorRow) -> Result<bool, StorageError> {
    let exists = diesel::select(diesel::dsl::exists(
        second_factors::table
            .filter(second_factors::account_id.eq(&row.account_id))
            .filter(second_factors::kind.eq(&row.kind)),
    ))
    .get_result::<bool>(conn)?;
    if exists {
        return Ok(false);
    }
    match diesel::insert_into(second_factors::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        // A concurrent enrolment won the unique index.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Records that a code of `step` was accepted, unless that step or a later one
/// already was: returns whether this use is the first. One conditional UPDATE, so two
/// requests racing with the same code cannot both win, on either backend.
pub fn use_step(conn: &mut DbConnection, factor_id: &str, step: i64) -> Result<bool, StorageError> {
    let updated = diesel::update(
        second_factors::table
            .filter(second_factors::id.eq(factor_id))
            .filter(
                second_factors::last_used_step
                    .is_null()
                    .or(second_factors::last_used_step.lt(step)),
            ),
    )
    .set(second_factors::last_used_step.eq(step))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Removes one factor of the account; with its last factor of any kind go the
/// recovery codes. Returns whether it existed.
pub fn delete(
    conn: &mut DbConnection,
    account_id: &str,
    factor_id: &str,
) -> Result<bool, StorageError> {
    let deleted = diesel::delete(
        second_factors::table
            .filter(second_factors::account_id.eq(account_id))
            .filter(second_factors::id.eq(factor_id)),
    )
    .execute(conn)?;
    if deleted == 1 {
        recovery_codes::forget_if_no_factor(conn, account_id)?;
    }
    Ok(deleted == 1)
}

/// Removes every factor of the account, TOTP and passkeys, and its recovery codes (an
/// officer's reset after the citizen lost them); returns how many factors went.
pub fn delete_all(conn: &mut DbConnection, account_id: &str) -> Result<usize, StorageError> {
    let totp =
        diesel::delete(second_factors::table.filter(second_factors::account_id.eq(account_id)))
            .execute(conn)?;
    let passkeys = diesel::delete(
        super::schema::passkeys::table.filter(super::schema::passkeys::account_id.eq(account_id)),
    )
    .execute(conn)?;
    recovery_codes::forget_if_no_factor(conn, account_id)?;
    Ok(totp + passkeys)
}
