//! The `citizens` table: the population register.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::connection::per_backend;
use super::schema::citizens;
use super::{DbConnection, StorageError};
use crate::domain::citizen::{Address, Citizen, LifeStatus, Sex};
use crate::domain::national_id::NationalId;

#[derive(Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
// `None` is NULL, never DEFAULT: the change set clears an expiry date, and binary COPY
// (which has no DEFAULT) accepts the rows.
#[diesel(table_name = citizens, treat_none_as_null = true, treat_none_as_default_value = false)]
pub(super) struct CitizenRow {
    national_id: String,
    full_name: String,
    family_name: String,
    middle_name: String,
    given_name: String,
    birth_date: NaiveDate,
    sex: String,
    nationality: String,
    place_of_origin: String,
    address_street: String,
    address_ward: String,
    address_district: String,
    address_province: String,
    address_country: String,
    id_card_number: String,
    id_card_issued_on: NaiveDate,
    id_card_expires_on: Option<NaiveDate>,
    life_status: String,
    updated_at: NaiveDateTime,
}

impl From<&Citizen> for CitizenRow {
    fn from(c: &Citizen) -> Self {
        CitizenRow {
            national_id: c.national_id.expose().to_owned(),
            full_name: c.full_name.clone(),
            family_name: c.family_name.clone(),
            middle_name: c.middle_name.clone(),
            given_name: c.given_name.clone(),
            birth_date: c.birth_date,
            sex: c.sex.as_str().to_owned(),
            nationality: c.nationality.clone(),
            place_of_origin: c.place_of_origin.clone(),
            address_street: c.address.street.clone(),
            address_ward: c.address.ward.clone(),
            address_district: c.address.district.clone(),
            address_province: c.address.province.clone(),
            address_country: c.address.country.clone(),
            id_card_number: c.id_card_number.clone(),
            id_card_issued_on: c.id_card_issued_on,
            id_card_expires_on: c.id_card_expires_on,
            life_status: c.life_status.as_str().to_owned(),
            updated_at: c.updated_at,
        }
    }
}

impl TryFrom<CitizenRow> for Citizen {
    type Error = StorageError;

    fn try_from(row: CitizenRow) -> Result<Self, StorageError> {
        let corrupt = |what: &str| StorageError::Corrupt(format!("citizens.{what}"));
        Ok(Citizen {
            national_id: NationalId::parse(&row.national_id).map_err(|_| corrupt("national_id"))?,
            full_name: row.full_name,
            family_name: row.family_name,
            middle_name: row.middle_name,
            given_name: row.given_name,
            birth_date: row.birth_date,
            sex: Sex::parse(&row.sex).ok_or_else(|| corrupt("sex"))?,
            nationality: row.nationality,
            place_of_origin: row.place_of_origin,
            address: Address {
                street: row.address_street,
                ward: row.address_ward,
                district: row.address_district,
                province: row.address_province,
                country: row.address_country,
            },
            id_card_number: row.id_card_number,
            id_card_issued_on: row.id_card_issued_on,
            id_card_expires_on: row.id_card_expires_on,
            life_status: LifeStatus::parse(&row.life_status)
                .ok_or_else(|| corrupt("life_status"))?,
            updated_at: row.updated_at,
        })
    }
}

pub fn find(conn: &mut DbConnection, id: &NationalId) -> Result<Option<Citizen>, StorageError> {
    citizens::table
        .find(id.expose())
        .select(CitizenRow::as_select())
        .get_result(conn)
        .optional()?
        .map(Citizen::try_from)
        .transpose()
}

/// Inserts new citizens in one statement; fails if any number already exists.
pub fn insert_batch(conn: &mut DbConnection, batch: &[Citizen]) -> Result<usize, StorageError> {
    let rows: Vec<CitizenRow> = batch.iter().map(CitizenRow::from).collect();
    Ok(per_backend!(conn, |c| diesel::insert_into(
        citizens::table
    )
    .values(&rows)
    .execute(c))?)
}

/// Inserts the citizens whose numbers are not yet in the register, in one statement;
/// returns how many were inserted.
pub fn insert_new_batch(conn: &mut DbConnection, batch: &[Citizen]) -> Result<usize, StorageError> {
    let mut rows: Vec<CitizenRow> = batch.iter().map(CitizenRow::from).collect();
    // Key order keeps the B-tree inserts local: far fewer page splits and cache misses.
    rows.sort_unstable_by(|a, b| a.national_id.cmp(&b.national_id));
    // diesel offers a multi-row upsert on SQLite only in its `INSERT OR IGNORE` form.
    let inserted = match conn {
        DbConnection::Postgres(pg) => diesel::insert_into(citizens::table)
            .values(&rows)
            .on_conflict_do_nothing()
            .execute(pg),
        DbConnection::Sqlite(sqlite) => diesel::insert_or_ignore_into(citizens::table)
            .values(&rows)
            .execute(sqlite),
    };
    Ok(inserted?)
}

pub fn count(conn: &mut DbConnection) -> Result<i64, StorageError> {
    Ok(citizens::table.count().get_result(conn)?)
}

/// Records a life event; returns whether the citizen exists.
pub fn set_life_status(
    conn: &mut DbConnection,
    id: &NationalId,
    status: LifeStatus,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let updated = diesel::update(citizens::table.find(id.expose()))
        .set((
            citizens::life_status.eq(status.as_str()),
            citizens::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// What an upsert did with each row of a batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UpsertCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, other: Self) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// Upserts a batch on the personal identification number, keeping the newest record:
/// a stored citizen is replaced only by a row with a later `updated_at` and different
/// content. With `write` false nothing is written (a dry run) but the counts are the
/// same. The batch must not repeat a number.
pub fn upsert_batch(
    conn: &mut DbConnection,
    batch: &[Citizen],
    write: bool,
) -> Result<UpsertCounts, StorageError> {
    use std::collections::HashMap;
    super::transaction(conn, |conn| {
        let ids: Vec<&str> = batch.iter().map(|c| c.national_id.expose()).collect();
        let stored: HashMap<String, CitizenRow> = citizens::table
            .filter(citizens::national_id.eq_any(&ids))
            .select(CitizenRow::as_select())
            .load(conn)?
            .into_iter()
            .map(|row| (row.national_id.clone(), row))
            .collect();
        let mut counts = UpsertCounts::default();
        let mut fresh = Vec::new();
        let mut changed = Vec::new();
        for row in batch.iter().map(CitizenRow::from) {
            match stored.get(&row.national_id) {
                None => fresh.push(row),
                Some(old) if row.updated_at > old.updated_at && !same_content(old, &row) => {
                    changed.push(row)
                }
                Some(_) => counts.unchanged += 1,
            }
        }
        counts.inserted = fresh.len() as u64;
        counts.updated = changed.len() as u64;
        if write {
            insert_rows(conn, fresh)?;
            for row in &changed {
                diesel::update(citizens::table.find(&row.national_id))
                    .set(row)
                    .execute(conn)?;
            }
        }
        Ok(counts)
    })
}

fn same_content(a: &CitizenRow, b: &CitizenRow) -> bool {
    let mut b = b.clone();
    b.updated_at = a.updated_at;
    *a == b
}

/// Inserts rows known to be new, in key order: PostgreSQL's binary COPY, several times
/// faster than a multi-row INSERT; SQLite's multi-row INSERT.
fn insert_rows(conn: &mut DbConnection, mut rows: Vec<CitizenRow>) -> Result<(), StorageError> {
    if rows.is_empty() {
        return Ok(());
    }
    rows.sort_unstable_by(|a, b| a.national_id.cmp(&b.national_id));
    match conn {
        DbConnection::Postgres(pg) => {
            diesel::copy_from(citizens::table)
                .from_insertable(&rows)
                .execute(pg)?;
        }
        DbConnection::Sqlite(sqlite) => {
            // SQLite allows 32,766 bound values per statement: 1,000 rows of 19.
            for chunk in rows.chunks(1000) {
                diesel::insert_into(citizens::table)
                    .values(chunk)
                    .execute(sqlite)?;
            }
        }
    }
    Ok(())
}

/// Up to `limit` citizens in number order, after `after`; for streaming exports.
pub fn page_after(
    conn: &mut DbConnection,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Citizen>, StorageError> {
    let mut query = citizens::table
        .select(CitizenRow::as_select())
        .order(citizens::national_id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(citizens::national_id.gt(after.to_owned()));
    }
    query
        .load(conn)?
        .into_iter()
        .map(Citizen::try_from)
        .collect()
}
