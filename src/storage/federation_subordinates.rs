//! The `federation_subordinates` table: the entities this server vouches for as a
//! trust anchor or an intermediate, and what it says about each in its subordinate
//! statements (see `federation::subordinates`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::federation_subordinates;
use super::{DbConnection, StorageError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = federation_subordinates)]
pub struct SubordinateRow {
    pub entity_id: String,
    /// The subordinate's federation keys, a JWK Set as JSON.
    pub jwks: String,
    /// By entity type, as JSON.
    pub metadata_policy: Option<String>,
    pub metadata: Option<String>,
    /// Limits on the chain below it, as JSON.
    pub constraints: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn find(
    conn: &mut DbConnection,
    entity_id: &str,
) -> Result<Option<SubordinateRow>, StorageError> {
    Ok(federation_subordinates::table
        .find(entity_id)
        .select(SubordinateRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Every subordinate, by entity identifier.
pub fn list(conn: &mut DbConnection) -> Result<Vec<SubordinateRow>, StorageError> {
    Ok(federation_subordinates::table
        .order(federation_subordinates::entity_id.asc())
        .select(SubordinateRow::as_select())
        .load(conn)?)
}

/// Adds `row`, or replaces what is said about an entity already there (keeping the
/// time it was first added). Returns whether it is new.
pub fn upsert(conn: &mut DbConnection, row: &SubordinateRow) -> Result<bool, StorageError> {
    let updated = diesel::update(federation_subordinates::table.find(&row.entity_id))
        .set((
            federation_subordinates::jwks.eq(&row.jwks),
            federation_subordinates::metadata_policy.eq(&row.metadata_policy),
            federation_subordinates::metadata.eq(&row.metadata),
            federation_subordinates::constraints.eq(&row.constraints),
            federation_subordinates::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    if updated == 1 {
        return Ok(false);
    }
    diesel::insert_into(federation_subordinates::table)
        .values(row)
        .execute(conn)?;
    Ok(true)
}

/// Removes an entity; returns whether it was there.
pub fn delete(conn: &mut DbConnection, entity_id: &str) -> Result<bool, StorageError> {
    Ok(diesel::delete(federation_subordinates::table.find(entity_id)).execute(conn)? == 1)
}
