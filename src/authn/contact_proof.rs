//! Proving a contact: the citizen gives a phone number or an e-mail address, a code
//! of six digits goes there, and typing it back proves the contact is theirs. Only a
//! proven contact is written to (security notices, account recovery).
//!
//! The rules of a code:
//! - **short-lived**: `notify.code_ttl_secs`, and its message is dropped unsent after;
//! - **single-use**: the pending proof is taken from the store atomically, so two
//!   posts of the right code (a replay, a race) prove the contact once;
//! - **attempt-limited**: `notify.code_attempts` wrong codes void it, counted
//!   atomically in the store, so parallel guesses count too;
//! - **rate-limited**: `notify.codes_per_contact_per_hour` codes to one contact (a
//!   stranger's number must not be flooded through us) and
//!   `notify.codes_per_ip_per_hour` from one address;
//! - **one per account**: asking again replaces the code; the old one stops working.
//!
//! The store keeps a keyed digest of the code, never the code: a dump of the store
//! hands out nothing that can be typed in, even within the code's few minutes.

use chrono::{DateTime, Duration, Utc};
use ring::hmac;

use crate::authn::throttle::client_bucket;
use crate::config::NotifySettings;
use crate::domain::contact::{Channel, Contact};
use crate::notify::{self, Language, Notice, Transports};
use crate::server_secret::ServerSecret;
use crate::storage::{Db, StorageError};
use crate::store::{Store, StoreError};
use crate::tokens::random;

/// Digits in a code: 10⁶ values against at most 10 guesses per code.
pub const CODE_DIGITS: usize = 6;
/// The key of the server secret the digests are made with.
const DIGEST_PURPOSE: &str = "contact-proof";

#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// No code waits (never asked for, expired, used, or voided by wrong guesses).
    #[error("no code is waiting")]
    NoCode,
    /// A wrong code; `left` more may be tried.
    #[error("wrong code")]
    Wrong { left: u64 },
    /// Too many wrong codes: this one is void.
    #[error("too many wrong codes")]
    Exhausted,
    /// Too many codes asked for this contact or from this address lately.
    #[error("too many codes asked for")]
    RateLimited,
    /// No transport for the contact's channel on this server.
    #[error("this kind of contact cannot be verified here")]
    Unavailable,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A code waiting for the account, kept in the store as `ID CHANNEL DIGEST EXPIRES
/// VALUE` (none of them holds a space: contacts are parsed without whitespace).
struct Pending {
    /// Names this code's attempt counter: a new code starts with a fresh count.
    id: String,
    channel: String,
    value: String,
    digest: String,
    /// Unix seconds: checked against the server's clock, not only left to the store's
    /// own expiry, so that every backend ends a code at the same moment.
    expires: i64,
}

impl Pending {
    fn encode(&self) -> Vec<u8> {
        format!(
            "{} {} {} {} {}",
            self.id, self.channel, self.digest, self.expires, self.value
        )
        .into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Pending> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(5, ' ');
        Some(Pending {
            id: parts.next()?.to_owned(),
            channel: parts.next()?.to_owned(),
            digest: parts.next()?.to_owned(),
            expires: parts.next()?.parse().ok()?,
            value: parts.next()?.to_owned(),
        })
    }

    fn contact(&self) -> Option<Contact> {
        Some(Contact::stored(
            Channel::parse(&self.channel)?,
            self.value.clone(),
        ))
    }
}

/// What a proof needs from the server.
pub struct Proofs<'a> {
    pub store: &'a dyn Store,
    pub db: &'a Db,
    pub secret: &'a ServerSecret,
    pub transports: &'a Transports,
    pub settings: &'a NotifySettings,
}

fn pending_key(account_id: &str) -> String {
    format!("contact-proof:{account_id}")
}

pub(crate) fn digest(secret: &ServerSecret, pending_id: &str, code: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &secret.derive(DIGEST_PURPOSE));
    let tag = hmac::sign(&key, format!("{pending_id}:{code}").as_bytes());
    base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        tag.as_ref(),
    )
}

impl Proofs<'_> {
    fn ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.settings.code_ttl_secs)
    }

    /// Sends a new code to `contact` for the account, replacing any code waiting,
    /// and queues its message (in `language`). The caller wakes the notification worker.
    pub async fn start(
        &self,
        account_id: &str,
        contact: &Contact,
        ip: Option<std::net::IpAddr>,
        language: Language,
        now: DateTime<Utc>,
    ) -> Result<(), ProofError> {
        if !self.transports.offers(contact.channel()) {
            return Err(ProofError::Unavailable);
        }
        let hour = std::time::Duration::from_secs(3600);
        // Counted before anything is sent, and whatever happens next: a request
        // refused later still spent its turn.
        if let Some(ip) = ip {
            let from_ip = self
                .store
                .increment(&format!("contact-codes-ip:{}", client_bucket(ip)), hour)
                .await?;
            if from_ip > self.settings.codes_per_ip_per_hour {
                return Err(ProofError::RateLimited);
            }
        }
        let to_contact = self
            .store
            .increment(
                &format!("contact-codes-to:{}", random::sha256_b64(contact.value())),
                hour,
            )
            .await?;
        if to_contact > self.settings.codes_per_contact_per_hour {
            return Err(ProofError::RateLimited);
        }

        let code = random::digits(CODE_DIGITS);
        let id = random::token();
        let expires_at =
            now + Duration::seconds(i64::try_from(self.settings.code_ttl_secs).unwrap_or(600));
        let pending = Pending {
            digest: digest(self.secret, &id, &code),
            id,
            channel: contact.channel().as_str().to_owned(),
            value: contact.value().to_owned(),
            expires: expires_at.timestamp(),
        };
        let notice = Notice::ContactCode {
            code,
            minutes: self.settings.code_ttl_secs.div_ceil(60),
        };
        let message = notify::message(account_id, contact, &notice, language, Some(expires_at));
        // The code is stored before its message is queued: a message can only carry
        // a code that works.
        self.store
            .put(&pending_key(account_id), pending.encode(), self.ttl())
            .await?;
        self.db
            .run(move |conn| notify::queue(conn, &message, now))
            .await?;
        Ok(())
    }

    /// Where the waiting code went, if one waits.
    pub async fn waiting(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Contact>, ProofError> {
        Ok(self
            .read(account_id, now)
            .await?
            .and_then(|pending| pending.contact()))
    }

    async fn read(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Pending>, ProofError> {
        let Some(bytes) = self.store.get(&pending_key(account_id)).await? else {
            return Ok(None);
        };
        Ok(Pending::decode(&bytes).filter(|pending| now.timestamp() < pending.expires))
    }

    /// Checks `code` against the account's waiting code; on a match the code is spent
    /// and the proven contact returned, for the caller to record.
    pub async fn confirm(
        &self,
        account_id: &str,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Contact, ProofError> {
        let key = pending_key(account_id);
        let Some(pending) = self.read(account_id, now).await? else {
            return Err(ProofError::NoCode);
        };
        let tries = self
            .store
            .increment(&format!("contact-proof-tries:{}", pending.id), self.ttl())
            .await?;
        if tries > self.settings.code_attempts {
            self.store.delete(&key).await?;
            return Err(ProofError::Exhausted);
        }
        let expected = digest(self.secret, &pending.id, code.trim());
        if !random::constant_time_eq(expected.as_bytes(), pending.digest.as_bytes()) {
            let left = self.settings.code_attempts - tries;
            if left == 0 {
                self.store.delete(&key).await?;
                return Err(ProofError::Exhausted);
            }
            return Err(ProofError::Wrong { left });
        }
        // Spent atomically: of two posts of the right code, only one finds it. A code
        // replaced meanwhile (a new one asked for) is not this one.
        let Some(taken) = self.store.take(&key).await? else {
            return Err(ProofError::NoCode);
        };
        match Pending::decode(&taken) {
            Some(taken) if taken.id == pending.id => taken.contact().ok_or(ProofError::NoCode),
            Some(newer) => {
                // Put back the newer code this post took by mistake.
                self.store.put(&key, newer.encode(), self.ttl()).await?;
                Err(ProofError::NoCode)
            }
            None => Err(ProofError::NoCode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_depends_on_the_code_and_on_the_pending_proof() {
        let secret = ServerSecret::generate().unwrap();
        let a = digest(&secret, "p1", "123456");
        assert_eq!(a, digest(&secret, "p1", "123456"));
        assert_ne!(a, digest(&secret, "p1", "123457"));
        assert_ne!(a, digest(&secret, "p2", "123456"));
        let code = random::digits(CODE_DIGITS);
        assert_eq!(code.len(), CODE_DIGITS);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
    }
}
