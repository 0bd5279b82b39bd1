//! Register files (`registry::import::CitizenReader`), as `population import` reads
//! them.
//!
//! Invariants: reading ends; every refused row names a line of the input; and the
//! citizens accepted, written out with `CitizenWriter` (as `population export` does)
//! and read again, come back identical and all accepted.
#![no_main]

use chrono::NaiveDate;
use citizen_idp::registry::import::{CitizenReader, CitizenWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(today) = NaiveDate::from_ymd_opt(2026, 11, 27) else {
        return;
    };
    let Ok(reader) = CitizenReader::new(data, today) else {
        return;
    };
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let mut citizens = Vec::new();
    for (index, row) in reader.enumerate() {
        // A row takes at least one byte, plus the header: reading must end.
        assert!(index <= data.len());
        match row {
            Ok(citizen) => citizens.push(citizen),
            Err(error) => assert!((1..=lines).contains(&error.line), "{error:?} of {lines}"),
        }
    }

    let mut writer = CitizenWriter::new(Vec::new()).expect("writes to memory");
    for citizen in &citizens {
        writer.write(citizen).expect("writes to memory");
    }
    let exported = writer.into_inner().expect("writes to memory");
    let again: Vec<_> = CitizenReader::new(exported.as_slice(), today)
        .expect("an export has a valid header")
        .collect();
    assert_eq!(again.len(), citizens.len());
    for (read, original) in again.into_iter().zip(&citizens) {
        assert_eq!(read.as_ref(), Ok(original));
    }
});
