//! The `signing_keys` table: every signing key any instance has used, shared by all the
//! instances on this database. Rows are never deleted; a key's private part is wiped
//! once it is no longer published. Keys have a purpose: signing tokens, or signing
//! this server's OpenID Federation statements. At most one key per purpose and
//! algorithm has no retirement time (a partial unique index), which makes concurrent
//! first starts and concurrent rotations safe without locks.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::signing_keys;
use super::{DbConnection, StorageError};

#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    /// nonce || AES-256-GCM ciphertext || tag of the PKCS#8 DER; `None` once wiped.
    pub sealed_key: Option<Vec<u8>>,
    pub created_at: NaiveDateTime,
    pub activated_at: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
    pub published_until: Option<NaiveDateTime>,
    /// `token` or `federation` (see `tokens::keys::KeyPurpose`).
    pub purpose: String,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("purpose", &self.purpose)
            .field("sealed", &self.sealed_key.is_some())
            .field("activated_at", &self.activated_at)
            .field("retired_at", &self.retired_at)
            .field("published_until", &self.published_until)
            .finish()
    }
}

/// Every key of every purpose, oldest activation first.
pub fn list_all(conn: &mut DbConnection) -> Result<Vec<SigningKeyRow>, StorageError> {
    Ok(signing_keys::table
        .order((signing_keys::activated_at.asc(), signing_keys::kid.asc()))
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

/// Every key of `purpose`, oldest activation first.
pub fn list(conn: &mut DbConnection, purpose: &str) -> Result<Vec<SigningKeyRow>, StorageError> {
    Ok(signing_keys::table
        .filter(signing_keys::purpose.eq(purpose))
        .order((signing_keys::activated_at.asc(), signing_keys::kid.asc()))
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

/// Whether any key still has its sealed private part (so a server secret exists).
pub fn any_sealed(conn: &mut DbConnection) -> Result<bool, StorageError> {
    Ok(diesel::select(diesel::dsl::exists(
        signing_keys::table.filter(signing_keys::sealed_key.is_not_null()),
    ))
    .get_result(conn)?)
}

/// Inserts `row` unless it would be a second unretired key of its purpose and algorithm (or its
/// kid exists): returns whether it went in. Another instance winning the race is not
/// an error, since its key serves just as well.
pub fn insert_if_absent(
    conn: &mut DbConnection,
    row: &SigningKeyRow,
) -> Result<bool, StorageError> {
    let inserted = match conn {
        DbConnection::Postgres(pg) => diesel::insert_into(signing_keys::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(pg),
        DbConnection::Sqlite(sqlite) => diesel::insert_or_ignore_into(signing_keys::table)
            .values(row)
            .execute(sqlite),
    }?;
    Ok(inserted == 1)
}

/// Retires, at `retire_at`, every key of `row.alg` and `row.purpose` that would still sign then, and adds
/// `row` (which activates at the same instant); returns the retired kids. Run it in a
/// transaction (with its audit row). A concurrent rotation of the same algorithm makes
/// one of the two fail on the unique index.
pub fn retire_and_insert(
    conn: &mut DbConnection,
    row: &SigningKeyRow,
    retire_at: NaiveDateTime,
    published_until: NaiveDateTime,
) -> Result<Vec<String>, StorageError> {
    let still_signing = signing_keys::alg
        .eq(&row.alg)
        .and(signing_keys::purpose.eq(&row.purpose))
        .and(
            signing_keys::retired_at
                .is_null()
                .or(signing_keys::retired_at.gt(retire_at)),
        );
    let retired: Vec<String> = signing_keys::table
        .filter(still_signing)
        .select(signing_keys::kid)
        .load(conn)?;
    diesel::update(signing_keys::table.filter(still_signing))
        .set((
            signing_keys::retired_at.eq(retire_at),
            signing_keys::published_until.eq(published_until),
        ))
        .execute(conn)?;
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)?;
    Ok(retired)
}

/// Withdraws `kid` at `now`: no longer published, signing nothing, its private part
/// wiped. Returns whether a published key was withdrawn.
pub fn withdraw(
    conn: &mut DbConnection,
    kid: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let published = signing_keys::kid.eq(kid).and(
        signing_keys::published_until
            .is_null()
            .or(signing_keys::published_until.gt(now)),
    );
    let changed = diesel::update(signing_keys::table.filter(published))
        .set((
            signing_keys::published_until.eq(now),
            signing_keys::sealed_key.eq(None::<Vec<u8>>),
        ))
        .execute(conn)?;
    // A key retired later (or never) stops signing now too.
    diesel::update(
        signing_keys::table.filter(
            signing_keys::kid.eq(kid).and(
                signing_keys::retired_at
                    .is_null()
                    .or(signing_keys::retired_at.gt(now)),
            ),
        ),
    )
    .set(signing_keys::retired_at.eq(now))
    .execute(conn)?;
    Ok(changed > 0)
}

/// Wipes the private part of every key that is no longer published; returns their kids.
pub fn wipe_expired(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<Vec<String>, StorageError> {
    let expired = signing_keys::published_until
        .le(now)
        .and(signing_keys::sealed_key.is_not_null());
    let kids: Vec<String> = signing_keys::table
        .filter(expired)
        .select(signing_keys::kid)
        .load(conn)?;
    if !kids.is_empty() {
        diesel::update(signing_keys::table.filter(signing_keys::kid.eq_any(&kids)))
            .set(signing_keys::sealed_key.eq(None::<Vec<u8>>))
            .execute(conn)?;
    }
    Ok(kids)
}
