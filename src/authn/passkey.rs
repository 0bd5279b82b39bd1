//! WebAuthn passkeys as a second factor, with `webauthn-rs`: registering one on the
//! account pages, and presenting one at the login's second-factor step.
//!
//! Each ceremony has two requests: the options (with a random challenge) go to the
//! browser, and the browser's answer comes back. The ceremony's state between them
//! lives in the store, never in the browser, under a key bound to what it is for: the
//! account (registration) or the login flow (authentication). It is taken, not read,
//! when the answer comes, so each challenge is answered once: a replayed answer finds
//! no state, and a second try needs a fresh page (with a fresh challenge).
//!
//! The relying party id is the issuer's host (`passkeys.rp_id` overrides it, e.g. with
//! a parent domain shared by several instance hosts) and the only accepted origin is
//! the issuer's. Browsers refuse WebAuthn on an IP-address host, so an issuer such as
//! `http://127.0.0.1:8080` runs with passkeys off, and says so in the log.
//!
//! webauthn-rs passkeys always require user verification (a PIN or a biometric on the
//! device), and the library refuses an answer without it.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::AuthnContext;
use super::recovery_codes::{self, RecoveryCode};
use crate::storage::passkeys::{self, PasskeyRow};
use crate::storage::recovery_codes as stored_codes;
use crate::storage::{self, StorageError};
use crate::store::StoreError;

/// Largest answer accepted from the browser, in bytes of JSON. A registration with an
/// RSA key and `none` attestation is under 2 KiB.
pub const MAX_CREDENTIAL_LEN: usize = 8 * 1024;
/// Longest name a citizen may give a passkey, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Time to answer the browser's prompt when adding a passkey.
pub const REGISTRATION_TTL: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// webauthn-rs could not make a challenge, or a stored value did not (de)serialise:
    /// our fault, not the citizen's.
    #[error("passkey ceremony: {0}")]
    Internal(String),
}

fn internal(what: &str, e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Internal(format!("{what}: {e}"))
}

/// The relying party for `issuer`: `Ok(None)` when the issuer's host is an IP address
/// and no `rp_id` is configured (passkeys are then off), an error when `rp_id` is not
/// the issuer's host or a parent domain of it.
pub fn relying_party(issuer: &str, rp_id: &str) -> Result<Option<Webauthn>, String> {
    let origin = Url::parse(issuer).map_err(|e| format!("issuer: {e}"))?;
    let Some(host) = origin.domain() else {
        if !rp_id.is_empty() {
            return Err("passkeys.rp_id needs an issuer whose host is a domain name".into());
        }
        tracing::warn!(
            "passkeys are off: browsers refuse WebAuthn on an issuer whose host is an IP address"
        );
        return Ok(None);
    };
    let rp_id = if rp_id.is_empty() { host } else { rp_id };
    let webauthn = WebauthnBuilder::new(rp_id, &origin)
        .and_then(|b| b.rp_name("citizen-idp").build())
        .map_err(|e| format!("passkeys.rp_id {rp_id:?} does not fit the issuer {issuer}: {e}"))?;
    Ok(Some(webauthn))
}

fn webauthn<'a>(cx: &AuthnContext<'a>) -> Result<&'a Webauthn, PasskeyError> {
    cx.passkeys
        .ok_or_else(|| PasskeyError::Internal("passkeys are off on this issuer".into()))
}

fn credential_id_text(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

async fn rows(cx: &AuthnContext<'_>, account_id: &str) -> Result<Vec<PasskeyRow>, PasskeyError> {
    let id = account_id.to_owned();
    Ok(cx
        .db
        .run(move |conn| passkeys::for_account(conn, &id))
        .await?)
}

fn parse_rows(rows: &[PasskeyRow]) -> Result<Vec<Passkey>, PasskeyError> {
    rows.iter()
        .map(|row| serde_json::from_str(&row.credential).map_err(|e| internal("stored passkey", e)))
        .collect()
}

/// A name the citizen typed for a passkey, trimmed, if it is one: 1 to
/// [`MAX_NAME_CHARS`] characters, no control characters.
pub fn valid_name(raw: &str) -> Option<String> {
    let name = raw.trim();
    let chars = name.chars().count();
    ((1..=MAX_NAME_CHARS).contains(&chars) && !name.chars().any(char::is_control))
        .then(|| name.to_owned())
}

/// Starts adding a passkey to the account: the options for
/// `navigator.credentials.create`, as JSON. The account's passkeys are excluded, so an
/// authenticator that holds one of them says so instead of making a second.
pub async fn start_registration(
    cx: &AuthnContext<'_>,
    account_id: &str,
    user_name: &str,
) -> Result<String, PasskeyError> {
    let webauthn = webauthn(cx)?;
    let existing = rows(cx, account_id).await?;
    let exclude = parse_rows(&existing)?
        .iter()
        .map(|p| p.cred_id().clone())
        .collect::<Vec<_>>();
    // The user handle is the account id, a random UUID: it names no person, and an
    // authenticator keeps one passkey per handle and site.
    let handle = Uuid::parse_str(account_id).map_err(|e| internal("account id", e))?;
    let (options, registration) = webauthn
        .start_passkey_registration(handle, user_name, user_name, Some(exclude))
        .map_err(|e| internal("start registration", e))?;
    let saved = serde_json::to_vec(&registration).map_err(|e| internal("registration", e))?;
    cx.store
        .put(
            &crate::store::keys::passkey_registration(account_id),
            saved,
            REGISTRATION_TTL,
        )
        .await?;
    serde_json::to_string(&options).map_err(|e| internal("creation options", e))
}

/// The outcome of an answer to a registration.
#[derive(Debug)]
pub enum Registration {
    /// Saved. With the account's first second factor come its recovery codes, to
    /// show once: without them, a lost phone would lock the citizen out.
    Added {
        recovery_codes: Option<Vec<RecoveryCode>>,
    },
    /// No registration is waiting (expired, or already answered).
    Expired,
    /// Not a valid answer to the challenge (malformed, oversized, another origin, ...).
    Refused,
    /// The credential is already registered.
    Duplicate,
}

/// Finishes adding a passkey named `name` with the browser's answer `credential`.
pub async fn finish_registration(
    cx: &AuthnContext<'_>,
    account_id: &str,
    name: &str,
    credential: &str,
    now: DateTime<Utc>,
) -> Result<Registration, PasskeyError> {
    let webauthn = webauthn(cx)?;
    let Some(saved) = cx
        .store
        .take(&crate::store::keys::passkey_registration(account_id))
        .await?
    else {
        return Ok(Registration::Expired);
    };
    let registration: PasskeyRegistration =
        serde_json::from_slice(&saved).map_err(|e| internal("stored registration", e))?;
    if credential.len() > MAX_CREDENTIAL_LEN {
        return Ok(Registration::Refused);
    }
    let Ok(answer) = serde_json::from_str::<RegisterPublicKeyCredential>(credential) else {
        return Ok(Registration::Refused);
    };
    let passkey = match webauthn.finish_passkey_registration(&answer, &registration) {
        Ok(passkey) => passkey,
        Err(e) => {
            tracing::info!(target: "security", error = %e, "passkey registration refused");
            return Ok(Registration::Refused);
        }
    };
    let row = PasskeyRow {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        credential_id: credential_id_text(passkey.cred_id()),
        credential: serde_json::to_string(&passkey).map_err(|e| internal("passkey", e))?,
        created_at: now.naive_utc(),
        last_used_at: None,
    };
    let codes = recovery_codes::generate()
        .ok_or_else(|| PasskeyError::Internal("no randomness for recovery codes".into()))?;
    let digests: Vec<String> = codes
        .iter()
        .filter_map(|c| recovery_codes::digest(c.expose()))
        .collect();
    let (account, at) = (account_id.to_owned(), now.naive_utc());
    let outcome = cx
        .db
        .run(move |conn| {
            storage::transaction(conn, |conn| {
                let first = !stored_codes::account_has_factor(conn, &account)?;
                // The insert comes before any other write: a duplicate ends the
                // transaction with nothing written (PostgreSQL aborts it on the error).
                if !passkeys::insert(conn, &row)? {
                    return Ok::<_, StorageError>(None);
                }
                if first {
                    stored_codes::replace(conn, &account, &digests, at)?;
                }
                Ok(Some(first))
            })
        })
        .await?;
    Ok(match outcome {
        None => Registration::Duplicate,
        Some(first) => Registration::Added {
            recovery_codes: first.then_some(codes),
        },
    })
}

/// What the store keeps for a login's passkey challenge: the account it was made for,
/// so an answer is checked against that account's passkeys only.
#[derive(Serialize, Deserialize)]
struct LoginChallenge {
    account_id: String,
    state: PasskeyAuthentication,
}

/// Starts a passkey check for the login flow `flow_id` of `account_id`: the options
/// for `navigator.credentials.get` as JSON, or `None` when the account has no passkey.
/// A new challenge replaces the flow's previous one.
pub async fn start_login(
    cx: &AuthnContext<'_>,
    flow_id: &str,
    account_id: &str,
) -> Result<Option<String>, PasskeyError> {
    let Some(webauthn) = cx.passkeys else {
        return Ok(None);
    };
    let stored = parse_rows(&rows(cx, account_id).await?)?;
    if stored.is_empty() {
        return Ok(None);
    }
    let (options, authentication) = webauthn
        .start_passkey_authentication(&stored)
        .map_err(|e| internal("start authentication", e))?;
    let saved = serde_json::to_vec(&LoginChallenge {
        account_id: account_id.to_owned(),
        state: authentication,
    })
    .map_err(|e| internal("authentication", e))?;
    let ttl = cx.login_ttl;
    cx.store
        .put(&crate::store::keys::passkey_login(flow_id), saved, ttl)
        .await?;
    Ok(Some(
        serde_json::to_string(&options).map_err(|e| internal("request options", e))?,
    ))
}

/// The answer to a passkey presented at login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginVerdict {
    /// A valid assertion of one of the account's passkeys; whether the authenticator
    /// verified the user (PIN or biometric), not only their presence.
    Accepted { user_verified: bool },
    /// Not a valid answer: malformed, oversized, another account's credential, another
    /// challenge or origin, a bad signature, a counter gone backwards.
    Wrong,
    /// No challenge is waiting for this flow: already answered (a replay) or expired.
    Spent,
}

/// Checks the browser's answer `credential` for the flow's challenge, spending the
/// challenge, and saves what the login changed on the passkey (counter, backup state).
pub async fn verify_login(
    cx: &AuthnContext<'_>,
    flow_id: &str,
    account_id: &str,
    credential: &str,
    now: DateTime<Utc>,
) -> Result<LoginVerdict, PasskeyError> {
    let Some(webauthn) = cx.passkeys else {
        return Ok(LoginVerdict::Wrong);
    };
    let Some(saved) = cx
        .store
        .take(&crate::store::keys::passkey_login(flow_id))
        .await?
    else {
        return Ok(LoginVerdict::Spent);
    };
    let challenge: LoginChallenge =
        serde_json::from_slice(&saved).map_err(|e| internal("stored authentication", e))?;
    if challenge.account_id != account_id || credential.len() > MAX_CREDENTIAL_LEN {
        return Ok(LoginVerdict::Wrong);
    }
    let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(credential) else {
        return Ok(LoginVerdict::Wrong);
    };
    let result = match webauthn.finish_passkey_authentication(&answer, &challenge.state) {
        Ok(result) => result,
        Err(e) => {
            tracing::info!(target: "security", error = %e, "passkey assertion refused");
            return Ok(LoginVerdict::Wrong);
        }
    };
    let user_verified = result.user_verified();
    // The challenge allowed only this account's credentials, so the one used is among
    // its rows; it is looked up again to save what changed on it.
    let used = credential_id_text(result.cred_id());
    let account = account_id.to_owned();
    let at = now.naive_utc();
    let saved = cx
        .db
        .run(move |conn| {
            storage::transaction(conn, |conn| {
                let Some(row) = passkeys::for_account(conn, &account)?
                    .into_iter()
                    .find(|row| row.credential_id == used)
                else {
                    return Ok::<_, PasskeyError>(false);
                };
                let mut passkey: Passkey = serde_json::from_str(&row.credential)
                    .map_err(|e| internal("stored passkey", e))?;
                let updated = match passkey.update_credential(&result) {
                    Some(true) => {
                        Some(serde_json::to_string(&passkey).map_err(|e| internal("passkey", e))?)
                    }
                    _ => None,
                };
                passkeys::record_use(conn, &account, &row.id, updated.as_deref(), at)?;
                Ok(true)
            })
        })
        .await?;
    if !saved {
        return Ok(LoginVerdict::Wrong);
    }
    Ok(LoginVerdict::Accepted { user_verified })
}

/// A passkey as the account pages list it.
#[derive(Debug, Clone)]
pub struct PasskeySummary {
    pub id: String,
    pub name: String,
    pub created_at: chrono::NaiveDateTime,
    pub last_used_at: Option<chrono::NaiveDateTime>,
}

pub async fn summary(
    cx: &AuthnContext<'_>,
    account_id: &str,
) -> Result<Vec<PasskeySummary>, PasskeyError> {
    Ok(rows(cx, account_id)
        .await?
        .into_iter()
        .map(|row| PasskeySummary {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        })
        .collect())
}

/// Removes one of the account's passkeys; returns whether it existed.
pub async fn remove(
    cx: &AuthnContext<'_>,
    account_id: &str,
    passkey_id: &str,
) -> Result<bool, PasskeyError> {
    let (account, id) = (account_id.to_owned(), passkey_id.to_owned());
    Ok(cx
        .db
        .run(move |conn| storage::transaction(conn, |conn| passkeys::delete(conn, &account, &id)))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(valid_name("  Điện thoại  "), Some("Điện thoại".to_owned()));
        assert_eq!(valid_name("   "), None);
        assert_eq!(valid_name("a\u{0}b"), None);
        assert_eq!(
            valid_name(&"ệ".repeat(MAX_NAME_CHARS)).map(|n| n.chars().count()),
            Some(64)
        );
        assert_eq!(valid_name(&"a".repeat(MAX_NAME_CHARS + 1)), None);
    }

    #[test]
    fn the_relying_party_follows_the_issuer() {
        assert!(
            relying_party("https://id.example.vn", "")
                .unwrap()
                .is_some()
        );
        assert!(
            relying_party("http://localhost:8080", "")
                .unwrap()
                .is_some()
        );
        assert!(
            relying_party("https://login.id.example.vn", "id.example.vn")
                .unwrap()
                .is_some()
        );
        assert!(relying_party("https://id.example.vn", "other.example").is_err());
        assert!(
            relying_party("http://127.0.0.1:8080", "")
                .unwrap()
                .is_none()
        );
        assert!(relying_party("http://127.0.0.1:8080", "localhost").is_err());
    }
}
