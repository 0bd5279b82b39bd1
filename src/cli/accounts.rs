//! `citizen-idp accounts ...`: an authority's decisions on an e-ID account, through
//! [`registry::lifecycle`](crate::registry::lifecycle) and
//! [`registry::assurance`](crate::registry::assurance) as over the admin API.

use chrono::NaiveDateTime;
use clap::Subcommand;

use super::{SESSIONS_END, parse_id};
use crate::config::Settings;
use crate::domain::acr::AssuranceLevel;
use crate::officers::OfficerError;
use crate::officers::casework;
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
    /// Show the account: state, level, factors, contacts (masked), roles and latest
    /// events. The look-up is audited and shows in the citizen's access history.
    Show {
        national_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove every second factor of the account and its recovery codes (the citizen
    /// lost them, and proved who they are in person).
    ResetFactors { national_id: String },
    /// Print one recovery code to hand to the citizen in person; it replaces the
    /// account's codes and stands in for the second factor at the next login.
    RecoveryCode { national_id: String },
    /// End every session of the account; the services it signed in to are told.
    EndSessions { national_id: String },
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
        AccountsCommand::Show { national_id, json } => {
            return show(settings, national_id, *json, now).await;
        }
        AccountsCommand::ResetFactors { national_id }
        | AccountsCommand::RecoveryCode { national_id }
        | AccountsCommand::EndSessions { national_id } => {
            return casework(settings, &command, national_id, now).await;
        }
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

const CLI: &str = "cli";

async fn show(
    settings: &Settings,
    raw_id: &str,
    json: bool,
    now: NaiveDateTime,
) -> Result<(), StartupError> {
    let id = parse_id(raw_id)?;
    let db = startup::connect_database(settings).await?;
    let file = db
        .run(move |conn| casework::look_up(conn, &id, CLI, now))
        .await
        .map_err(officer_error)?;
    let view = serde_json::json!({
        "national_id": file.national_id.masked(),
        "status": file.account.status.as_str(),
        "assurance_level": file.account.assurance_level.number(),
        "created_at": file.account.created_at.and_utc().to_rfc3339(),
        "living": file.citizen.as_ref().map(|c| c.is_living()),
        "totp": file.totp_since.len(),
        "passkeys": file.passkeys.len(),
        "recovery_codes_left": file.recovery_codes_left,
        "contacts": file.contacts.iter().map(|c| serde_json::json!({
            "contact": c.contact.masked(),
            "verified": c.verified(),
        })).collect::<Vec<_>>(),
        "roles": file.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "events": file.events.iter().map(|e| serde_json::json!({
            "at": e.at.and_utc().to_rfc3339(),
            "kind": e.kind,
            "outcome": e.outcome,
            "client_id": e.client_id,
        })).collect::<Vec<_>>(),
    });
    if json {
        return super::print_json(&view);
    }
    if let Some(fields) = view.as_object() {
        for (name, value) in fields {
            match value {
                serde_json::Value::Array(items) => {
                    println!("{name}:");
                    for item in items {
                        println!("  {item}");
                    }
                }
                other => println!("{name}: {other}"),
            }
        }
    }
    Ok(())
}

async fn casework(
    settings: &Settings,
    command: &AccountsCommand,
    raw_id: &str,
    now: NaiveDateTime,
) -> Result<(), StartupError> {
    let id = parse_id(raw_id)?;
    let masked = id.masked();
    let db = startup::connect_database(settings).await?;
    match command {
        AccountsCommand::ResetFactors { .. } => {
            let removed = db
                .run(move |conn| casework::reset_factors(conn, &id, CLI, now))
                .await
                .map_err(officer_error)?;
            println!("{masked}: {removed} second factor(s) removed, with the recovery codes");
        }
        AccountsCommand::RecoveryCode { .. } => {
            let code = db
                .run(move |conn| casework::recovery_code(conn, &id, CLI, now))
                .await
                .map_err(officer_error)?;
            println!("recovery_code: {}", code.expose());
            println!("(hand it to the citizen in person; it is shown only now)");
        }
        _ => {
            db.run(move |conn| casework::end_sessions(conn, &id, CLI, now))
                .await
                .map_err(officer_error)?;
            println!("{masked}: {SESSIONS_END}");
        }
    }
    Ok(())
}

pub(super) fn officer_error(e: OfficerError) -> StartupError {
    match e {
        OfficerError::Storage(e) => StartupError::Storage(e),
        other => StartupError::Other(other.to_string()),
    }
}
