//! Loading a validated CSV stream into the register, in batched transactions.

use std::io::Read;

use super::{CitizenReader, RowError};
use crate::domain::citizen::Citizen;
use crate::storage::citizens::{self, UpsertCounts};
use crate::storage::{DbConnection, StorageError};

const BATCH: usize = 1000;

/// The summary printed at the end of an import.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Reading stopped at an I/O error: rows after it were not seen.
    pub incomplete: bool,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rows read: {}, inserted: {}, updated: {}, unchanged: {}, rejected: {}{}",
            self.read,
            self.inserted,
            self.updated,
            self.unchanged,
            self.rejected,
            if self.incomplete {
                " (incomplete: reading stopped early)"
            } else {
                ""
            }
        )
    }
}

/// Reads every row, reports each rejected one to `on_reject`, and upserts the valid
/// ones in batches of 1,000, each in its own transaction. A rejected row is never
/// written, not even in part. With `write` false (a dry run) nothing is written, yet
/// the counts say what an import would do. `progress` is called after each batch.
pub fn load<R: Read>(
    conn: &mut DbConnection,
    mut reader: CitizenReader<R>,
    write: bool,
    mut on_reject: impl FnMut(&RowError),
    mut progress: impl FnMut(&ImportSummary),
) -> Result<ImportSummary, StorageError> {
    let mut summary = ImportSummary::default();
    let mut batch: Vec<Citizen> = Vec::with_capacity(BATCH);
    let mut flush =
        |batch: &mut Vec<Citizen>, summary: &mut ImportSummary, conn: &mut DbConnection| {
            let counts: UpsertCounts = citizens::upsert_batch(conn, batch, write)?;
            summary.inserted += counts.inserted;
            summary.updated += counts.updated;
            summary.unchanged += counts.unchanged;
            batch.clear();
            progress(summary);
            Ok::<_, StorageError>(())
        };
    for row in reader.by_ref() {
        summary.read += 1;
        match row {
            Ok(citizen) => batch.push(citizen),
            Err(error) => {
                summary.rejected += 1;
                on_reject(&error);
            }
        }
        if batch.len() == BATCH {
            flush(&mut batch, &mut summary, conn)?;
        }
    }
    if !batch.is_empty() {
        flush(&mut batch, &mut summary, conn)?;
    }
    summary.incomplete = reader.stopped_early();
    Ok(summary)
}
