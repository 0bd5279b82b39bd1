//! `citizen-idp keys ...`: rotate, list and withdraw signing keys ([`keyring`]), as
//! the admin API withdraws them over HTTP.

use chrono::{DateTime, NaiveDateTime, Utc};
use clap::Subcommand;

use crate::config::Settings;
use crate::startup::{self, StartupError};
use crate::tokens::keyring;
use crate::tokens::keys::{KeyPurpose, SigningAlg, SigningKey};

#[derive(Subcommand)]
pub enum KeysCommand {
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
        /// Rotate the key that signs this server's OpenID Federation statements
        /// (ES256) instead of the token keys.
        #[arg(long, conflicts_with = "alg")]
        federation: bool,
    },
    /// List the signing keys with their state.
    List {
        /// List the keys that sign OpenID Federation statements instead.
        #[arg(long)]
        federation: bool,
    },
    /// Withdraw a compromised key at once: it leaves the JWKS and every token it signed
    /// stops verifying, on every instance within keys.reload_interval_secs. A key that
    /// is the only one of its algorithm signing now is refused: run `keys rotate --now`
    /// first.
    Revoke {
        /// A kid is a base64url thumbprint, which may begin with '-'.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Who withdraws it, for the audit trail (e.g. an operator's name).
        #[arg(long, default_value = "")]
        operator: String,
    },
}

pub async fn run(
    settings: &Settings,
    command: KeysCommand,
    now: DateTime<Utc>,
) -> Result<(), StartupError> {
    match command {
        KeysCommand::Rotate {
            alg,
            now: at_once,
            federation,
        } => rotate(settings, purpose(federation), alg.as_deref(), at_once, now).await,
        KeysCommand::List { federation } => list(settings, purpose(federation), now).await,
        KeysCommand::Revoke { kid, operator } => revoke(settings, kid, &operator, now).await,
    }
}

fn purpose(federation: bool) -> KeyPurpose {
    if federation {
        KeyPurpose::Federation
    } else {
        KeyPurpose::Token
    }
}

const TIME: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Rotation checks first that this secret opens the current keys (a wrong secret would
/// store keys no instance can open), then rotates each algorithm in its own transaction.
async fn rotate(
    settings: &Settings,
    purpose: KeyPurpose,
    alg: Option<&str>,
    immediately: bool,
    now: DateTime<Utc>,
) -> Result<(), StartupError> {
    let algs: Vec<SigningAlg> = match alg {
        Some(alg) => vec![
            SigningAlg::parse(alg)
                .ok_or_else(|| StartupError::Other("--alg must be RS256 or ES256".into()))?,
        ],
        None => purpose.algs().to_vec(),
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
            .run(move |conn| {
                let (key, der) = generated;
                keyring::rotate(
                    conn,
                    &sealer,
                    (purpose, key, der),
                    now,
                    activate_at,
                    retention,
                )
            })
            .await?;
        tracing::info!(target: "security", kid = %rotation.kid, alg = alg.as_str(), purpose = purpose.as_str(), retired = ?rotation.retired, "signing key rotated");
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

async fn revoke(
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

async fn list(
    settings: &Settings,
    purpose: KeyPurpose,
    now: DateTime<Utc>,
) -> Result<(), StartupError> {
    let db = startup::connect_database(settings).await?;
    let rows = db.run(move |conn| keyring::list(conn, purpose)).await?;
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
