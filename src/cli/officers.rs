//! `citizen-idp officers ...`: an operator grants and revokes officers' roles and
//! manages their personal admin API tokens, through [`officers`](crate::officers) as
//! the console does.

use chrono::NaiveDateTime;
use clap::Subcommand;

use super::accounts::officer_error;
use super::{parse_id, print_json};
use crate::config::Settings;
use crate::domain::officer::Roles;
use crate::officers::{self, tokens};
use crate::startup::{self, StartupError};

const CLI: &str = "cli";

#[derive(Subcommand)]
pub enum OfficersCommand {
    /// Grant roles (registrar, support, client-admin, auditor) to a citizen's account.
    /// An officer uses them in the console after logging in at level 2.
    Grant {
        national_id: String,
        /// Comma-separated roles.
        #[arg(long, value_name = "ROLES")]
        roles: String,
    },
    /// Revoke roles; an officer left with none loses every personal token.
    Revoke {
        national_id: String,
        #[arg(long, value_name = "ROLES")]
        roles: String,
    },
    /// List the officers and their roles.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Personal admin API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make a token for an officer; printed once, stored only as its hash.
    Create {
        national_id: String,
        /// What it is for ("registration desk script").
        #[arg(long)]
        label: String,
        /// Some of the officer's roles; all of them when not given.
        #[arg(long, value_name = "ROLES")]
        roles: Option<String>,
        /// Days it lives (at most admin.officer_token_max_days).
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
    /// List the tokens (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id.
    Revoke { id: String },
}

fn roles(names: &str) -> Result<Roles, StartupError> {
    let roles = Roles::parse(names).map_err(|e| StartupError::Other(e.to_string()))?;
    if roles.is_empty() {
        return Err(StartupError::Other("name at least one role".into()));
    }
    Ok(roles)
}

pub async fn run(
    settings: &Settings,
    command: OfficersCommand,
    now: NaiveDateTime,
) -> Result<(), StartupError> {
    if let OfficersCommand::Token(command) = command {
        return token(settings, command, now).await;
    }
    let db = startup::connect_database(settings).await?;
    match command {
        OfficersCommand::Grant {
            national_id,
            roles: names,
        } => {
            let (id, roles) = (parse_id(&national_id)?, roles(&names)?);
            let masked = id.masked();
            let granted = db
                .run(move |conn| officers::grant(conn, &id, &roles, CLI, now))
                .await
                .map_err(officer_error)?;
            println!("{masked}: granted {}", words(&granted));
        }
        OfficersCommand::Revoke {
            national_id,
            roles: names,
        } => {
            let (id, roles) = (parse_id(&national_id)?, roles(&names)?);
            let masked = id.masked();
            let revoked = db
                .run(move |conn| officers::revoke(conn, &id, &roles, CLI, now))
                .await
                .map_err(officer_error)?;
            println!("{masked}: revoked {}", words(&revoked));
        }
        OfficersCommand::List { json } => {
            let grants = db.run(officers::list).await?;
            let mut rows: Vec<(String, String, Vec<&str>)> = Vec::new();
            for grant in &grants {
                let masked = crate::domain::national_id::NationalId::parse(&grant.national_id)
                    .map(|id| id.masked())
                    .unwrap_or_default();
                match rows.last_mut() {
                    Some((account, _, roles)) if *account == grant.account_id => {
                        roles.push(grant.role.as_str());
                    }
                    _ => rows.push((grant.account_id.clone(), masked, vec![grant.role.as_str()])),
                }
            }
            if json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|(account, masked, roles)| {
                        serde_json::json!({"account": account, "national_id": masked, "roles": roles})
                    })
                    .collect();
                return print_json(&list);
            }
            println!("ACCOUNT\tNATIONAL_ID\tROLES");
            for (account, masked, roles) in rows {
                println!("{account}\t{masked}\t{}", roles.join(","));
            }
        }
        OfficersCommand::Token(_) => {}
    }
    Ok(())
}

fn words(roles: &[crate::domain::officer::Role]) -> String {
    if roles.is_empty() {
        return "nothing (no change)".into();
    }
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn token(
    settings: &Settings,
    command: TokenCommand,
    now: NaiveDateTime,
) -> Result<(), StartupError> {
    let db = startup::connect_database(settings).await?;
    match command {
        TokenCommand::Create {
            national_id,
            label,
            roles: names,
            days,
        } => {
            let id = parse_id(&national_id)?;
            let wanted = match names {
                Some(names) => roles(&names)?,
                None => Roles::default(),
            };
            let max_days = settings.admin.officer_token_max_days;
            let issued = db
                .run(move |conn| {
                    let account_id = officers::account_of(conn, &id)?;
                    let request = tokens::Request {
                        roles: &wanted,
                        label: &label,
                        days,
                        max_days,
                    };
                    tokens::create(conn, &account_id, &request, CLI, now)
                })
                .await
                .map_err(officer_error)?;
            println!("id: {}", issued.id);
            println!("roles: {}", issued.roles.to_words());
            println!("expires_at: {}", issued.expires_at.and_utc().to_rfc3339());
            println!("token: {}", issued.secret);
            println!("(the token is shown only now; only its hash is stored)");
        }
        TokenCommand::List { json } => {
            let list = db.run(|conn| tokens::list(conn, None)).await?;
            let rows: Vec<serde_json::Value> = list
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "id": t.id,
                        "account": t.account_id,
                        "label": t.label,
                        "roles": t.roles,
                        "created_at": t.created_at.and_utc().to_rfc3339(),
                        "expires_at": t.expires_at.and_utc().to_rfc3339(),
                        "revoked": t.revoked_at.is_some(),
                        "last_used_at": t.last_used_at.map(|at| at.and_utc().to_rfc3339()),
                    })
                })
                .collect();
            if json {
                return print_json(&rows);
            }
            println!("ID\tACCOUNT\tROLES\tEXPIRES\tSTATE\tLABEL");
            for t in list {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.expires_at <= now {
                    "expired"
                } else {
                    "live"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{state}\t{}",
                    t.id,
                    t.account_id,
                    t.roles.replace(' ', ","),
                    t.expires_at.and_utc().to_rfc3339(),
                    t.label
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let shown = id.clone();
            let revoked = db
                .run(move |conn| tokens::revoke(conn, &id, None, CLI, now))
                .await?;
            if !revoked {
                return Err(StartupError::Other(format!("no live token {shown}")));
            }
            println!("token {shown} revoked");
        }
    }
    Ok(())
}
