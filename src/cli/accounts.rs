//! `citizen-idp accounts ...`: an authority's decisions on an e-ID account, through
//! [`registry::lifecycle`](crate::registry::lifecycle) and
//! [`registry::assurance`](crate::registry::assurance) as over the admin API.

use chrono::NaiveDateTime;
use clap::Subcommand;

use super::{SESSIONS_END, parse_id};
use crate::config::Settings;
use crate::domain::acr::AssuranceLevel;
use crate::registry::assurance;
use crate::registry::lifecycle::{self, AccountAction, Actor};
use crate::startup::{self, StartupError};

#[derive(Subcommand)]
pub enum AccountsCommand {
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

pub async fn run(
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
