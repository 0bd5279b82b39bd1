//! `officer_roles` and `officer_tokens`: which accounts are officers, with which roles,
//! and their personal admin API tokens (see `officers`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::per_backend;
use super::schema::{accounts, officer_roles, officer_tokens};
use super::{DbConnection, StorageError};
use crate::domain::officer::{Role, Roles};

/// One role an officer holds.
#[derive(Debug, Clone)]
pub struct Grant {
    pub account_id: String,
    pub national_id: String,
    pub role: Role,
    pub granted_at: NaiveDateTime,
    pub granted_by: String,
}

/// Grants `role`; `false` if the account held it already.
pub fn grant(
    conn: &mut DbConnection,
    account_id: &str,
    role: Role,
    by: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let inserted = per_backend!(conn, |c| diesel::insert_into(officer_roles::table)
        .values((
            officer_roles::account_id.eq(account_id),
            officer_roles::role.eq(role.as_str()),
            officer_roles::granted_at.eq(now),
            officer_roles::granted_by.eq(by),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Revokes `role`; `false` if the account did not hold it.
pub fn revoke(conn: &mut DbConnection, account_id: &str, role: Role) -> Result<bool, StorageError> {
    Ok(diesel::delete(officer_roles::table.find((account_id, role.as_str()))).execute(conn)? == 1)
}

/// The roles the account holds now (none for a citizen who is not an officer).
pub fn roles_of(conn: &mut DbConnection, account_id: &str) -> Result<Roles, StorageError> {
    let names: Vec<String> = officer_roles::table
        .filter(officer_roles::account_id.eq(account_id))
        .select(officer_roles::role)
        .load(conn)?;
    Ok(names.iter().filter_map(|n| Role::parse(n)).collect())
}

/// Every role held, by officer.
pub fn all_grants(conn: &mut DbConnection) -> Result<Vec<Grant>, StorageError> {
    let rows: Vec<(String, String, String, NaiveDateTime, String)> = officer_roles::table
        .inner_join(accounts::table)
        .order((accounts::national_id.asc(), officer_roles::role.asc()))
        .select((
            officer_roles::account_id,
            accounts::national_id,
            officer_roles::role,
            officer_roles::granted_at,
            officer_roles::granted_by,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(account_id, national_id, role, granted_at, granted_by)| {
            Ok(Grant {
                role: Role::parse(&role)
                    .ok_or_else(|| StorageError::Corrupt("officer_roles.role".into()))?,
                account_id,
                national_id,
                granted_at,
                granted_by,
            })
        })
        .collect()
}

/// A personal admin API token, without its secret.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = officer_tokens)]
pub struct TokenRow {
    pub id: String,
    pub account_id: String,
    pub roles: String,
    pub label: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

pub struct NewToken<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub digest: &'a [u8],
    pub roles: &'a Roles,
    pub label: &'a str,
    pub now: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert_token(conn: &mut DbConnection, token: &NewToken<'_>) -> Result<(), StorageError> {
    diesel::insert_into(officer_tokens::table)
        .values((
            officer_tokens::id.eq(token.id),
            officer_tokens::account_id.eq(token.account_id),
            officer_tokens::token_digest.eq(token.digest),
            officer_tokens::roles.eq(token.roles.to_words()),
            officer_tokens::label.eq(token.label),
            officer_tokens::created_at.eq(token.now),
            officer_tokens::expires_at.eq(token.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The officer's tokens, or every officer's (`None`), newest first.
pub fn tokens(
    conn: &mut DbConnection,
    account_id: Option<&str>,
) -> Result<Vec<TokenRow>, StorageError> {
    let all = officer_tokens::table
        .select(TokenRow::as_select())
        .order(officer_tokens::created_at.desc());
    Ok(match account_id {
        Some(account_id) => all
            .filter(officer_tokens::account_id.eq(account_id))
            .load(conn)?,
        None => all.load(conn)?,
    })
}

/// The token `id`, live or not.
pub fn token(conn: &mut DbConnection, id: &str) -> Result<Option<TokenRow>, StorageError> {
    Ok(officer_tokens::table
        .find(id)
        .select(TokenRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// The token with this digest if it is neither revoked nor expired at `now`, and
/// records its use.
pub fn use_token(
    conn: &mut DbConnection,
    digest: &[u8],
    now: NaiveDateTime,
) -> Result<Option<TokenRow>, StorageError> {
    let found = officer_tokens::table
        .filter(officer_tokens::token_digest.eq(digest))
        .filter(officer_tokens::revoked_at.is_null())
        .filter(officer_tokens::expires_at.gt(now))
        .select(TokenRow::as_select())
        .get_result(conn)
        .optional()?;
    if let Some(token) = &found {
        diesel::update(officer_tokens::table.find(&token.id))
            .set(officer_tokens::last_used_at.eq(now))
            .execute(conn)?;
    }
    Ok(found)
}

/// Revokes a live token, of `account_id` only when one is given; `false` if there was
/// no such live token.
pub fn revoke_token(
    conn: &mut DbConnection,
    id: &str,
    account_id: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let live = officer_tokens::table
        .filter(officer_tokens::id.eq(id))
        .filter(officer_tokens::revoked_at.is_null());
    let revoked = match account_id {
        Some(account_id) => diesel::update(live.filter(officer_tokens::account_id.eq(account_id)))
            .set(officer_tokens::revoked_at.eq(now))
            .execute(conn)?,
        None => diesel::update(live)
            .set(officer_tokens::revoked_at.eq(now))
            .execute(conn)?,
    };
    Ok(revoked == 1)
}

/// Revokes every live token of the account (an officer left with no role).
pub fn revoke_all_tokens(
    conn: &mut DbConnection,
    account_id: &str,
    now: NaiveDateTime,
) -> Result<usize, StorageError> {
    Ok(diesel::update(
        officer_tokens::table
            .filter(officer_tokens::account_id.eq(account_id))
            .filter(officer_tokens::revoked_at.is_null()),
    )
    .set(officer_tokens::revoked_at.eq(now))
    .execute(conn)?)
}
