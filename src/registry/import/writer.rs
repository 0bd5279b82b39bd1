//! Writing citizens as a register file, in the form [`CitizenReader`] reads.
//!
//! [`CitizenReader`]: super::CitizenReader

use std::io::{self, Write};

use chrono::SecondsFormat;

use super::COLUMNS;
use crate::domain::citizen::Citizen;

/// Writes a register file: the header row on creation, then one row per citizen, in the
/// column order of [`COLUMNS`], quoted only where a field needs it, LF-terminated.
///
/// Output is buffered: call [`flush`](Self::flush) or [`into_inner`](Self::into_inner)
/// to learn whether the last rows were written, since dropping the writer flushes but
/// cannot report a failure.
pub struct CitizenWriter<W: Write> {
    csv: csv::Writer<W>,
    /// Reused for every row, so that exporting a population does not allocate per date.
    birth_date: String,
    issued_on: String,
    expires_on: String,
}

impl<W: Write> CitizenWriter<W> {
    /// A writer that has written the header row.
    pub fn new(output: W) -> io::Result<Self> {
        let mut csv = csv::WriterBuilder::new().from_writer(output);
        csv.write_record(COLUMNS)?;
        Ok(Self {
            csv,
            birth_date: String::with_capacity(10),
            issued_on: String::with_capacity(10),
            expires_on: String::with_capacity(10),
        })
    }

    /// Writes one citizen as a row. The personal identification number leaves the
    /// process here, deliberately: a register file is the register.
    pub fn write(&mut self, citizen: &Citizen) -> io::Result<()> {
        use std::fmt::Write as _;

        // `NaiveDate`'s `Display` is `YYYY-MM-DD` for the years a register holds.
        self.birth_date.clear();
        let _ = write!(self.birth_date, "{}", citizen.birth_date);
        self.issued_on.clear();
        let _ = write!(self.issued_on, "{}", citizen.id_card_issued_on);
        self.expires_on.clear();
        if let Some(expires) = citizen.id_card_expires_on {
            let _ = write!(self.expires_on, "{expires}");
        }
        // Fractional seconds only where there are some; `Z`, not `+00:00`.
        let updated_at = citizen
            .updated_at
            .and_utc()
            .to_rfc3339_opts(SecondsFormat::AutoSi, true);

        let address = &citizen.address;
        self.csv.write_record([
            citizen.national_id.expose(),
            citizen.full_name.as_str(),
            citizen.family_name.as_str(),
            citizen.middle_name.as_str(),
            citizen.given_name.as_str(),
            self.birth_date.as_str(),
            citizen.sex.as_str(),
            citizen.nationality.as_str(),
            citizen.place_of_origin.as_str(),
            address.street.as_str(),
            address.ward.as_str(),
            address.district.as_str(),
            address.province.as_str(),
            address.country.as_str(),
            citizen.id_card_number.as_str(),
            self.issued_on.as_str(),
            self.expires_on.as_str(),
            citizen.life_status.as_str(),
            updated_at.as_str(),
        ])?;
        Ok(())
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.csv.flush()
    }

    /// Flushes, and hands back the output.
    pub fn into_inner(self) -> io::Result<W> {
        self.csv.into_inner().map_err(|error| error.into_error())
    }
}
