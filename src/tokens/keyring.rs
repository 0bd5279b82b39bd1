//! Signing keys kept in the database and shared by every instance: start-up (import of
//! old PEM files, a first key per algorithm), rotation, and the periodic reload that
//! makes each instance follow the others.
//!
//! Invariants:
//! - Private keys are stored only sealed (AES-256-GCM under the server secret's
//!   `signing-key-encryption` key, the kid as associated data, so a sealed key cannot be
//!   moved to another row). They are wiped once the key is no longer published.
//! - A key is published from the moment it is stored until `published_until`, which
//!   is set when it retires and covers every token it can have signed.
//! - Verification never reloads: a token naming an unknown kid is refused at once, so
//!   no request can make an instance query the database (the periodic reload suffices).

use std::sync::Arc;
use std::time::Duration as StdDuration;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use chrono::{DateTime, Duration, Utc};

use super::TokenError;
use super::key_set::{KeyRing, KeySet, LoadedKey};
use super::keys::{KeyLifetime, KeyPurpose, KeyState, LegacyKeyFile, SigningAlg, SigningKey};
use crate::audit::{Event, Kind};
use crate::clock::Clock;
use crate::server_secret::ServerSecret;
use crate::storage::signing_keys::{self, SigningKeyRow};
use crate::storage::{self, Db, DbConnection, StorageError, audit_events};

/// The HKDF purpose of the key-encryption key.
pub const SEALING_PURPOSE: &str = "signing-key-encryption";

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(
        "cannot decrypt signing key {kid}: wrong keys.secret? (every instance sharing the database needs the same secret)"
    )]
    WrongSecret { kid: String },
    #[error("signing key {kid}: {reason}")]
    Corrupt { kid: String, reason: String },
    #[error("cannot seal a signing key")]
    Sealing,
    #[error(transparent)]
    Key(#[from] TokenError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Seals and opens private keys with the key derived from the server secret.
pub struct Sealer(RandomizedNonceKey);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    pub fn new(secret: &ServerSecret) -> Result<Self, KeyringError> {
        RandomizedNonceKey::new(&AES_256_GCM, &secret.derive(SEALING_PURPOSE))
            .map(Sealer)
            .map_err(|_| KeyringError::Sealing)
    }

    /// nonce || ciphertext || tag. The nonce is random (96 bits): a handful of keys per
    /// year is far below the 2^32 messages that random GCM nonces allow per key.
    pub fn seal(&self, kid: &str, der: &[u8]) -> Result<Vec<u8>, KeyringError> {
        let mut in_out = der.to_vec();
        let nonce = self
            .0
            .seal_in_place_append_tag(Aad::from(kid.as_bytes()), &mut in_out)
            .map_err(|_| KeyringError::Sealing)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + in_out.len());
        sealed.extend_from_slice(nonce.as_ref());
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, KeyringError> {
        let wrong = || KeyringError::WrongSecret {
            kid: kid.to_owned(),
        };
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN).ok_or_else(wrong)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut in_out = ciphertext.to_vec();
        let der = self
            .0
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut in_out)
            .map_err(|_| wrong())?;
        Ok(der.to_vec())
    }
}

fn lifetime(row: &SigningKeyRow) -> KeyLifetime {
    KeyLifetime {
        activated_at: row.activated_at.and_utc(),
        retired_at: row.retired_at.map(|t| t.and_utc()),
        published_until: row.published_until.map(|t| t.and_utc()),
    }
}

/// The state of a stored key at `now`.
pub fn state(row: &SigningKeyRow, now: DateTime<Utc>) -> KeyState {
    lifetime(row).state(now)
}

/// Every stored key of `purpose`, published or not, for operators (`keys list`);
/// [`state`] says where each one stands.
pub fn list(
    conn: &mut DbConnection,
    purpose: KeyPurpose,
) -> Result<Vec<SigningKeyRow>, StorageError> {
    signing_keys::list(conn, purpose.as_str())
}

/// Builds the set of published keys of `purpose` from the table. Keys already parsed
/// in `previous` are reused; the others are opened and parsed, and a key that cannot be
/// opened stops the load (a wrong secret must never go unnoticed).
pub fn load(
    conn: &mut DbConnection,
    sealer: &Sealer,
    purpose: KeyPurpose,
    now: DateTime<Utc>,
    previous: Option<&KeySet>,
) -> Result<KeySet, KeyringError> {
    let mut keys = Vec::new();
    for row in signing_keys::list(conn, purpose.as_str())? {
        if !state(&row, now).is_published() {
            continue;
        }
        let key = match previous.and_then(|set| set.shared(&row.kid)) {
            Some(key) => key,
            None => Arc::new(open_row(sealer, &row)?),
        };
        keys.push(LoadedKey {
            key,
            lifetime: lifetime(&row),
        });
    }
    Ok(KeySet::new(keys)?)
}

fn open_row(sealer: &Sealer, row: &SigningKeyRow) -> Result<SigningKey, KeyringError> {
    let corrupt = |reason: String| KeyringError::Corrupt {
        kid: row.kid.clone(),
        reason,
    };
    let alg = SigningAlg::parse(&row.alg).ok_or_else(|| corrupt("unknown alg".into()))?;
    let sealed = row
        .sealed_key
        .as_deref()
        .ok_or_else(|| corrupt("published but its private part is gone".into()))?;
    let der = sealer.open(&row.kid, sealed)?;
    let key = SigningKey::from_pkcs8(alg, &der).map_err(|e| corrupt(e.to_string()))?;
    // The kid is the key's thumbprint: a row whose key does not match it was tampered with.
    if key.kid() != row.kid {
        return Err(corrupt("the key does not match its kid".into()));
    }
    Ok(key)
}

fn new_row(
    sealer: &Sealer,
    purpose: KeyPurpose,
    (key, der): (&SigningKey, &[u8]),
    created_at: DateTime<Utc>,
    activated_at: DateTime<Utc>,
) -> Result<SigningKeyRow, KeyringError> {
    Ok(SigningKeyRow {
        purpose: purpose.as_str().to_owned(),
        kid: key.kid().to_owned(),
        alg: key.alg().as_str().to_owned(),
        sealed_key: Some(sealer.seal(key.kid(), der)?),
        created_at: created_at.naive_utc(),
        activated_at: activated_at.naive_utc(),
        retired_at: None,
        published_until: None,
    })
}

/// What start-up did to the table, for the log.
#[derive(Debug, Default)]
pub struct Prepared {
    pub imported: Vec<(String, SigningAlg, std::path::PathBuf)>,
    pub generated: Vec<(String, SigningAlg, KeyPurpose)>,
}

/// Makes sure every purpose and algorithm has a key that signs: imports the PEM files
/// of the old layout once as token keys (kids already in the table are skipped), then
/// generates a key for each purpose and algorithm that has none. Two instances doing this at once is harmless: the unique
/// index lets only one unretired key per algorithm in, and the loser uses the winner's.
pub fn prepare(
    conn: &mut DbConnection,
    sealer: &Sealer,
    legacy: Vec<LegacyKeyFile>,
    now: DateTime<Utc>,
    retention: Duration,
) -> Result<Prepared, KeyringError> {
    let mut prepared = Prepared::default();
    let rows = signing_keys::list_all(conn)?;
    let mut known: Vec<String> = rows.iter().map(|r| r.kid.clone()).collect();
    // Newest first: the newest file of an algorithm signed last, so it stays active.
    for file in legacy.into_iter().rev() {
        let key = SigningKey::from_pkcs8(file.alg, &file.der)
            .map_err(|e| TokenError::Key(format!("{}: {e}", file.path.display())))?;
        if known.iter().any(|kid| kid == key.kid()) {
            continue;
        }
        let since = file
            .modified
            .map(DateTime::<Utc>::from)
            .map_or(now, |at| at.min(now));
        let mut row = new_row(sealer, KeyPurpose::Token, (&key, &file.der), since, since)?;
        if !signing_keys::insert_if_absent(conn, &row)? {
            row.retired_at = Some(now.naive_utc());
            row.published_until = Some((now + retention).naive_utc());
            signing_keys::insert_if_absent(conn, &row)?;
        }
        known.push(key.kid().to_owned());
        prepared
            .imported
            .push((key.kid().to_owned(), file.alg, file.path));
    }
    for purpose in [KeyPurpose::Token, KeyPurpose::Federation] {
        let rows = signing_keys::list(conn, purpose.as_str())?;
        for &alg in purpose.algs() {
            let has_signer = rows.iter().any(|row| {
                row.alg == alg.as_str()
                    && matches!(state(row, now), KeyState::Active | KeyState::Pending)
            });
            if has_signer {
                continue;
            }
            let (key, der) = SigningKey::generate(alg)?;
            let row = new_row(sealer, purpose, (&key, &der), now, now)?;
            if signing_keys::insert_if_absent(conn, &row)? {
                prepared
                    .generated
                    .push((key.kid().to_owned(), alg, purpose));
            }
        }
    }
    Ok(prepared)
}

/// One rotation: the new key and the keys it replaces.
#[derive(Debug)]
pub struct Rotation {
    pub purpose: KeyPurpose,
    pub alg: SigningAlg,
    pub kid: String,
    pub activates_at: DateTime<Utc>,
    pub retired: Vec<String>,
}

/// Adds a new key of `alg` that signs from `activate_at`, and retires then every key of
/// `alg` that would still sign. `key` is generated by the caller, outside any
/// transaction (RSA generation is slow).
pub fn rotate(
    conn: &mut DbConnection,
    sealer: &Sealer,
    (purpose, key, der): (KeyPurpose, SigningKey, Vec<u8>),
    now: DateTime<Utc>,
    activate_at: DateTime<Utc>,
    retention: Duration,
) -> Result<Rotation, KeyringError> {
    let row = new_row(sealer, purpose, (&key, &der), now, activate_at)?;
    storage::transaction(conn, |conn| {
        let retired = signing_keys::retire_and_insert(
            conn,
            &row,
            activate_at.naive_utc(),
            (activate_at + retention).naive_utc(),
        )?;
        // Names and instants only: key material never reaches the audit trail.
        let event =
            Event::new(Kind::Admin, "signing_key_rotated", now.naive_utc()).detail(format!(
                "alg={} kid={} activates_at={} retires={} purpose={}",
                row.alg,
                row.kid,
                activate_at.format("%Y-%m-%dT%H:%M:%SZ"),
                if retired.is_empty() {
                    "-".to_owned()
                } else {
                    retired.join(",")
                },
                row.purpose,
            ));
        audit_events::append(conn, &[event.into_row()])?;
        Ok(Rotation {
            purpose,
            alg: key.alg(),
            kid: row.kid.clone(),
            activates_at: activate_at,
            retired,
        })
    })
}

/// Why a key cannot be withdrawn.
#[derive(Debug, thiserror::Error)]
pub enum WithdrawError {
    #[error("no published signing key has this kid")]
    NotPublished,
    /// Withdrawing it would leave its algorithm with no key that signs: rotate first.
    #[error(
        "{kid} is the only {alg} key that signs now: run `citizen-idp keys rotate --alg {alg} --now` first"
    )]
    StillSigning { kid: String, alg: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Withdraws a compromised key at once: it leaves the JWKS, every token it signed stops
/// verifying (introspection answers inactive, userinfo invalid_token), and its private
/// part is wiped. The withdrawal is audited with `by`, in the same transaction. A key
/// that is the only one of its algorithm signing now is refused: `keys rotate --now`
/// comes first, so that tokens keep being issued.
pub fn withdraw(
    conn: &mut DbConnection,
    kid: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), WithdrawError> {
    storage::transaction(conn, |conn| {
        let rows = signing_keys::list_all(conn)?;
        let row = rows
            .iter()
            .find(|row| row.kid == kid && state(row, now).is_published())
            .ok_or(WithdrawError::NotPublished)?;
        let signs = |row: &SigningKeyRow| state(row, now) == KeyState::Active;
        let another_signs = rows.iter().any(|other| {
            other.kid != row.kid
                && other.alg == row.alg
                && other.purpose == row.purpose
                && signs(other)
        });
        if signs(row) && !another_signs {
            return Err(WithdrawError::StillSigning {
                kid: row.kid.clone(),
                alg: row.alg.clone(),
            });
        }
        if !signing_keys::withdraw(conn, kid, now.naive_utc())? {
            return Err(WithdrawError::NotPublished);
        }
        let event = Event::new(Kind::Admin, "signing_key_revoked", now.naive_utc())
            .detail(format!("alg={} kid={} by={by}", row.alg, row.kid));
        audit_events::append(conn, &[event.into_row()])?;
        Ok(())
    })
}

/// The key sets an instance holds, one per purpose.
#[derive(Debug, Clone)]
pub struct Rings {
    pub token: Arc<KeyRing>,
    pub federation: Arc<KeyRing>,
}

/// Reloads the keys of both purposes from the database into `rings`, and wipes the
/// private part of keys that are no longer published. Returns whether the published
/// token keys changed.
pub async fn reload(
    db: &Db,
    rings: &Rings,
    sealer: &Arc<Sealer>,
    now: DateTime<Utc>,
) -> Result<bool, KeyringError> {
    let previous = (rings.token.current(), rings.federation.current());
    let sealer = sealer.clone();
    let (token, federation, wiped) = {
        let previous = previous.clone();
        db.run(move |conn| {
            let wiped = signing_keys::wipe_expired(conn, now.naive_utc())?;
            let token = load(conn, &sealer, KeyPurpose::Token, now, Some(&previous.0))?;
            let federation = load(
                conn,
                &sealer,
                KeyPurpose::Federation,
                now,
                Some(&previous.1),
            )?;
            Ok::<_, KeyringError>((token, federation, wiped))
        })
        .await?
    };
    for kid in wiped {
        tracing::info!(%kid, "signing key expired: its private part is wiped");
    }
    let changed = token.etag() != previous.0.etag();
    for (purpose, set, before) in [
        (KeyPurpose::Token, &token, &previous.0),
        (KeyPurpose::Federation, &federation, &previous.1),
    ] {
        if set.etag() != before.etag() {
            let kids: Vec<&str> = set.iter().map(|k| k.key.kid()).collect();
            tracing::info!(purpose = purpose.as_str(), ?kids, "signing keys reloaded");
        }
    }
    rings.token.replace(token);
    rings.federation.replace(federation);
    Ok(changed)
}

/// Reloads every `every` on the runtime's blocking pool (through [`Db::run`]), never on
/// an HTTP worker. A failed reload keeps the current set and is retried next time.
pub fn spawn_reloader(
    db: Db,
    rings: Rings,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    every: StdDuration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if let Err(e) = reload(&db, &rings, &sealer, clock.now()).await {
                tracing::error!(error = %e, "reloading the signing keys failed; keeping the current ones");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_with_the_same_secret_and_kid() {
        let secret = ServerSecret::generate().unwrap();
        let sealer = Sealer::new(&secret).unwrap();
        let sealed = sealer.seal("kid-1", b"pkcs8").unwrap();
        assert_eq!(sealer.open("kid-1", &sealed).unwrap(), b"pkcs8");
        assert!(matches!(
            sealer.open("kid-2", &sealed),
            Err(KeyringError::WrongSecret { .. })
        ));
        let other = Sealer::new(&ServerSecret::generate().unwrap()).unwrap();
        let error = other.open("kid-1", &sealed).unwrap_err().to_string();
        assert!(error.starts_with("cannot decrypt signing key kid-1: wrong keys.secret?"));
        assert!(sealer.open("kid-1", &sealed[..5]).is_err());
    }
}
