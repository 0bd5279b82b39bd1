//! The `pairwise_subjects` table: which account each pairwise subject handed out
//! stands for, since a keyed hash cannot be inverted.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};

use super::schema::pairwise_subjects;
use super::{DbConnection, StorageError};

/// Records `subject` for `account_id`, once; later calls are no-ops.
pub fn remember(
    conn: &mut DbConnection,
    subject: &str,
    account_id: &str,
    sector: &str,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    if resolve(conn, subject)?.is_some() {
        return Ok(());
    }
    let inserted = diesel::insert_into(pairwise_subjects::table)
        .values((
            pairwise_subjects::subject.eq(subject),
            pairwise_subjects::account_id.eq(account_id),
            pairwise_subjects::sector.eq(sector),
            pairwise_subjects::created_at.eq(now),
        ))
        .execute(conn);
    match inserted {
        // Two first logins of one citizen at one sector raced: the other one recorded it.
        Ok(_) | Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The account a pairwise subject stands for.
pub fn resolve(conn: &mut DbConnection, subject: &str) -> Result<Option<String>, StorageError> {
    Ok(pairwise_subjects::table
        .find(subject)
        .select(pairwise_subjects::account_id)
        .get_result(conn)
        .optional()?)
}
