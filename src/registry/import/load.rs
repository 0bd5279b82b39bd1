//! Loading a validated CSV stream into the register, in batched transactions.

use std::io::Read;

use chrono::NaiveDateTime;

use super::{CitizenReader, RowError};
use crate::domain::citizen::Citizen;
use crate::registry::lifecycle;
use crate::storage::citizens::UpsertCounts;
use crate::storage::{DbConnection, StorageError};

const BATCH: usize = 5000;

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
/// ones in batches of 5,000, each in its own transaction. A rejected row is never
/// written, not even in part. With `write` false (a dry run) nothing is written, yet
/// the counts say what an import would do. `progress` is called after each batch.
///
/// A batch that records the death of a citizen with an account also asks the servers
/// to end that account's sessions (see `registry::lifecycle::import_batch`).
///
/// Parsing and validating run on their own thread, one batch ahead of the writes, so
/// that the CPU work of reading overlaps the database's work of writing.
pub fn load<R: Read + Send>(
    conn: &mut DbConnection,
    reader: CitizenReader<R>,
    write: bool,
    mut on_reject: impl FnMut(&RowError),
    mut progress: impl FnMut(&ImportSummary),
    now: NaiveDateTime,
) -> Result<ImportSummary, StorageError> {
    enum Parsed {
        Batch(Vec<Citizen>, u64),
        Rejected(RowError),
    }
    std::thread::scope(|scope| {
        // Two batches in flight at most: memory stays flat whatever the file's size.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Parsed>(2);
        let parser = scope.spawn(move || {
            let mut reader = reader;
            let mut batch = Vec::with_capacity(BATCH);
            let mut read = 0u64;
            for row in reader.by_ref() {
                read += 1;
                let sent = match row {
                    Ok(citizen) => {
                        batch.push(citizen);
                        if batch.len() < BATCH {
                            continue;
                        }
                        tx.send(Parsed::Batch(
                            std::mem::replace(&mut batch, Vec::with_capacity(BATCH)),
                            read,
                        ))
                    }
                    Err(error) => tx.send(Parsed::Rejected(error)),
                };
                // The writer stopped (a database error): stop reading too.
                if sent.is_err() {
                    return (read, reader.stopped_early());
                }
            }
            let _ = tx.send(Parsed::Batch(batch, read));
            (read, reader.stopped_early())
        });

        let mut summary = ImportSummary::default();
        for parsed in rx {
            match parsed {
                Parsed::Rejected(error) => {
                    summary.rejected += 1;
                    on_reject(&error);
                }
                Parsed::Batch(batch, read_so_far) => {
                    summary.read = read_so_far;
                    if !batch.is_empty() {
                        let counts: UpsertCounts =
                            lifecycle::import_batch(conn, &batch, write, now)?;
                        summary.inserted += counts.inserted;
                        summary.updated += counts.updated;
                        summary.unchanged += counts.unchanged;
                    }
                    progress(&summary);
                }
            }
        }
        let (read, stopped_early) = parser
            .join()
            .map_err(|_| StorageError::Corrupt("the CSV reader thread failed".into()))?;
        summary.read = read;
        summary.incomplete = stopped_early;
        Ok(summary)
    })
}
