//! `citizen-idp federation ...`: the subordinates this server vouches for as a trust
//! anchor or an intermediate ([`subordinates`]), and resolving another entity's trust
//! chain as the server would ([`resolve`]).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Subcommand;

use crate::config::Settings;
use crate::federation::resolve::{self, Resolver};
use crate::federation::subordinates::{self, Subordinate};
use crate::federation::trust_mark::{self, TrustMark};
use crate::startup::{self, StartupError};

#[derive(Subcommand)]
pub enum FederationCommand {
    /// Manage the subordinates this server publishes statements about.
    #[command(subcommand)]
    Subordinate(SubordinateCommand),
    /// Issue a trust mark about an entity, signed with this server's federation key
    /// (as a trust anchor or a trust mark issuer); prints it once.
    #[command(subcommand)]
    TrustMark(TrustMarkCommand),
    /// Resolve an entity's trust chain up to a configured trust anchor and print its
    /// metadata after the policies, as JSON.
    Resolve {
        entity_id: String,
        #[arg(long)]
        trust_anchor: String,
    },
}

#[derive(Subcommand)]
pub enum TrustMarkCommand {
    /// Sign a trust mark of `--type` about `--sub`; the entity publishes it in its
    /// entity configuration. `server.issuer` must be set: it is the mark's issuer.
    Issue {
        #[arg(long = "type", value_name = "TRUST_MARK_TYPE")]
        trust_mark_type: String,
        #[arg(long, value_name = "ENTITY_ID")]
        sub: String,
        /// Days the mark is valid (1 to 366).
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=366))]
        days: u32,
        /// Who issues it, for the audit trail.
        #[arg(long, default_value = "")]
        operator: String,
    },
}

#[derive(Subcommand)]
pub enum SubordinateCommand {
    /// Add a subordinate, or replace what is said about one.
    Add {
        entity_id: String,
        /// Its federation keys, a JWK Set file. Without it, the keys its entity
        /// configuration names are taken (printed, to compare with what the entity's
        /// operator gave out of band).
        #[arg(long, value_name = "FILE")]
        jwks: Option<PathBuf>,
        /// The metadata policy imposed on it, by entity type (a JSON file).
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Metadata set for it, by entity type (a JSON file).
        #[arg(long, value_name = "FILE")]
        metadata: Option<PathBuf>,
        /// Constraints on the chain below it (a JSON file: max_path_length,
        /// naming_constraints, allowed_entity_types).
        #[arg(long, value_name = "FILE")]
        constraints: Option<PathBuf>,
        /// Who adds it, for the audit trail.
        #[arg(long, default_value = "")]
        operator: String,
    },
    /// Stop vouching for a subordinate.
    Remove {
        entity_id: String,
        #[arg(long, default_value = "")]
        operator: String,
    },
    /// List the subordinates (`--json`: one JSON array).
    List {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(
    settings: &Settings,
    command: FederationCommand,
    now: DateTime<Utc>,
) -> Result<(), StartupError> {
    match command {
        FederationCommand::Subordinate(command) => subordinate(settings, command, now).await,
        FederationCommand::TrustMark(TrustMarkCommand::Issue {
            trust_mark_type,
            sub,
            days,
            operator,
        }) => {
            let issuer = settings.server.issuer.trim_end_matches('/');
            if issuer.is_empty() {
                return Err(StartupError::Other(
                    "server.issuer must be set: it is the trust mark's issuer".into(),
                ));
            }
            let db = startup::connect_database(settings).await?;
            let keys = startup::load_keys(settings, &db, now).await?;
            let mark = TrustMark {
                iss: issuer.to_owned(),
                sub,
                trust_mark_type,
                iat: now.timestamp(),
                exp: Some(now.timestamp() + i64::from(days) * 86_400),
            };
            let jwt = trust_mark::record_issued(
                &db,
                &keys.rings.federation.current(),
                &mark,
                &by(&operator),
                now,
            )
            .await
            .map_err(|e| StartupError::Other(e.to_string()))?;
            println!("{jwt}");
            Ok(())
        }
        FederationCommand::Resolve {
            entity_id,
            trust_anchor,
        } => {
            let http = startup::outbound_http_client(settings)?;
            let resolved = Resolver::new(&settings.federation)
                .resolve(&http, &entity_id, &trust_anchor, now.timestamp())
                .await
                .map_err(|e| StartupError::Other(e.to_string()))?;
            super::print_json(&serde_json::json!({
                "sub": resolved.subject,
                "trust_anchor": resolved.trust_anchor,
                "exp": resolved.exp,
                "metadata": resolved.metadata,
            }))
        }
    }
}

fn read(path: &PathBuf) -> Result<String, StartupError> {
    std::fs::read_to_string(path)
        .map_err(|e| StartupError::Other(format!("{}: {e}", path.display())))
}

fn by(operator: &str) -> String {
    if operator.is_empty() {
        "cli".to_owned()
    } else {
        format!("cli:{operator}")
    }
}

async fn subordinate(
    settings: &Settings,
    command: SubordinateCommand,
    now: DateTime<Utc>,
) -> Result<(), StartupError> {
    let db = startup::connect_database(settings).await?;
    match command {
        SubordinateCommand::Add {
            entity_id,
            jwks,
            policy,
            metadata,
            constraints,
            operator,
        } => {
            let jwks = match jwks {
                Some(path) => read(&path)?,
                None => {
                    let http = startup::outbound_http_client(settings)?;
                    let configuration = resolve::self_signed_configuration(
                        &http,
                        &settings.federation,
                        &entity_id,
                        now.timestamp(),
                    )
                    .await
                    .map_err(|e| StartupError::Other(e.to_string()))?;
                    let kids: Vec<&str> = configuration
                        .jwks
                        .get("keys")
                        .and_then(serde_json::Value::as_array)
                        .map(|keys| {
                            keys.iter()
                                .filter_map(|k| k.get("kid").and_then(serde_json::Value::as_str))
                                .collect()
                        })
                        .unwrap_or_default();
                    println!("keys from its entity configuration: {}", kids.join(", "));
                    configuration.jwks.to_string()
                }
            };
            let subordinate = Subordinate {
                entity_id: entity_id.clone(),
                jwks,
                metadata_policy: policy.as_ref().map(read).transpose()?,
                metadata: metadata.as_ref().map(read).transpose()?,
                constraints: constraints.as_ref().map(read).transpose()?,
            };
            let allow_http = settings.outbound.allow_private_networks;
            let new = subordinates::save(&db, subordinate, allow_http, &by(&operator), now)
                .await
                .map_err(|e| StartupError::Other(format!("{entity_id}: {e}")))?;
            println!(
                "{entity_id} {}: the fetch endpoint serves a statement about it",
                if new { "added" } else { "updated" }
            );
            Ok(())
        }
        SubordinateCommand::Remove {
            entity_id,
            operator,
        } => {
            if !subordinates::remove(&db, &entity_id, &by(&operator), now).await? {
                return Err(StartupError::Other(format!(
                    "{entity_id} is not a subordinate"
                )));
            }
            println!("{entity_id} removed");
            Ok(())
        }
        SubordinateCommand::List { json } => {
            let rows = subordinates::list(&db).await?;
            if json {
                let listing: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|row| {
                        serde_json::json!({
                            "entity_id": row.entity_id,
                            "has_policy": row.metadata_policy.is_some(),
                            "has_metadata": row.metadata.is_some(),
                            "updated_at": row.updated_at.and_utc().to_rfc3339(),
                        })
                    })
                    .collect();
                return super::print_json(&listing);
            }
            println!("ENTITY_ID\tPOLICY\tUPDATED");
            for row in rows {
                println!(
                    "{}\t{}\t{}",
                    row.entity_id,
                    if row.metadata_policy.is_some() {
                        "yes"
                    } else {
                        "-"
                    },
                    row.updated_at.and_utc().format("%Y-%m-%dT%H:%M:%SZ")
                );
            }
            Ok(())
        }
    }
}
