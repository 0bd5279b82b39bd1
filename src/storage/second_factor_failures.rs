//! The `second_factor_failures` table: an account's consecutive wrong second factors
//! (see `authn::factor_lockout`), one row per account that has any.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::per_backend;
use super::schema::second_factor_failures;
use super::{DbConnection, StorageError};

/// How many wrong second factors in a row, and when the last one came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    pub failures: u64,
    pub last_failure_at: NaiveDateTime,
}

fn count_of((failures, last_failure_at): (i64, NaiveDateTime)) -> FailureCount {
    FailureCount {
        failures: u64::try_from(failures).unwrap_or(0),
        last_failure_at,
    }
}

pub fn find(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<Option<FailureCount>, StorageError> {
    Ok(second_factor_failures::table
        .find(account_id)
        .select((
            second_factor_failures::failures,
            second_factor_failures::last_failure_at,
        ))
        .get_result::<(i64, NaiveDateTime)>(conn)
        .optional()?
        .map(count_of))
}

/// Counts one more failure at `at`, atomically (concurrent calls each count), and
/// raises the count to `at_least` if it is below (the store knew of more): the count
/// after it.
pub fn increment(
    conn: &mut DbConnection,
    account_id: &str,
    at: NaiveDateTime,
    at_least: u64,
) -> Result<FailureCount, StorageError> {
    let at_least = i64::try_from(at_least).unwrap_or(i64::MAX);
    super::transaction(conn, |conn| {
        let row = (
            second_factor_failures::account_id.eq(account_id),
            second_factor_failures::failures.eq(1i64),
            second_factor_failures::last_failure_at.eq(at),
        );
        per_backend!(conn, |c| diesel::insert_into(second_factor_failures::table)
            .values(row)
            .on_conflict(second_factor_failures::account_id)
            .do_update()
            .set((
                second_factor_failures::failures.eq(second_factor_failures::failures + 1),
                second_factor_failures::last_failure_at.eq(at),
            ))
            .execute(c))?;
        diesel::update(
            second_factor_failures::table
                .find(account_id)
                .filter(second_factor_failures::failures.lt(at_least)),
        )
        .set(second_factor_failures::failures.eq(at_least))
        .execute(conn)?;
        find(conn, account_id)?.ok_or_else(|| {
            StorageError::Corrupt(
                "a second-factor failure count vanished in its transaction".into(),
            )
        })
    })
}

/// Forgets the account's failures (a second factor was accepted).
pub fn clear(conn: &mut DbConnection, account_id: &str) -> Result<(), StorageError> {
    diesel::delete(second_factor_failures::table.find(account_id)).execute(conn)?;
    Ok(())
}
