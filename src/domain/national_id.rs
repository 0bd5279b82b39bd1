//! The 12-digit personal identification number (số định danh cá nhân).
//!
//! Layout: a 3-digit province code of the place of birth registration, one digit that
//! encodes the century of birth and the sex, the last two digits of the birth year,
//! and six random digits. The number is personal data: its `Debug` is redacted and it
//! has no `Display`, so it cannot slip into a log line by accident.

use std::fmt;

use chrono::{Datelike, NaiveDate};

use super::citizen::Sex;
use super::province;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NationalId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NationalIdError {
    #[error("must be exactly 12 digits")]
    Format,
    #[error("unknown province code")]
    Province,
}

impl NationalId {
    /// Parses untrusted input. Surrounding whitespace is ignored; nothing else is.
    pub fn parse(input: &str) -> Result<Self, NationalIdError> {
        let digits = input.trim();
        if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NationalIdError::Format);
        }
        if province::name(&digits[..3]).is_none() {
            return Err(NationalIdError::Province);
        }
        Ok(NationalId(digits.to_owned()))
    }

    /// Builds the number for a birth, from a province code and the six final digits.
    pub fn compose(province_code: &str, sex: Sex, birth_date: NaiveDate, serial: u32) -> Self {
        let year = birth_date.year();
        let century_index = (year / 100 - 19).clamp(0, 4) as u32;
        let sex_offset = match sex {
            Sex::Male => 0,
            Sex::Female => 1,
        };
        let digit = century_index * 2 + sex_offset;
        NationalId(format!(
            "{province_code}{digit}{:02}{:06}",
            year.rem_euclid(100),
            serial % 1_000_000
        ))
    }

    pub fn province_code(&self) -> &str {
        &self.0[..3]
    }

    /// The sex encoded by the century/sex digit.
    pub fn sex(&self) -> Sex {
        let digit = self.0.as_bytes()[3] - b'0';
        if digit.is_multiple_of(2) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The birth year encoded by the century/sex digit and the two year digits.
    pub fn birth_year(&self) -> i32 {
        let digit = i32::from(self.0.as_bytes()[3] - b'0');
        let yy: i32 = self.0[4..6].parse().unwrap_or(0);
        1900 + (digit / 2) * 100 + yy
    }

    /// The digits, for storage and for the `national_id` claim. Call sites that use it
    /// are the places where the number deliberately leaves the process.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A masked form that operators may see in a CLI listing: `001*******345`.
    pub fn masked(&self) -> String {
        format!("{}*******{}", &self.0[..3], &self.0[10..])
    }
}

impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NationalId(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_number_with_a_real_province_parses() {
        let id = NationalId::parse("001090123456").unwrap();
        assert_eq!(id.province_code(), "001");
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.birth_year(), 1990);
    }

    #[test]
    fn the_century_digit_encodes_sex_and_century() {
        let born = NaiveDate::from_ymd_opt(2003, 5, 1).unwrap();
        let id = NationalId::compose("079", Sex::Female, born, 42);
        assert_eq!(id.expose(), "079303000042");
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.birth_year(), 2003);
    }

    #[test]
    fn malformed_numbers_are_rejected() {
        assert_eq!(
            NationalId::parse("00109012345"),
            Err(NationalIdError::Format)
        );
        assert_eq!(
            NationalId::parse("00109012345a"),
            Err(NationalIdError::Format)
        );
        assert_eq!(
            NationalId::parse("0010901234567"),
            Err(NationalIdError::Format)
        );
        assert_eq!(
            NationalId::parse("003090123456"),
            Err(NationalIdError::Province)
        );
    }

    #[test]
    fn debug_output_never_shows_the_digits() {
        let id = NationalId::parse("001090123456").unwrap();
        assert!(!format!("{id:?}").contains("0901"));
    }
}
