//! The command line: `serve` (the default), `migrate`, `keys`, `clients`, `population`,
//! `accounts`, `audit`.

mod clients;

use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use clap::{Parser, Subcommand};

use crate::clock::{Clock, SystemClock};
use crate::config::Settings;

use crate::domain::citizen::LifeStatus;
use crate::domain::national_id::NationalId;

use crate::domain::acr::AssuranceLevel;
use crate::registry::assurance;
use crate::registry::import::{self, CitizenReader, CitizenWriter};
use crate::registry::lifecycle::{self, AccountAction, Actor};
use crate::registry::seed;
use crate::startup::{self, StartupError};
use crate::storage::audit_guard::{self, LockDownError};
use crate::storage::signing_keys;
use crate::storage::{Backend, StorageError, audit_events, citizens, migrations};
use crate::tokens::keyring;
use crate::tokens::keys::{SigningAlg, SigningKey};

#[derive(Parser)]
#[command(
    name = "citizen-idp",
    version,
    about = "National electronic-identity server (OpenID Connect provider)"
)]
struct Cli {
    /// A TOML file layered over the built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve {
        /// Listen address, overriding server.listen.
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<String>,
    },
    /// Apply pending database migrations.
    Migrate {
        /// Revert every migration and apply them again (for testing down migrations):
        /// every table is dropped with all its rows. Refused without --yes.
        #[arg(long)]
        redo: bool,
        /// Confirms --redo.
        #[arg(long, requires = "redo")]
        yes: bool,
        /// On PostgreSQL, --redo needs this too: it drops the audit trail, which is
        /// append-only for the application.
        #[arg(long = "i-know-this-drops-the-audit-trail", requires = "redo")]
        drops_audit_trail: bool,
    },
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage relying parties.
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// Manage the population register.
    #[command(subcommand)]
    Population(PopulationCommand),
    /// Suspend, reinstate, lock or unlock an e-ID account, or set its assurance level.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Print the audit trail of one citizen (`audit --citizen ID`), or lock the trail
    /// down on PostgreSQL (`audit lock-down --app-role NAME`).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Audit {
        /// The citizen's personal identification number.
        #[arg(long, required = true)]
        citizen: Option<String>,
        #[command(subcommand)]
        action: Option<AuditCommand>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// PostgreSQL only: give the audit table and its append-only guard to the role
    /// citizen_idp_audit_owner (made if missing; it cannot log in) and leave the
    /// application's role SELECT and INSERT on it, so that the application cannot
    /// change, delete or truncate audit rows nor remove the guard. Run it once as a
    /// superuser (database.url names that role); see docs/OPERATIONS.md.
    LockDown {
        /// The role `serve` connects as.
        #[arg(long, value_name = "NAME")]
        app_role: String,
    },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Suspend the account (an authority's decision): sessions and tokens stop working,
    /// and the services it signed in to get back-channel logout tokens.
    Suspend { national_id: String },
    /// Lift a suspension.
    Reinstate { national_id: String },
    /// Lock the account (e.g. reported stolen credentials); its sessions end as with
    /// `suspend`.
    Lock { national_id: String },
    /// Unlock a locked account.
    Unlock { national_id: String },
    /// Set the assurance level (2 after an officer verified the citizen in person, or
    /// back to 1); audited with the officer and the reason. Lowering it ends the
    /// account's sessions as `suspend` does.
    SetLevel {
        national_id: String,
        /// 1 or 2.
        level: i32,
        /// The verifying officer's id.
        #[arg(long)]
        officer: String,
        /// Why (e.g. "ID card checked at the ward office").
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new signing key per algorithm. It is published at once and signs after
    /// keys.prepublish_secs, when the key it replaces retires. (`generate` is an alias.)
    #[command(alias = "generate")]
    Rotate {
        /// Rotate only this algorithm; both by default.
        #[arg(long, value_parser = ["RS256", "ES256"])]
        alg: Option<String>,
        /// Sign with the new key at once and retire the old one now, e.g. after a
        /// compromise. Relying parties holding a cached JWKS may refuse new tokens until
        /// they fetch it again.
        #[arg(long)]
        now: bool,
    },
    /// List the signing keys with their state.
    List,
    /// Withdraw a compromised key at once: it leaves the JWKS and every token it signed
    /// stops verifying, on every instance within keys.reload_interval_secs. A key that
    /// is the only one of its algorithm signing now is refused: run `keys rotate --now`
    /// first.
    Revoke {
        kid: String,
        /// Who withdraws it, for the audit trail (e.g. an operator's name).
        #[arg(long, default_value = "")]
        operator: String,
    },
}

#[derive(Subcommand)]
enum PopulationCommand {
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

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("citizen-idp: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("citizen-idp: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve { listen: None });
    if let Command::Serve {
        listen: Some(listen),
    } = &command
    {
        settings.server.listen = listen.clone();
    }
    let result = runtime.block_on(run(command, settings));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("citizen-idp: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> Result<(), StartupError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match command {
        Command::Serve { .. } => serve(settings, clock).await,
        Command::Migrate {
            redo,
            yes,
            drops_audit_trail,
        } => migrate(&settings, redo, yes, drops_audit_trail).await,
        Command::Keys(KeysCommand::Rotate { alg, now }) => {
            rotate_keys(&settings, alg.as_deref(), now, clock.now()).await
        }
        Command::Keys(KeysCommand::List) => list_keys(&settings, clock.now()).await,
        Command::Keys(KeysCommand::Revoke { kid, operator }) => {
            revoke_key(&settings, kid, &operator, clock.now()).await
        }
        Command::Clients(command) => clients::run(&settings, command, clock.as_ref()).await,
        Command::Population(PopulationCommand::SetStatus {
            national_id,
            status,
        }) => set_life_status(&settings, &national_id, &status, clock.now().naive_utc()).await,
        Command::Population(PopulationCommand::Import { file, dry_run }) => {
            import(&settings, file, dry_run, clock.now()).await
        }
        Command::Population(PopulationCommand::Export { file }) => export(&settings, file).await,
        Command::Accounts(command) => {
            change_account(&settings, command, clock.now().naive_utc()).await
        }
        Command::Audit {
            action: Some(AuditCommand::LockDown { app_role }),
            ..
        } => lock_down_audit(&settings, &app_role).await,
        Command::Audit {
            citizen: Some(citizen),
            ..
        } => print_audit(&settings, &citizen).await,
        Command::Audit { citizen: None, .. } => Err(StartupError::Other(
            "audit: give --citizen ID, or a subcommand (lock-down)".into(),
        )),
        Command::Population(PopulationCommand::Generate {
            count,
            seed: rng_seed,
        }) => {
            let db = startup::connect_database(&settings).await?;
            let now = clock.now();
            let started = std::time::Instant::now();
            let show_progress = std::io::stderr().is_terminal();
            let written = db
                .run(move |conn| {
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
    }
}

/// `migrate`; with `--redo`, which drops every table with its rows, only when
/// confirmed: `--yes`, and on PostgreSQL (where the audit trail is append-only, and
/// this would erase it) `--i-know-this-drops-the-audit-trail` as well. Checked before
/// connecting, so that a refused command changes nothing (not even pending migrations).
async fn migrate(
    settings: &Settings,
    redo: bool,
    yes: bool,
    drops_audit_trail: bool,
) -> Result<(), StartupError> {
    if redo {
        if !yes {
            return Err(StartupError::Other(
                "migrate --redo drops every table with all its rows (the register, accounts, \
                 clients, signing keys, the audit trail) and creates them empty; add --yes \
                 if that is what you want"
                    .into(),
            ));
        }
        let postgres = Backend::from_url(&settings.database.url) == Ok(Backend::Postgres);
        if postgres && !drops_audit_trail {
            return Err(StartupError::Other(
                "on PostgreSQL, migrate --redo also erases the audit trail, which is otherwise \
                 append-only; add --i-know-this-drops-the-audit-trail as well"
                    .into(),
            ));
        }
    }
    let db = startup::connect_database(settings).await?;
    if redo {
        db.run(migrations::redo_all).await?;
        println!("migrations reverted and applied again");
    } else {
        println!("database is up to date");
    }
    Ok(())
}

async fn lock_down_audit(settings: &Settings, app_role: &str) -> Result<(), StartupError> {
    let db = startup::connect_database(settings).await?;
    let role = app_role.to_owned();
    let done = db
        .run_to_completion(move |conn| audit_guard::lock_down(conn, &role))
        .await
        .map_err(|e| match e {
            LockDownError::Storage(e) => StartupError::Storage(e),
            refused => StartupError::Other(format!("audit lock-down: {refused}")),
        })?;
    if done.created_owner {
        println!("created the role {} (NOLOGIN)", audit_guard::AUDIT_OWNER);
    }
    println!(
        "audit_events and its guard now belong to {} (before: {}); {app_role} may SELECT \
         and INSERT audit rows, nothing more",
        audit_guard::AUDIT_OWNER,
        done.previous_owner
    );
    tracing::info!(target: "security", app_role, "audit trail locked down");
    Ok(())
}

fn open_input(path: &Path) -> std::io::Result<Box<dyn Read + Send>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(std::io::stdin()))
    } else {
        Ok(Box::new(std::fs::File::open(path)?))
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
    let summary = db
        .run(move |conn| {
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
    let written = db
        .run(move |conn| {
            let output: Box<dyn Write + Send> = if file.as_os_str() == "-" {
                Box::new(std::io::stdout())
            } else {
                Box::new(
                    std::fs::File::create(&file)
                        .map_err(|e| StorageError::Unavailable(e.to_string()))?,
                )
            };
            let io_error = |e: std::io::Error| StorageError::Unavailable(e.to_string());
            let mut writer = CitizenWriter::new(BufWriter::new(output)).map_err(io_error)?;
            let mut after: Option<String> = None;
            let mut written = 0u64;
            loop {
                let page = citizens::page_after(conn, after.as_deref(), 10_000)?;
                let Some(last) = page.last() else { break };
                after = Some(last.national_id.expose().to_owned());
                for citizen in &page {
                    writer.write(citizen).map_err(io_error)?;
                }
                written += page.len() as u64;
            }
            writer.into_inner().map_err(io_error)?;
            Ok::<_, StorageError>(written)
        })
        .await?;
    eprintln!("exported {written} citizens");
    Ok(())
}

fn parse_id(raw: &str) -> Result<NationalId, StartupError> {
    NationalId::parse(raw)
        .map_err(|e| StartupError::Other(format!("personal identification number: {e}")))
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

/// Said after a change that ends the account's sessions: the command only queues that
/// (`account_logouts`); a running server acts on it (see `oidc::logout::outbox`).
const SESSIONS_END: &str = "its sessions end and the services it signed in to are told, \
    within logout.outbox_poll_ms of a running server";

async fn change_account(
    settings: &Settings,
    command: AccountsCommand,
    now: NaiveDateTime,
) -> Result<(), StartupError> {
    let (raw_id, action) = match &command {
        AccountsCommand::Suspend { national_id } => (national_id, AccountAction::Suspend),
        AccountsCommand::Reinstate { national_id } => (national_id, AccountAction::Reinstate),
        AccountsCommand::Lock { national_id } => (national_id, AccountAction::Lock),
        AccountsCommand::Unlock { national_id } => (national_id, AccountAction::Unlock),
        AccountsCommand::SetLevel {
            national_id,
            level,
            officer,
            reason,
        } => return set_level(settings, national_id, *level, officer, reason, now).await,
    };
    let id = parse_id(raw_id)?;
    let db = startup::connect_database(settings).await?;
    let masked = id.masked();
    let (_, status) = db
        .run(move |conn| lifecycle::change_account(conn, &id, action, Actor("cli"), None, now))
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?;
    println!("{masked}: account is now {}", status.as_str());
    if matches!(action, AccountAction::Suspend | AccountAction::Lock) {
        println!("{SESSIONS_END}");
    }
    Ok(())
}

async fn set_level(
    settings: &Settings,
    raw_id: &str,
    level: i32,
    officer: &str,
    reason: &str,
    now: NaiveDateTime,
) -> Result<(), StartupError> {
    let id = parse_id(raw_id)?;
    let level = AssuranceLevel::from_number(level)
        .ok_or_else(|| StartupError::Other("level must be 1 or 2".into()))?;
    let (officer, reason) = (officer.to_owned(), reason.to_owned());
    assurance::Decision {
        officer: &officer,
        reason: &reason,
    }
    .check()
    .map_err(|e| StartupError::Other(e.to_string()))?;
    let db = startup::connect_database(settings).await?;
    let masked = id.masked();
    let (before, after) = db
        .run(move |conn| {
            let decision = assurance::Decision {
                officer: &officer,
                reason: &reason,
            };
            assurance::set_level(conn, &id, level, &decision, Actor("cli"), now)
        })
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?;
    println!(
        "{masked}: assurance level {} -> {} ({})",
        before.number(),
        after.number(),
        after.acr()
    );
    if after < before {
        println!("{SESSIONS_END}");
    }
    Ok(())
}

async fn print_audit(settings: &Settings, raw_id: &str) -> Result<(), StartupError> {
    let id = parse_id(raw_id)?;
    let db = startup::connect_database(settings).await?;
    let number = id.expose().to_owned();
    let events = db
        .run(move |conn| audit_events::for_citizen(conn, &number))
        .await?;
    println!("AT\tKIND\tOUTCOME\tCLIENT\tCLAIMS\tREQUEST_ID\tDETAIL");
    for e in &events {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            e.at.format("%Y-%m-%dT%H:%M:%SZ"),
            e.kind,
            e.outcome,
            e.client_id.as_deref().unwrap_or("-"),
            e.claims.as_deref().unwrap_or("-"),
            e.request_id.as_deref().unwrap_or("-"),
            e.detail.as_deref().unwrap_or("-"),
        );
    }
    eprintln!("{} events for {}", events.len(), id.masked());
    Ok(())
}

/// Rotation checks first that this secret opens the current keys (a wrong secret would
/// store keys no instance can open), then rotates each algorithm in its own transaction.
async fn rotate_keys(
    settings: &Settings,
    alg: Option<&str>,
    immediately: bool,
    now: DateTime<Utc>,
) -> Result<(), StartupError> {
    let algs: Vec<SigningAlg> = match alg {
        Some(alg) => vec![
            SigningAlg::parse(alg)
                .ok_or_else(|| StartupError::Other("--alg must be RS256 or ES256".into()))?,
        ],
        None => SigningAlg::ALL.to_vec(),
    };
    let db = startup::connect_database(settings).await?;
    let keys = startup::load_keys(settings, &db, now).await?;
    let activate_at = if immediately {
        now
    } else {
        now + chrono::Duration::seconds(
            i64::try_from(settings.keys.prepublish_secs).unwrap_or(i64::MAX / 1000),
        )
    };
    let retention = startup::key_retention(settings);
    println!("ALG\tKID\tSIGNS_FROM\tRETIRES");
    for alg in algs {
        let generated = tokio::task::spawn_blocking(move || SigningKey::generate(alg))
            .await
            .map_err(|e| StartupError::Other(e.to_string()))??;
        let sealer = keys.sealer.clone();
        let rotation = db
            .run(move |conn| keyring::rotate(conn, &sealer, generated, now, activate_at, retention))
            .await?;
        tracing::info!(target: "security", kid = %rotation.kid, alg = alg.as_str(), retired = ?rotation.retired, "signing key rotated");
        println!(
            "{}\t{}\t{}\t{}",
            rotation.alg.as_str(),
            rotation.kid,
            rotation.activates_at.format(TIME),
            if rotation.retired.is_empty() {
                "-".to_owned()
            } else {
                rotation.retired.join(",")
            }
        );
    }
    println!(
        "every instance loads the new keys within {} s",
        settings.keys.reload_interval_secs
    );
    Ok(())
}

const TIME: &str = "%Y-%m-%dT%H:%M:%SZ";

async fn revoke_key(
    settings: &Settings,
    kid: String,
    operator: &str,
    now: DateTime<Utc>,
) -> Result<(), StartupError> {
    let db = startup::connect_database(settings).await?;
    let by = if operator.is_empty() {
        "cli".to_owned()
    } else {
        format!("cli:{operator}")
    };
    let withdrawn = kid.clone();
    db.run(move |conn| keyring::withdraw(conn, &withdrawn, &by, now))
        .await
        .map_err(|e| StartupError::Other(format!("{kid}: {e}")))?;
    tracing::warn!(target: "security", %kid, "signing key withdrawn");
    println!(
        "{kid} withdrawn: every instance drops it within {} s",
        settings.keys.reload_interval_secs
    );
    Ok(())
}

async fn list_keys(settings: &Settings, now: DateTime<Utc>) -> Result<(), StartupError> {
    let db = startup::connect_database(settings).await?;
    let rows = db.run(signing_keys::list).await?;
    let time = |at: Option<NaiveDateTime>| {
        at.map_or_else(
            || "-".to_owned(),
            |at| at.and_utc().format(TIME).to_string(),
        )
    };
    println!("KID\tALG\tSTATE\tCREATED\tACTIVATED\tRETIRED\tPUBLISHED_UNTIL");
    for row in &rows {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            row.kid,
            row.alg,
            keyring::state(row, now).as_str(),
            time(Some(row.created_at)),
            time(Some(row.activated_at)),
            time(row.retired_at),
            time(row.published_until),
        );
    }
    Ok(())
}

async fn serve(settings: Settings, clock: Arc<dyn Clock>) -> Result<(), StartupError> {
    let app = startup::build(settings, clock).await?;
    let issuer = app.issuer().to_owned();
    tracing::info!(%issuer, "citizen-idp is listening");
    let mut banner = format!(
        "citizen-idp is listening on {issuer}\n  discovery: {issuer}/.well-known/openid-configuration\n"
    );
    if app.demo_enabled {
        banner.push_str(&format!("  demo:      {issuer}/demo\n"));
    }
    // A server must outlive whoever started it: a closed stdout (`println!` would
    // panic on it) is ignored.
    let mut stdout = std::io::stdout();
    let _ = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush());
    app.run_until_stopped()
        .await
        .map_err(|e| StartupError::Other(e.to_string()))
}
