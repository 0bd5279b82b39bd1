//! The `refresh_tokens` table: durable, so that no issued refresh token is lost to a
//! crash, and so that rotation and family revocation are transactional.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::refresh_tokens;
use super::{DbConnection, StorageError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub token_hash: String,
    pub family_id: String,
    pub account_id: String,
    pub client_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub acr: String,
    /// Space-separated RFC 8176 values.
    pub amr: String,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    /// The login session the family came from (OIDC `sid`).
    pub sid: Option<String>,
    /// The access token issued together with this refresh token.
    pub access_token_jti: Option<String>,
    pub access_token_expires_at: Option<NaiveDateTime>,
    /// The thumbprint of the DPoP key the family is bound to (a public client's).
    pub dpop_jkt: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &RefreshTokenRow) -> Result<(), StorageError> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find(
    conn: &mut DbConnection,
    token_hash: &str,
) -> Result<Option<RefreshTokenRow>, StorageError> {
    Ok(refresh_tokens::table
        .find(token_hash)
        .select(RefreshTokenRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Marks a token used, if it was neither used nor revoked: of two concurrent uses,
/// exactly one gets `true`.
pub fn mark_used(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let updated = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now))
    .execute(conn)?;
    Ok(updated == 1)
}

/// An access token revoked with its family: its id and expiry.
pub type RevokedAccessToken = (String, NaiveDateTime);

/// Revokes every token of a family that is not revoked yet, and writes the access
/// tokens the family yielded that are still live to the revocation list. Returns those
/// access tokens, for the caller to add to the store's copy of the list.
pub fn revoke_family(
    conn: &mut DbConnection,
    family_id: &str,
    now: NaiveDateTime,
) -> Result<Vec<RevokedAccessToken>, StorageError> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?;
    let live: Vec<(Option<String>, Option<NaiveDateTime>)> = refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family_id))
        .filter(refresh_tokens::access_token_expires_at.gt(now))
        .select((
            refresh_tokens::access_token_jti,
            refresh_tokens::access_token_expires_at,
        ))
        .load(conn)?;
    let live: Vec<RevokedAccessToken> = live
        .into_iter()
        .filter_map(|(jti, expires_at)| Some((jti?, expires_at?)))
        .collect();
    for (jti, expires_at) in &live {
        super::revoked_tokens::insert(conn, jti, *expires_at, now)?;
    }
    Ok(live)
}

/// The families of `account_id` at `client_id` that still hold an unrevoked token, for
/// revoking them all when the citizen withdraws consent.
pub fn families_of(
    conn: &mut DbConnection,
    account_id: &str,
    client_id: &str,
) -> Result<Vec<String>, StorageError> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::account_id.eq(account_id))
        .filter(refresh_tokens::client_id.eq(client_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .select(refresh_tokens::family_id)
        .distinct()
        .load(conn)?)
}

/// Every family of `account_id`, at any client, that still holds an unrevoked token:
/// a changed password revokes them all.
pub fn families_of_account(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<Vec<String>, StorageError> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::account_id.eq(account_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .select(refresh_tokens::family_id)
        .distinct()
        .load(conn)?)
}
