//! The `consents` table: per account and client, the union of the scopes the citizen
//! agreed to share, and when they last agreed. Withdrawal deletes the row.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::per_backend;
use super::schema::{clients, consents};
use super::{DbConnection, StorageError};
use crate::domain::scope::ScopeSet;

/// A stored grant, with the name of the client it was given to.
#[derive(Debug, Clone)]
pub struct Grant {
    pub client_id: String,
    pub client_name: String,
    pub scope: ScopeSet,
    pub granted_at: NaiveDateTime,
}

fn parse_scope(raw: &str) -> Result<ScopeSet, StorageError> {
    ScopeSet::parse(raw).map_err(|_| StorageError::Corrupt("consents.scope".into()))
}

/// The scopes `account_id` granted to `client_id`, if any.
pub fn granted(
    conn: &mut DbConnection,
    account_id: &str,
    client_id: &str,
) -> Result<Option<ScopeSet>, StorageError> {
    consents::table
        .find((account_id, client_id))
        .select(consents::scope)
        .get_result::<String>(conn)
        .optional()?
        .map(|raw| parse_scope(&raw))
        .transpose()
}

/// Adds `scope` to what `account_id` granted `client_id` (the union, so that agreeing
/// to a smaller request never takes back an earlier, larger grant).
pub fn grant(
    conn: &mut DbConnection,
    account_id: &str,
    client_id: &str,
    scope: &ScopeSet,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    super::transaction(conn, |conn| {
        let earlier = granted(conn, account_id, client_id)?.unwrap_or_default();
        let union: ScopeSet = earlier.iter().chain(scope.iter()).collect();
        let row = (
            consents::account_id.eq(account_id),
            consents::client_id.eq(client_id),
            consents::scope.eq(union.to_string()),
            consents::granted_at.eq(now),
        );
        per_backend!(conn, |c| diesel::insert_into(consents::table)
            .values(row)
            .on_conflict((consents::account_id, consents::client_id))
            .do_update()
            .set((
                consents::scope.eq(union.to_string()),
                consents::granted_at.eq(now),
            ))
            .execute(c))?;
        Ok(())
    })
}

/// Every grant of `account_id`, most recent first.
pub fn for_account(conn: &mut DbConnection, account_id: &str) -> Result<Vec<Grant>, StorageError> {
    let rows: Vec<(String, String, String, NaiveDateTime)> = consents::table
        .inner_join(clients::table)
        .filter(consents::account_id.eq(account_id))
        .order(consents::granted_at.desc())
        .select((
            consents::client_id,
            clients::name,
            consents::scope,
            consents::granted_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(client_id, client_name, scope, granted_at)| {
            Ok(Grant {
                client_id,
                client_name,
                scope: parse_scope(&scope)?,
                granted_at,
            })
        })
        .collect()
}

/// Deletes the grant; returns whether there was one.
pub fn withdraw(
    conn: &mut DbConnection,
    account_id: &str,
    client_id: &str,
) -> Result<bool, StorageError> {
    Ok(diesel::delete(consents::table.find((account_id, client_id))).execute(conn)? == 1)
}
