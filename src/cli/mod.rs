//! The command line: `serve` (the default), `migrate`, `keys`, `clients`, `population`,
//! `accounts`, `officers`, `federation`, `audit`. This file parses the command line and hands each command group
//! to its own file. Those call the same services as the HTTP side, through
//! [`startup`](crate::startup) for what start-up owns (the database connection, the
//! migrations, the keys), and never `storage` itself.

mod accounts;
mod audit;
mod clients;
mod federation;
mod keys;
mod migrate;
mod officers;
mod population;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::domain::national_id::NationalId;
use crate::startup::StartupError;

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
    Serve(serve::ServeArgs),
    /// Apply pending database migrations.
    Migrate(migrate::MigrateArgs),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Manage relying parties.
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// Manage the population register.
    #[command(subcommand)]
    Population(population::PopulationCommand),
    /// Suspend, reinstate, lock or unlock an e-ID account, or set its assurance level.
    #[command(subcommand)]
    Accounts(accounts::AccountsCommand),
    /// Grant and revoke officers' roles, and manage their personal admin API tokens.
    #[command(subcommand)]
    Officers(officers::OfficersCommand),
    /// OpenID Federation: the subordinates this server vouches for, and resolving
    /// another entity's trust chain.
    #[command(subcommand)]
    Federation(federation::FederationCommand),
    /// Print the audit trail of one citizen (`audit --citizen ID`), or lock the trail
    /// down on PostgreSQL (`audit lock-down --app-role NAME`).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Audit(audit::AuditArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
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
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(serve::ServeArgs::default()));
    match runtime.block_on(run(command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("citizen-idp: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command; `now` is read once, here.
async fn run(command: Command, settings: Settings) -> Result<(), StartupError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    match command {
        Command::Serve(args) => serve::run(settings, args, clock).await,
        Command::Migrate(args) => migrate::run(&settings, args).await,
        Command::Keys(command) => keys::run(&settings, command, now).await,
        Command::Clients(command) => clients::run(&settings, command, now.naive_utc()).await,
        Command::Population(command) => population::run(&settings, command, now).await,
        Command::Accounts(command) => accounts::run(&settings, command, now.naive_utc()).await,
        Command::Officers(command) => officers::run(&settings, command, now.naive_utc()).await,
        Command::Audit(args) => audit::run(&settings, args).await,
        Command::Federation(command) => federation::run(&settings, command, now).await,
    }
}

fn parse_id(raw: &str) -> Result<NationalId, StartupError> {
    NationalId::parse(raw)
        .map_err(|e| StartupError::Other(format!("personal identification number: {e}")))
}

/// Said after a change that ends the account's sessions: the command only queues that
/// (`account_logouts`); a running server acts on it (see `oidc::logout::outbox`).
const SESSIONS_END: &str = "its sessions end and the services it signed in to are told, \
    within logout.outbox_poll_ms of a running server";

/// Prints `value` as pretty JSON: the `--json` output of the listing commands.
fn print_json(value: &impl serde::Serialize) -> Result<(), StartupError> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| StartupError::Other(e.to_string()))?;
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    /// Kids are base64url thumbprints: one in 64 begins with '-', which must still
    /// read as the kid, not as an option (a CI failure once, as officers' token ids
    /// were before them).
    #[test]
    fn a_kid_that_begins_with_a_hyphen_is_a_kid() {
        let cli =
            Cli::try_parse_from(["citizen-idp", "keys", "revoke", "-0Zx9", "--operator", "op"])
                .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Keys(super::keys::KeysCommand::Revoke { ref kid, .. })) if kid == "-0Zx9"
        ));
    }
}
