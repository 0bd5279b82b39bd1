//! `citizen-idp audit`: print one citizen's audit trail, or lock the trail down on
//! PostgreSQL, through [`crate::audit`].

use clap::{Args, Subcommand};

use super::parse_id;
use crate::audit::{self, AUDIT_OWNER, LockDownError};
use crate::config::Settings;
use crate::startup::{self, StartupError};

// No doc comment: the `audit` command's help is the one on `Command::Audit`.
#[derive(Args)]
pub struct AuditArgs {
    /// The citizen's personal identification number.
    #[arg(long, required = true)]
    citizen: Option<String>,
    #[command(subcommand)]
    action: Option<AuditCommand>,
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

pub async fn run(settings: &Settings, args: AuditArgs) -> Result<(), StartupError> {
    match args {
        AuditArgs {
            action: Some(AuditCommand::LockDown { app_role }),
            ..
        } => lock_down(settings, &app_role).await,
        AuditArgs {
            citizen: Some(citizen),
            ..
        } => print_trail(settings, &citizen).await,
        AuditArgs { citizen: None, .. } => Err(StartupError::Other(
            "audit: give --citizen ID, or a subcommand (lock-down)".into(),
        )),
    }
}

async fn lock_down(settings: &Settings, app_role: &str) -> Result<(), StartupError> {
    let db = startup::connect_database(settings).await?;
    let role = app_role.to_owned();
    let done = db
        .run_to_completion(move |conn| audit::lock_down(conn, &role))
        .await
        .map_err(|e| match e {
            LockDownError::Storage(e) => StartupError::Storage(e),
            refused => StartupError::Other(format!("audit lock-down: {refused}")),
        })?;
    if done.created_owner {
        println!("created the role {AUDIT_OWNER} (NOLOGIN)");
    }
    println!(
        "audit_events and its guard now belong to {AUDIT_OWNER} (before: {}); {app_role} may \
         SELECT and INSERT audit rows, nothing more",
        done.previous_owner
    );
    tracing::info!(target: "security", app_role, "audit trail locked down");
    Ok(())
}

async fn print_trail(settings: &Settings, raw_id: &str) -> Result<(), StartupError> {
    let id = parse_id(raw_id)?;
    let db = startup::connect_database(settings).await?;
    let masked = id.masked();
    let events = db.run(move |conn| audit::trail_of(conn, &id)).await?;
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
    eprintln!("{} events for {masked}", events.len());
    Ok(())
}
