//! Register files: the CSV form in which the population register is handed over, read
//! row by row with every field checked, and written back out.
//!
//! [`CitizenReader`] turns a file into [`Citizen`]s. It checks the header once, then
//! yields one item per record: a citizen, or a [`RowError`] that names the physical line
//! the record starts on and why it was refused. A bad row never ends the iteration; only
//! a failing read does (see [`CitizenReader::stopped_early`]). The columns and their
//! rules are documented for operators in `docs/REGISTER_CSV.md`.
//!
//! Reading streams: one record is held at a time, so memory does not grow with the file,
//! except for the duplicate detector, which remembers each personal identification
//! number it has seen and the line it was first seen on, some 20 to 40 bytes per row
//! (see `FirstSeen`).
//!
//! Error reasons name the column and the rule, never the value: every value in the file
//! is personal data, and import reports end up in terminals and logs.
//!
//! [`CitizenWriter`] writes the same format, so that a generated population can be
//! exported and fed back in.
//!
//! Reading and writing are pure: no database and no I/O beyond the `Read` or `Write`
//! given. [`load`] writes what was read into the register, and [`export`] reads the
//! register out.

mod export;
mod load;
mod row;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::io::{self, Read};
use std::iter::FusedIterator;

use chrono::NaiveDate;
use csv::ByteRecord;

use crate::domain::citizen::Citizen;
use crate::domain::national_id::NationalId;

pub use export::export;
pub use load::{ImportSummary, load};
pub use writer::CitizenWriter;

/// The columns of a register file, in the order [`CitizenWriter`] writes them. A file
/// may order them differently, but must have every one of them and no other.
pub const COLUMNS: [&str; 19] = [
    "national_id",
    "full_name",
    "family_name",
    "middle_name",
    "given_name",
    "birth_date",
    "sex",
    "nationality",
    "place_of_origin",
    "address_street",
    "address_ward",
    "address_district",
    "address_province",
    "address_country",
    "id_card_number",
    "id_card_issued_on",
    "id_card_expires_on",
    "life_status",
    "updated_at",
];

/// A record that was refused: the physical line it starts on (1-based) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for RowError {}

/// Why a file was refused before its first row: its header row is not the register's.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("the file is empty: its first line must be the header row")]
    Empty,
    #[error("header field {position} is not valid UTF-8")]
    NotUtf8 { position: usize },
    /// `name` is `None` when the field does not look like a column name at all, most
    /// likely because the header row is missing and the first line is a citizen's
    /// record, which must not be echoed.
    #[error("{}", unknown_column(*position, name.as_deref()))]
    UnknownColumn {
        position: usize,
        name: Option<String>,
    },
    #[error("column {0} appears more than once in the header")]
    DuplicateColumn(&'static str),
    #[error("missing column(s): {}", .0.join(", "))]
    MissingColumns(Vec<&'static str>),
    #[error("could not read the header: {0}")]
    Read(#[source] csv::Error),
}

fn unknown_column(position: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("unknown column {name:?} (header field {position})"),
        None => {
            format!("header field {position} is not a column name (is the header row missing?)")
        }
    }
}

/// Reads citizens from a register file; see the module documentation.
pub struct CitizenReader<R: Read> {
    csv: csv::Reader<CountingReader<R>>,
    /// For each entry of [`COLUMNS`], the index of its field in a record of this file.
    positions: [usize; COLUMNS.len()],
    /// The number of fields of the header, which every record must have.
    width: usize,
    /// Reused for every record, so that reading does not allocate per row.
    record: ByteRecord,
    today: NaiveDate,
    first_seen: FirstSeen,
    finished: bool,
    stopped_early: bool,
}

impl<R: Read> CitizenReader<R> {
    /// Reads and checks the header row. Columns may come in any order; every column of
    /// [`COLUMNS`] is required and any other column is an error.
    ///
    /// `today` bounds the dates of the rows: nobody is born, and no card is issued,
    /// after it.
    pub fn new(input: R, today: NaiveDate) -> Result<Self, HeaderError> {
        let mut csv = csv::ReaderBuilder::new()
            // The header is read as an ordinary record, so that it is checked here
            // rather than trusted.
            .has_headers(false)
            // A record with the wrong number of fields is a bad row, reported with its
            // line, not an error that the csv crate raises for us.
            .flexible(true)
            // Only LF ends a record. With the default (CR, LF or CRLF) the reader counts
            // the LF of a CRLF file as the start of the next record, and every line
            // number it reports is one short; the CR before the LF lands at the end of
            // the last field instead, where trimming removes it.
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(CountingReader::new(input));

        let mut header = ByteRecord::new();
        loop {
            match csv.read_byte_record(&mut header) {
                Ok(true) if is_blank(&header) => continue,
                Ok(true) => break,
                Ok(false) => return Err(HeaderError::Empty),
                Err(error) => return Err(HeaderError::Read(error)),
            }
        }

        let mut found: [Option<usize>; COLUMNS.len()] = [None; COLUMNS.len()];
        for (index, field) in header.iter().enumerate() {
            let position = index + 1;
            let name = std::str::from_utf8(field)
                .map_err(|_| HeaderError::NotUtf8 { position })?
                .trim();
            let Some(column) = COLUMNS.iter().position(|c| *c == name) else {
                return Err(HeaderError::UnknownColumn {
                    position,
                    name: looks_like_a_column_name(name).then(|| name.to_owned()),
                });
            };
            match found.get_mut(column) {
                Some(slot @ None) => *slot = Some(index),
                _ => return Err(HeaderError::DuplicateColumn(COLUMNS[column])),
            }
        }

        let mut positions = [0; COLUMNS.len()];
        let mut missing = Vec::new();
        for ((position, found), name) in positions.iter_mut().zip(found).zip(COLUMNS) {
            match found {
                Some(index) => *position = index,
                None => missing.push(name),
            }
        }
        if !missing.is_empty() {
            return Err(HeaderError::MissingColumns(missing));
        }

        Ok(Self {
            csv,
            positions,
            width: header.len(),
            record: ByteRecord::new(),
            today,
            first_seen: FirstSeen::default(),
            finished: false,
            stopped_early: false,
        })
    }

    /// Whether a failing read ended the iteration before the end of the input. The
    /// failure itself was the last item, a [`RowError`]; an import should not treat
    /// such a file as complete.
    pub fn stopped_early(&self) -> bool {
        self.stopped_early
    }

    /// The 1-based physical line on which the record just read starts.
    ///
    /// Worked out backwards from the line the reader has reached, because the csv
    /// crate's own record position points at the blank lines skipped before a record
    /// rather than at the record. The reader stands after the record's terminating LF,
    /// if it had one, and each LF inside its (quoted) fields is a line of the record.
    fn record_line(&self, terminated: bool) -> u64 {
        let breaks: usize = self
            .record
            .iter()
            .map(|field| field.iter().filter(|&&byte| byte == b'\n').count())
            .sum();
        self.csv
            .position()
            .line()
            .saturating_sub(breaks as u64)
            .saturating_sub(u64::from(terminated))
            .max(1)
    }

    /// Whether the record just read ended with an LF. Only the last record of a file
    /// can lack one: the csv crate ends a record without a terminator only at the end
    /// of the input, when everything delivered has been consumed.
    fn record_terminated(&self) -> bool {
        let source = self.csv.get_ref();
        self.csv.position().byte() < source.delivered || source.last_byte == Some(b'\n')
    }

    fn check_record(&mut self, line: u64, terminated: bool) -> Result<Citizen, RowError> {
        let found = self.record.len();
        if found != self.width {
            let reason = if found < self.width && !terminated {
                format!(
                    "expected {} fields, found {found}: the last line of the file is incomplete",
                    self.width
                )
            } else {
                format!("expected {} fields, found {found}", self.width)
            };
            return Err(RowError { line, reason });
        }
        let fields = row::Fields::new(&self.record, &self.positions);
        row::parse(&fields, self.today, line, &mut self.first_seen)
            .map_err(|reason| RowError { line, reason })
    }
}

impl<R: Read> Iterator for CitizenReader<R> {
    type Item = Result<Citizen, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.finished {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(true) if is_blank(&self.record) => continue,
                Ok(true) => {
                    let terminated = self.record_terminated();
                    let line = self.record_line(terminated);
                    return Some(self.check_record(line, terminated));
                }
                Ok(false) => self.finished = true,
                Err(error) => {
                    // Retrying a failed read could fail forever, and the csv crate
                    // reports the end of input after an I/O error anyway.
                    self.finished = true;
                    self.stopped_early = true;
                    return Some(Err(RowError {
                        line: self.csv.position().line(),
                        reason: format!("reading stopped here: {error}"),
                    }));
                }
            }
        }
        None
    }
}

impl<R: Read> FusedIterator for CitizenReader<R> {}

/// A line of nothing but spaces is skipped like an empty one (which the csv crate skips
/// on its own); so is a line holding only the CR of a CRLF. No record of a register
/// file has one field.
fn is_blank(record: &ByteRecord) -> bool {
    record.len() == 1
        && record
            .get(0)
            .is_some_and(|field| field.iter().all(u8::is_ascii_whitespace))
}

/// Whether an unknown header field may be echoed in the error: only something shaped
/// like a column name, never something that could be a value from a citizen's record.
fn looks_like_a_column_name(name: &str) -> bool {
    name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The line on which each personal identification number was first seen in this file.
///
/// The one structure that grows with the file: a 12-digit number fits a `u64`, and the
/// line another, so an entry is 16 bytes, plus one control byte in the hash table, which
/// keeps at most 7/8 of its slots full and doubles when it fills. That is 19 to 37 bytes
/// per distinct number, depending on where the table stands in its growth: 2 to 4 GiB
/// for a file of 100 million citizens.
#[derive(Debug, Default)]
struct FirstSeen(HashMap<u64, u64>);

impl FirstSeen {
    /// Records that `id` appears on `line`; if it appeared before, the line it first
    /// appeared on.
    fn claim(&mut self, id: &NationalId, line: u64) -> Result<(), u64> {
        // Twelve digits, checked by `NationalId::parse`: at most 10^12 - 1, no overflow.
        let key = id.expose().bytes().fold(0u64, |number, digit| {
            number
                .wrapping_mul(10)
                .wrapping_add(u64::from(digit.wrapping_sub(b'0')))
        });
        match self.0.entry(key) {
            Entry::Occupied(first) => Err(*first.get()),
            Entry::Vacant(slot) => {
                slot.insert(line);
                Ok(())
            }
        }
    }
}

/// Counts what the csv reader pulls from the input, and remembers the last byte, so
/// that the reader can tell whether a record ended with a line feed or with the input.
struct CountingReader<R> {
    inner: R,
    delivered: u64,
    last_byte: Option<u8>,
}

impl<R> CountingReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            delivered: 0,
            last_byte: None,
        }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(&last) = buf.get(..n).and_then(<[u8]>::last) {
            self.last_byte = Some(last);
        }
        self.delivered += n as u64;
        Ok(n)
    }
}
