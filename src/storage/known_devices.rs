//! `known_devices`: the kinds of device each account has logged in from.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::per_backend;
use super::schema::known_devices;
use super::{DbConnection, StorageError};

/// What a login's device was to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The account's first device on record (its enrolment, or its first login since
    /// devices were recorded): nothing to compare with.
    First,
    Known,
    New,
}

/// Records that the account logged in from `device`.
pub fn remember(
    conn: &mut DbConnection,
    account_id: &str,
    device: &str,
    now: NaiveDateTime,
) -> Result<Seen, StorageError> {
    let any_before = diesel::select(diesel::dsl::exists(
        known_devices::table.filter(known_devices::account_id.eq(account_id)),
    ))
    .get_result::<bool>(conn)?;
    let inserted = per_backend!(conn, |c| diesel::insert_into(known_devices::table)
        .values((
            known_devices::account_id.eq(account_id),
            known_devices::device.eq(device),
            known_devices::first_seen.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(match (inserted, any_before) {
        (0, _) => Seen::Known,
        (_, false) => Seen::First,
        (_, true) => Seen::New,
    })
}
