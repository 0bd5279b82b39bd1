//! One record of a register file, checked field by field into a [`Citizen`].
//!
//! Checks run in column order and the first failure is the row's reason: an operator
//! fixes it, imports again, and sees the next one if there is one. Reasons name the
//! column and the rule, never the value.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime};
use csv::ByteRecord;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use super::{COLUMNS, FirstSeen};
use crate::domain::citizen::{Address, Citizen, LifeStatus, Sex};
use crate::domain::national_id::NationalId;

/// Longest text a field may hold, in characters after normalisation: well past any real
/// name or address, and small enough that a stray blob cannot reach the database.
const MAX_TEXT: usize = 200;
/// Longest ID card number: a CCCD number has 12 digits, an old CMND number 9.
const MAX_CARD_NUMBER: usize = 20;

/// Nobody alive or recently dead in the register was born earlier; an earlier date is a
/// typing error (and the century digit of the number cannot express it).
const EARLIEST_BIRTH: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(date) => date,
    None => NaiveDate::MIN,
};

/// The columns, as indexes into [`COLUMNS`] (same order; a test checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(super) enum Column {
    NationalId,
    FullName,
    FamilyName,
    MiddleName,
    GivenName,
    BirthDate,
    Sex,
    Nationality,
    PlaceOfOrigin,
    AddressStreet,
    AddressWard,
    AddressDistrict,
    AddressProvince,
    AddressCountry,
    IdCardNumber,
    IdCardIssuedOn,
    IdCardExpiresOn,
    LifeStatus,
    UpdatedAt,
}

impl Column {
    #[cfg(test)]
    pub(super) const ALL: [Column; COLUMNS.len()] = [
        Column::NationalId,
        Column::FullName,
        Column::FamilyName,
        Column::MiddleName,
        Column::GivenName,
        Column::BirthDate,
        Column::Sex,
        Column::Nationality,
        Column::PlaceOfOrigin,
        Column::AddressStreet,
        Column::AddressWard,
        Column::AddressDistrict,
        Column::AddressProvince,
        Column::AddressCountry,
        Column::IdCardNumber,
        Column::IdCardIssuedOn,
        Column::IdCardExpiresOn,
        Column::LifeStatus,
        Column::UpdatedAt,
    ];

    pub(super) fn name(self) -> &'static str {
        COLUMNS.get(self as usize).copied().unwrap_or("?")
    }
}

/// Why `column` was refused, in the form every row error takes.
fn refuse(column: Column, why: impl std::fmt::Display) -> String {
    format!("{}: {why}", column.name())
}

/// The fields of one record, looked up by column whatever their order in the file.
pub(super) struct Fields<'a> {
    record: &'a ByteRecord,
    positions: &'a [usize; COLUMNS.len()],
}

impl<'a> Fields<'a> {
    /// `record` must have as many fields as the header; a missing one reads as empty.
    pub(super) fn new(record: &'a ByteRecord, positions: &'a [usize; COLUMNS.len()]) -> Self {
        Self { record, positions }
    }

    fn raw(&self, column: Column) -> &'a [u8] {
        self.positions
            .get(column as usize)
            .and_then(|&index| self.record.get(index))
            .unwrap_or_default()
    }

    /// The field as text: UTF-8, trimmed, in NFC (so that a name typed with combining
    /// marks matches the same name precomposed), without control characters, and at
    /// most `max_chars` characters long. May be empty.
    fn text(&self, column: Column, max_chars: usize) -> Result<String, String> {
        let raw = std::str::from_utf8(self.raw(column))
            .map_err(|_| refuse(column, "not valid UTF-8"))?
            .trim();
        let text: String = match is_nfc_quick(raw.chars()) {
            IsNormalized::Yes => raw.to_owned(),
            IsNormalized::No | IsNormalized::Maybe => raw.nfc().collect(),
        };
        // A line break, tab or escape in a name would follow it into terminals, logs
        // and tokens; no field of the register has a use for one.
        if text.chars().any(char::is_control) {
            return Err(refuse(
                column,
                "contains a control character (a line break, tab or the like)",
            ));
        }
        if text.chars().count() > max_chars {
            return Err(refuse(
                column,
                format_args!("longer than {max_chars} characters"),
            ));
        }
        Ok(text)
    }

    /// Text that must not be empty.
    fn required(&self, column: Column) -> Result<String, String> {
        self.required_within(column, MAX_TEXT)
    }

    fn required_within(&self, column: Column, max_chars: usize) -> Result<String, String> {
        let text = self.text(column, max_chars)?;
        if text.is_empty() {
            return Err(refuse(column, "required, but empty"));
        }
        Ok(text)
    }

    /// A date in `YYYY-MM-DD` form, or `None` for an empty field.
    fn date(&self, column: Column) -> Result<Option<NaiveDate>, String> {
        let text = self.text(column, MAX_TEXT)?;
        if text.is_empty() {
            return Ok(None);
        }
        parse_date(&text)
            .map(Some)
            .map_err(|why| refuse(column, why))
    }

    fn required_date(&self, column: Column) -> Result<NaiveDate, String> {
        self.date(column)?
            .ok_or_else(|| refuse(column, "required, but empty"))
    }

    /// An ISO 3166-1 alpha-2 code: two ASCII capital letters.
    fn country(&self, column: Column) -> Result<String, String> {
        let code = self.required(column)?;
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(refuse(
                column,
                "must be a country code of two capital letters, such as VN",
            ));
        }
        Ok(code)
    }
}

/// Strictly `YYYY-MM-DD`: chrono's `%Y-%m-%d` would also take `2023-2-3` and `+2023-...`.
fn parse_date(text: &str) -> Result<NaiveDate, &'static str> {
    const FORM: &str = "not a date in the form YYYY-MM-DD";
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, &byte)| match index {
            4 | 7 => byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    if !shaped {
        return Err(FORM);
    }
    let number = |range: std::ops::Range<usize>| {
        text.get(range)
            .and_then(|digits| digits.parse::<u32>().ok())
            .ok_or(FORM)
    };
    let year = i32::try_from(number(0..4)?).map_err(|_| FORM)?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?).ok_or("not a real calendar date")
}

/// Checks one record into a citizen, or says why not. `line` is where the record starts,
/// for the duplicate detector.
pub(super) fn parse(
    fields: &Fields<'_>,
    today: NaiveDate,
    line: u64,
    first_seen: &mut FirstSeen,
) -> Result<Citizen, String> {
    use Column as C;

    let national_id = NationalId::parse(&fields.required(C::NationalId)?)
        .map_err(|error| refuse(C::NationalId, error))?;
    // Claimed before the rest is checked: the first occurrence owns the number even if
    // it is refused, so that a file holding two records for one person never has one of
    // them imported on the strength of the other being wrong.
    first_seen.claim(&national_id, line).map_err(|first| {
        refuse(
            C::NationalId,
            format_args!("duplicate personal identification number; first seen on line {first}"),
        )
    })?;

    let full_name = fields.required(C::FullName)?;
    let family_name = fields.required(C::FamilyName)?;
    let middle_name = fields.text(C::MiddleName, MAX_TEXT)?;
    let given_name = fields.required(C::GivenName)?;

    let birth_date = fields.required_date(C::BirthDate)?;
    if birth_date < EARLIEST_BIRTH {
        return Err(refuse(C::BirthDate, "before 1900-01-01"));
    }
    if birth_date > today {
        return Err(refuse(C::BirthDate, "in the future"));
    }

    let sex = Sex::parse(&fields.required(C::Sex)?)
        .ok_or_else(|| refuse(C::Sex, "must be `male` or `female`"))?;
    // The number encodes sex and birth year; a record that contradicts its own number
    // has one of them wrong, and we cannot tell which.
    if national_id.sex() != sex {
        return Err(refuse(
            C::Sex,
            "does not match the sex encoded in national_id",
        ));
    }
    if national_id.birth_year() != birth_date.year() {
        return Err(refuse(
            C::BirthDate,
            "the year does not match the birth year encoded in national_id",
        ));
    }

    let nationality = fields.country(C::Nationality)?;
    let place_of_origin = fields.required(C::PlaceOfOrigin)?;
    let address = Address {
        street: fields.required(C::AddressStreet)?,
        ward: fields.required(C::AddressWard)?,
        district: fields.required(C::AddressDistrict)?,
        province: fields.required(C::AddressProvince)?,
        country: fields.country(C::AddressCountry)?,
    };

    let id_card_number = fields.required_within(C::IdCardNumber, MAX_CARD_NUMBER)?;
    if !id_card_number.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(refuse(
            C::IdCardNumber,
            "must be ASCII letters and digits only",
        ));
    }
    let id_card_issued_on = fields.required_date(C::IdCardIssuedOn)?;
    if id_card_issued_on > today {
        return Err(refuse(C::IdCardIssuedOn, "in the future"));
    }
    if id_card_issued_on < birth_date {
        return Err(refuse(C::IdCardIssuedOn, "before birth_date"));
    }
    let id_card_expires_on = fields.date(C::IdCardExpiresOn)?;
    if id_card_expires_on.is_some_and(|expires| expires < id_card_issued_on) {
        return Err(refuse(C::IdCardExpiresOn, "before id_card_issued_on"));
    }

    let life_status = LifeStatus::parse(&fields.required(C::LifeStatus)?)
        .ok_or_else(|| refuse(C::LifeStatus, "must be `living` or `deceased`"))?;

    let updated_at = parse_updated_at(&fields.required(C::UpdatedAt)?, today)
        .map_err(|why| refuse(C::UpdatedAt, why))?;

    Ok(Citizen {
        national_id,
        full_name,
        family_name,
        middle_name,
        given_name,
        birth_date,
        sex,
        nationality,
        place_of_origin,
        address,
        id_card_number,
        id_card_issued_on,
        id_card_expires_on,
        life_status,
        updated_at,
    })
}

/// An RFC 3339 timestamp, as UTC. Re-imports keep the newest record of a citizen, so a
/// stamp far in the future would shadow every later correction; a day of slack covers
/// clocks that disagree and exports stamped in a time zone ahead of ours.
fn parse_updated_at(text: &str, today: NaiveDate) -> Result<NaiveDateTime, &'static str> {
    let updated_at = DateTime::parse_from_rfc3339(text)
        .map_err(|_| "not an RFC 3339 date and time, such as 2026-11-01T08:00:00Z")?
        .naive_utc();
    let latest = today
        .checked_add_days(Days::new(1))
        .unwrap_or(NaiveDate::MAX);
    if updated_at.date() > latest {
        return Err("more than a day in the future");
    }
    Ok(updated_at)
}
