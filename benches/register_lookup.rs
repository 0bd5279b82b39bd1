//! The register lookup a login does (the account by number, then the citizen's
//! record), timed against a populated database.
//!
//! ```sh
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/cidp_scale \
//!     cargo bench --bench register_lookup
//! ```
//!
//! It samples 2,000 numbers that exist and 2,000 that do not (an unknown number costs a
//! lookup too), looks each up 5 times on one pooled connection, and prints p50, p99
//! and the register's size.

use std::time::{Duration, Instant};

use citizen_idp::domain::national_id::NationalId;
use citizen_idp::storage::{Db, StorageError, accounts, citizens};
use diesel::RunQueryDsl;
use diesel::sql_types::Text;

#[derive(diesel::QueryableByName)]
struct Sampled {
    #[diesel(sql_type = Text)]
    national_id: String,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() -> Result<(), StorageError> {
    let Ok(url) = std::env::var("BENCH_DATABASE_URL") else {
        eprintln!("set BENCH_DATABASE_URL to a populated database (see the module docs)");
        return Ok(());
    };
    let db = Db::connect(&url, 1, Duration::from_secs(10))?;
    let total = db.run_blocking(citizens::count)?;
    let sample: Vec<NationalId> = db.run_blocking(|conn| -> Result<_, StorageError> {
        // Random sampling by key range keeps this fast on large tables.
        let rows: Vec<Sampled> = diesel::sql_query(
            "SELECT national_id FROM citizens WHERE national_id >= (SELECT national_id FROM citizens \
             ORDER BY national_id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM citizens)) \
             ORDER BY national_id LIMIT 2000",
        )
        .load(conn)?;
        Ok(rows.into_iter().filter_map(|r| NationalId::parse(&r.national_id).ok()).collect())
    })?;
    let missing: Vec<NationalId> = (0..2000u32)
        .filter_map(|i| NationalId::parse(&format!("0961999{:05}", i)).ok())
        .collect();
    let mut timings = Vec::with_capacity((sample.len() + missing.len()) * 5);
    for _ in 0..5 {
        for id in sample.iter().chain(&missing) {
            let id = id.clone();
            let started = Instant::now();
            db.run_blocking(move |conn| -> Result<_, StorageError> {
                let account = accounts::find_by_national_id(conn, &id)?;
                let citizen = citizens::find(conn, &id)?;
                Ok((account, citizen))
            })?;
            timings.push(started.elapsed());
        }
    }
    timings.sort_unstable();
    println!(
        "citizens: {total}  lookups: {}  p50: {:.1} µs  p99: {:.1} µs",
        timings.len(),
        percentile(&timings, 0.50).as_secs_f64() * 1e6,
        percentile(&timings, 0.99).as_secs_f64() * 1e6,
    );
    Ok(())
}
