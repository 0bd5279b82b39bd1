//! The `accounts` table: e-ID accounts, one per living citizen.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::citizens::CitizenRow;
use super::schema::{accounts, citizens};
use super::{DbConnection, StorageError};
use crate::domain::acr::AssuranceLevel;
use crate::domain::citizen::{AccountStatus, Citizen};
use crate::domain::national_id::NationalId;

/// An e-ID account. `id` is also the citizen's subject identifier: it is random, so
/// it reveals nothing about the citizen, unlike the personal identification number.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub national_id: NationalId,
    pub password_hash: String,
    pub status: AccountStatus,
    pub assurance_level: AssuranceLevel,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts)]
struct AccountRow {
    id: String,
    national_id: String,
    password_hash: String,
    status: String,
    assurance_level: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<AccountRow> for Account {
    type Error = StorageError;

    fn try_from(row: AccountRow) -> Result<Self, StorageError> {
        let corrupt = |what: &str| StorageError::Corrupt(format!("accounts.{what}"));
        Ok(Account {
            national_id: NationalId::parse(&row.national_id).map_err(|_| corrupt("national_id"))?,
            status: AccountStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            assurance_level: AssuranceLevel::from_number(row.assurance_level)
                .ok_or_else(|| corrupt("assurance_level"))?,
            id: row.id,
            password_hash: row.password_hash,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub fn find_by_national_id(
    conn: &mut DbConnection,
    id: &NationalId,
) -> Result<Option<Account>, StorageError> {
    accounts::table
        .filter(accounts::national_id.eq(id.expose()))
        .select(AccountRow::as_select())
        .get_result(conn)
        .optional()?
        .map(Account::try_from)
        .transpose()
}

pub fn find(conn: &mut DbConnection, account_id: &str) -> Result<Option<Account>, StorageError> {
    accounts::table
        .find(account_id)
        .select(AccountRow::as_select())
        .get_result(conn)
        .optional()?
        .map(Account::try_from)
        .transpose()
}

/// The account `account_id` and its citizen's register record, in one query: every
/// token check reads both, and on PostgreSQL each query is a round trip.
pub fn find_with_citizen(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<Option<(Account, Citizen)>, StorageError> {
    let Some((account, citizen)) = accounts::table
        .inner_join(citizens::table)
        .filter(accounts::id.eq(account_id))
        .select((AccountRow::as_select(), CitizenRow::as_select()))
        .get_result(conn)
        .optional()?
    else {
        return Ok(None);
    };
    Ok(Some((
        Account::try_from(account)?,
        Citizen::try_from(citizen)?,
    )))
}

pub fn insert(conn: &mut DbConnection, account: &Account) -> Result<(), StorageError> {
    let row = AccountRow {
        id: account.id.clone(),
        national_id: account.national_id.expose().to_owned(),
        password_hash: account.password_hash.clone(),
        status: account.status.as_str().to_owned(),
        assurance_level: account.assurance_level.number(),
        created_at: account.created_at,
        updated_at: account.updated_at,
    };
    diesel::insert_into(accounts::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}

/// Sets an account's status; returns whether the account exists.
pub fn set_status(
    conn: &mut DbConnection,
    id: &NationalId,
    status: AccountStatus,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let updated = diesel::update(accounts::table.filter(accounts::national_id.eq(id.expose())))
        .set((
            accounts::status.eq(status.as_str()),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Sets an account's assurance level; returns whether the account exists.
pub fn set_level(
    conn: &mut DbConnection,
    id: &NationalId,
    level: AssuranceLevel,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let updated = diesel::update(accounts::table.filter(accounts::national_id.eq(id.expose())))
        .set((
            accounts::assurance_level.eq(level.number()),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Replaces an account's password hash; returns whether the account exists.
pub fn set_password_hash(
    conn: &mut DbConnection,
    account_id: &str,
    password_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let updated = diesel::update(accounts::table.find(account_id))
        .set((
            accounts::password_hash.eq(password_hash),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Inserts a self-enrolled account with the contact the citizen gave, in one
/// transaction. `Ok(false)` when the number already has an account (the unique index
/// decides, so two enrolments racing for one number cannot both succeed).
pub fn insert_enrolled(
    conn: &mut DbConnection,
    account: &Account,
    phone: Option<&str>,
    email: Option<&str>,
) -> Result<bool, StorageError> {
    super::transaction(conn, |conn| {
        if find_by_national_id(conn, &account.national_id)?.is_some() {
            return Ok(false);
        }
        match insert(conn, account) {
            Err(StorageError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))) => return Ok(false),
            other => other?,
        }
        diesel::update(accounts::table.find(&account.id))
            .set((accounts::phone.eq(phone), accounts::email.eq(email)))
            .execute(conn)?;
        Ok(true)
    })
}

/// How a citizen can be reached, as they gave it at enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountContact {
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// The contact stored with an account (`None` if there is no such account).
pub fn contact(
    conn: &mut DbConnection,
    account_id: &str,
) -> Result<Option<AccountContact>, StorageError> {
    let found: Option<(Option<String>, Option<String>)> = accounts::table
        .find(account_id)
        .select((accounts::phone, accounts::email))
        .get_result(conn)
        .optional()?;
    Ok(found.map(|(phone, email)| AccountContact { phone, email }))
}

/// Replaces an account's password hash only if it is still `old_hash` (a password
/// changed meanwhile wins); returns whether it replaced it.
pub fn replace_password_hash(
    conn: &mut DbConnection,
    account_id: &str,
    old_hash: &str,
    new_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let updated = diesel::update(
        accounts::table
            .find(account_id)
            .filter(accounts::password_hash.eq(old_hash)),
    )
    .set((
        accounts::password_hash.eq(new_hash),
        accounts::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}
