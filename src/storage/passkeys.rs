//! The `passkeys` table: an account's WebAuthn credentials, each a `webauthn-rs`
//! `Passkey` as JSON (see `authn::passkey`), with the name the citizen gave it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::passkeys;
use super::{DbConnection, StorageError};

/// A stored passkey. The JSON holds a public key only, but the credential id still
/// identifies the citizen's device across sites, so `Debug` leaves it out.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub credential_id: String,
    pub credential: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

impl std::fmt::Debug for PasskeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRow")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The account's passkeys, oldest first.
pub fn for_account(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<Vec<PasskeyRow>, StorageError> {
    Ok(passkeys::table
        .filter(passkeys::account_id.eq(account_id))
        .order(passkeys::created_at.asc())
        .select(PasskeyRow::as_select())
        .load(conn)?)
}

/// Whether the account has at least one passkey.
pub fn any(conn: &mut DbConnection, account_id: &str) -> Result<bool, StorageError> {
    Ok(diesel::select(diesel::dsl::exists(
        passkeys::table.filter(passkeys::account_id.eq(account_id)),
    ))
    .get_result::<bool>(conn)?)
}

/// Adds a passkey; returns false when its credential id is already registered (to
/// this account or another: an authenticator answering with a known credential).
pub fn insert(conn: &mut DbConnection, row: &PasskeyRow) -> Result<bool, StorageError> {
    match diesel::insert_into(passkeys::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Records a login with the passkey, with its updated JSON when the login changed the
/// counter or the backup flags.
pub fn record_use(
    conn: &mut DbConnection,
    account_id: &str,
    id: &str,
    credential: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), StorageError> {
    let target = passkeys::table
        .filter(passkeys::account_id.eq(account_id))
        .filter(passkeys::id.eq(id));
    match credential {
        Some(credential) => diesel::update(target)
            .set((
                passkeys::credential.eq(credential),
                passkeys::last_used_at.eq(at),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set(passkeys::last_used_at.eq(at))
            .execute(conn)?,
    };
    Ok(())
}

/// Removes one passkey of the account; with its last factor of any kind go the
/// recovery codes. Returns whether it existed.
pub fn delete(conn: &mut DbConnection, account_id: &str, id: &str) -> Result<bool, StorageError> {
    let deleted = diesel::delete(
        passkeys::table
            .filter(passkeys::account_id.eq(account_id))
            .filter(passkeys::id.eq(id)),
    )
    .execute(conn)?;
    if deleted == 1 {
        super::recovery_codes::forget_if_no_factor(conn, account_id)?;
    }
    Ok(deleted == 1)
}
