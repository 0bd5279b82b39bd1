//! The `register_version` counter: database triggers move it whenever a register record
//! changes or an account's status, level or number does, whoever made the change.

use diesel::prelude::*;

use super::schema::register_version;
use super::{DbConnection, StorageError};

/// The counter's value now.
pub fn current(conn: &mut DbConnection) -> Result<i64, StorageError> {
    Ok(register_version::table
        .find(1)
        .select(register_version::version)
        .get_result(conn)?)
}
