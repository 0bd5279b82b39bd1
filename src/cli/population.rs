//! `citizen-idp population ...`: fill, load, write out and change the population
//! register through [`registry`](crate::registry).

use std::io::{BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use clap::Subcommand;

use super::{SESSIONS_END, parse_id};
use crate::config::Settings;
use crate::domain::citizen::LifeStatus;
use crate::registry::import::{self, CitizenReader};
use crate::registry::lifecycle::{self, Actor};
use crate::registry::seed;
use crate::startup::{self, StartupError};

#[derive(Subcommand)]
pub enum PopulationCommand {
    /// Write N synthetic but realistic citizens into the register.
    Generate {
        #[arg(long)]
        count: u64,
        /// Seed of the generator; the same seed gives the same citizens.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Load the register from a CSV file (`-` for standard input); see docs/REGISTER_CSV.md.
    Import {
        file: PathBuf,
        /// Validate and count, but write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the whole register as CSV (`-` for standard output), in number order.
    Export { file: PathBuf },
    /// Record a life event: `living` or `deceased`. A deceased citizen's sessions and
    /// tokens stop working at once.
    SetStatus {
        national_id: String,
        #[arg(value_parser = ["living", "deceased"])]
        status: String,
    },
}

pub async fn run(
    settings: &Settings,
    command: PopulationCommand,
    now: DateTime<Utc>,
) -> Result<(), StartupError> {
    match command {
        PopulationCommand::Generate { count, seed } => generate(settings, count, seed, now).await,
        PopulationCommand::Import { file, dry_run } => import(settings, file, dry_run, now).await,
        PopulationCommand::Export { file } => export(settings, file).await,
        PopulationCommand::SetStatus {
            national_id,
            status,
        } => set_life_status(settings, &national_id, &status, now.naive_utc()).await,
    }
}

async fn generate(
    settings: &Settings,
    count: u64,
    rng_seed: u64,
    now: DateTime<Utc>,
) -> Result<(), StartupError> {
    let db = startup::connect_database(settings).await?;
    let started = std::time::Instant::now();
    let show_progress = std::io::stderr().is_terminal();
    // One long job, not a request: `run` would give up after database.query_timeout_ms
    // (5 s by default) and fail a generation of more than about 100,000 citizens, while
    // the rows went on being written.
    let written = db
        .run_to_completion(move |conn| {
            seed::generate_population(
                conn,
                count,
                rng_seed,
                now.date_naive(),
                now.naive_utc(),
                |done| {
                    if show_progress && done % 100_000 < 1000 {
                        eprint!("\r{done} / {count}");
                        let _ = std::io::stderr().flush();
                    }
                },
            )
        })
        .await?;
    let secs = started.elapsed().as_secs_f64();
    if show_progress {
        eprintln!();
    }
    println!(
        "wrote {written} citizens in {secs:.1} s ({:.0} rows/s)",
        written as f64 / secs.max(1e-9)
    );
    Ok(())
}

fn open_input(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(std::io::stdin()))
    } else {
        Ok(Box::new(std::fs::File::open(path)?))
    }
}

fn open_output(path: &Path) -> std::io::Result<Box<dyn Write + Send>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(std::io::stdout()))
    } else {
        Ok(Box::new(std::fs::File::create(path)?))
    }
}

/// Streams the file into the register; exits with failure when any row was rejected,
/// so scripts notice, though the valid rows are in.
async fn import(
    settings: &Settings,
    file: PathBuf,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<(), StartupError> {
    let today = now.date_naive();
    let now = now.naive_utc();
    let input =
        open_input(&file).map_err(|e| StartupError::Other(format!("{}: {e}", file.display())))?;
    let reader = CitizenReader::new(BufReader::with_capacity(1 << 16, input), today)
        .map_err(|e| StartupError::Other(format!("{}: {e}", file.display())))?;
    let db = startup::connect_database(settings).await?;
    let show_progress = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    // A whole register, not a request: no query timeout (see `generate`).
    let summary = db
        .run_to_completion(move |conn| {
            import::load(
                conn,
                reader,
                !dry_run,
                |rejected| eprintln!("{rejected}"),
                |so_far| {
                    if show_progress && so_far.read % 50_000 < 1000 {
                        eprint!("\r{} rows read", so_far.read);
                    }
                },
                now,
            )
        })
        .await?;
    if show_progress {
        eprintln!();
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{}{summary}", if dry_run { "dry run: " } else { "" });
    println!(
        "{secs:.1} s ({:.0} rows/s)",
        summary.read as f64 / secs.max(1e-9)
    );
    if summary.rejected > 0 || summary.incomplete {
        return Err(StartupError::Other(format!(
            "{} rows rejected",
            summary.rejected
        )));
    }
    Ok(())
}

async fn export(settings: &Settings, file: PathBuf) -> Result<(), StartupError> {
    let db = startup::connect_database(settings).await?;
    // A whole register, not a request: no query timeout (see `generate`).
    let written = db
        .run_to_completion(move |conn| import::export(conn, || open_output(&file)))
        .await?;
    eprintln!("exported {written} citizens");
    Ok(())
}

async fn set_life_status(
    settings: &Settings,
    raw_id: &str,
    status: &str,
    now: NaiveDateTime,
) -> Result<(), StartupError> {
    let id = parse_id(raw_id)?;
    let status = LifeStatus::parse(status)
        .ok_or_else(|| StartupError::Other("status must be living or deceased".into()))?;
    let db = startup::connect_database(settings).await?;
    let masked = id.masked();
    db.run(move |conn| lifecycle::set_life_status(conn, &id, status, Actor("cli"), now))
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?;
    println!("{masked}: life status is now {}", status.as_str());
    if status == LifeStatus::Deceased {
        println!("{SESSIONS_END}");
    }
    Ok(())
}
