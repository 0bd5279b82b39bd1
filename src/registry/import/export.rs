//! Writing the whole register out as a register file, in number order, a page of
//! citizens at a time so that memory stays flat whatever the population.

use std::io::{self, BufWriter, Write};

use super::CitizenWriter;
use crate::storage::{DbConnection, StorageError, citizens};

const PAGE: i64 = 10_000;

/// Writes every citizen to the output that `open` gives, and returns how many. `open`
/// is called once the connection is held. A failed write stops the export and is
/// reported as [`StorageError::Unavailable`], with the I/O error's text.
pub fn export<W: Write>(
    conn: &mut DbConnection,
    open: impl FnOnce() -> io::Result<W>,
) -> Result<u64, StorageError> {
    let io_error = |e: io::Error| StorageError::Unavailable(e.to_string());
    let output = open().map_err(io_error)?;
    let mut writer = CitizenWriter::new(BufWriter::new(output)).map_err(io_error)?;
    let mut after: Option<String> = None;
    let mut written = 0u64;
    loop {
        let page = citizens::page_after(conn, after.as_deref(), PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some(last.national_id.expose().to_owned());
        for citizen in &page {
            writer.write(citizen).map_err(io_error)?;
        }
        written += page.len() as u64;
    }
    writer.into_inner().map_err(io_error)?;
    Ok(written)
}
