//! `citizen-idp migrate`: apply pending migrations, or with `--redo` revert and apply
//! them all again (for testing down migrations).

use clap::Args;

use crate::config::Settings;
use crate::startup::{self, StartupError};

#[derive(Args)]
pub struct MigrateArgs {
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
}

/// Connecting applies the pending migrations. `--redo`, which drops every table with
/// its rows, runs only when confirmed: `--yes`, and on PostgreSQL (where the audit trail
/// is append-only, and this would erase it) `--i-know-this-drops-the-audit-trail` as
/// well. Checked before connecting, so that a refused command changes nothing (not even
/// pending migrations).
pub async fn run(settings: &Settings, args: MigrateArgs) -> Result<(), StartupError> {
    if args.redo {
        if !args.yes {
            return Err(StartupError::Other(
                "migrate --redo drops every table with all its rows (the register, accounts, \
                 clients, signing keys, the audit trail) and creates them empty; add --yes \
                 if that is what you want"
                    .into(),
            ));
        }
        if settings.database.is_postgres() && !args.drops_audit_trail {
            return Err(StartupError::Other(
                "on PostgreSQL, migrate --redo also erases the audit trail, which is otherwise \
                 append-only; add --i-know-this-drops-the-audit-trail as well"
                    .into(),
            ));
        }
    }
    let db = startup::connect_database(settings).await?;
    if args.redo {
        startup::redo_migrations(&db).await?;
        println!("migrations reverted and applied again");
    } else {
        println!("database is up to date");
    }
    Ok(())
}
