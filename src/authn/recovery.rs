//! Account recovery, "forgot password?": the citizen gives their number; a code goes to
//! every proven contact of the account; with it, in the same browser, the citizen sets
//! a new password.
//!
//! **No enumeration.** [`Recovery::start`] answers the same way, after the same work,
//! whether or not the number has an account, an active one, or a proven contact: it
//! counts, makes a code and a flow, and stores them, and nothing else; it never reads
//! the database. Finding the account and writing to its contacts is a [`SendCode`]
//! the caller runs after answering. Only that job names the account a flow is for
//! (`recovery-for:`), so a flow nobody was sent a code for takes no code at all: a
//! right guess of a code sent nowhere is a wrong code.
//!
//! **What recovery does and does not do.** It replaces the password, ends every session
//! and revokes every refresh family of the account (whoever knew the old password may
//! hold one), and tells the proven contacts. It keeps the second factors, so an account
//! with one still asks for it (or a recovery code) at the next login, and it signs no
//! one in: recovery alone never gives a session, let alone a level-2 one. It never
//! unlocks a locked or suspended account; that is an officer's act.
//!
//! The code has the rules of a contact proof (`contact_proof`): short-lived, single-use,
//! attempt-limited, rate-limited per number and per IP; and it is bound to the browser
//! that asked for it.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};

use super::contact_proof::{CODE_DIGITS, digest};
use super::password::{PasswordError, PasswordHasher};
use super::password_policy::{self, PolicyContext, PolicyError};
use super::session::{self, Session};
use super::throttle::client_bucket;
use crate::audit;
use crate::config::NotifySettings;
use crate::domain::citizen::AccountStatus;
use crate::domain::national_id::NationalId;
use crate::domain::secret::Password;
use crate::notify::{self, Language, Notice};
use crate::registry;
use crate::server_secret::ServerSecret;
use crate::storage::{
    self, Db, StorageError, accounts, audit_events, contacts, notifications, refresh_tokens,
};
use crate::store::{Store, StoreError};
use crate::tokens::{random, revocation};

/// The audit outcomes of recovery (kind `login`).
pub const RECOVERY_STARTED: &str = "recovery_requested";
pub const RECOVERED: &str = "account_recovered";

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// No code waits for this flow in this browser (never started, expired, used,
    /// voided, or another browser's).
    #[error("no recovery is waiting")]
    NoCode,
    #[error("wrong code")]
    Wrong { left: u64 },
    #[error("too many wrong codes")]
    Exhausted,
    #[error("too many recoveries asked for")]
    RateLimited,
    #[error("the new password breaks the policy: {0}")]
    Policy(PolicyError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A recovery waiting for its code, kept in the store as `BROWSER DIGEST EXPIRES`.
struct Pending {
    /// A digest of the browser's cookie secret: the code works only where it was asked.
    browser: String,
    digest: String,
    expires: i64,
}

impl Pending {
    fn encode(&self) -> Vec<u8> {
        format!("{} {} {}", self.browser, self.digest, self.expires).into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Pending> {
        let mut parts = std::str::from_utf8(bytes).ok()?.split(' ');
        Some(Pending {
            browser: parts.next()?.to_owned(),
            digest: parts.next()?.to_owned(),
            expires: parts.next()?.parse().ok()?,
        })
    }
}

pub struct Recovery<'a> {
    pub db: &'a Db,
    pub store: &'a dyn Store,
    pub secret: &'a ServerSecret,
    pub hasher: &'a PasswordHasher,
    pub settings: &'a NotifySettings,
}

/// What a recovery did, for the caller to tell the relying parties of the ended
/// sessions.
pub struct Recovered {
    pub citizen: NationalId,
    pub ended: Vec<Session>,
}

fn pending_key(flow: &str) -> String {
    format!("recovery:{}", random::sha256_b64(flow))
}

/// The account a flow's code was sent for, written only once it was queued to it.
fn target_key(flow: &str) -> String {
    format!("recovery-for:{}", random::sha256_b64(flow))
}

/// What a flow started answers with: the flow for the next form, and the job that
/// sends its code, if the number has anyone to send it to.
pub struct Started {
    pub flow: String,
    pub send: SendCode,
}

/// Sends a flow's code to the proven contacts of the number's account, if it has an
/// active one with any; the caller runs it after answering, so that whether it finds
/// anyone takes no time out of the answer.
pub struct SendCode {
    flow: String,
    number: Option<NationalId>,
    notice: Notice,
    language: Language,
    expires_at: DateTime<Utc>,
    ttl: std::time::Duration,
    now: DateTime<Utc>,
}

impl SendCode {
    /// Whether the code was queued to someone.
    pub async fn run(self, db: &Db, store: &dyn Store) -> Result<bool, RecoveryError> {
        let Some(number) = self.number else {
            return Ok(false);
        };
        let found = db
            .run(move |conn| {
                let Some(account) = accounts::find_by_national_id(conn, &number)? else {
                    return Ok::<_, StorageError>(None);
                };
                if account.status != AccountStatus::Active {
                    return Ok(None);
                }
                let to = contacts::verified(conn, &account.id)?;
                Ok((!to.is_empty()).then_some((account, to)))
            })
            .await?;
        let Some((account, to)) = found else {
            return Ok(false);
        };
        // Named before the code is queued: the code can only reach someone once its
        // flow takes it.
        store
            .put(
                &target_key(&self.flow),
                account.id.clone().into_bytes(),
                self.ttl,
            )
            .await?;
        let (notice, language, expires_at, now) =
            (self.notice, self.language, self.expires_at, self.now);
        db.run(move |conn| {
            storage::transaction(conn, |conn| {
                let messages: Vec<_> = to
                    .iter()
                    .map(|contact| {
                        notify::message(&account.id, contact, &notice, language, Some(expires_at))
                    })
                    .collect();
                notifications::enqueue(conn, &messages, now.naive_utc())?;
                let event =
                    audit::Event::new(audit::Kind::Login, RECOVERY_STARTED, now.naive_utc())
                        .citizen(account.national_id.clone())
                        .detail(format!("contacts={}", to.len()));
                audit_events::append(conn, &[event.into_row()])?;
                Ok::<_, StorageError>(())
            })
        })
        .await?;
        Ok(true)
    }
}

fn browser_digest(browser_secret: &str) -> String {
    random::sha256_b64(browser_secret)
}

impl Recovery<'_> {
    fn ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.settings.code_ttl_secs)
    }

    /// Starts a recovery for the number typed, from the browser whose cookie secret is
    /// `browser_secret`: the flow to carry to the next form. The same answer for every
    /// number, bar the rate limits, which count the number typed whatever it is.
    pub async fn start(
        &self,
        typed_number: &str,
        browser_secret: &str,
        ip: Option<IpAddr>,
        language: Language,
        now: DateTime<Utc>,
    ) -> Result<Started, RecoveryError> {
        let hour = std::time::Duration::from_secs(3600);
        if let Some(ip) = ip {
            let from_ip = self
                .store
                .increment(&format!("recovery-ip:{}", client_bucket(ip)), hour)
                .await?;
            if from_ip > self.settings.codes_per_ip_per_hour {
                return Err(RecoveryError::RateLimited);
            }
        }
        let for_number = self
            .store
            .increment(
                &format!("recovery-number:{}", random::sha256_b64(typed_number)),
                hour,
            )
            .await?;
        if for_number > self.settings.codes_per_contact_per_hour {
            return Err(RecoveryError::RateLimited);
        }

        let flow = random::token();
        let code = random::digits(CODE_DIGITS);
        let expires_at =
            now + Duration::seconds(i64::try_from(self.settings.code_ttl_secs).unwrap_or(600));
        let pending = Pending {
            digest: digest(self.secret, &flow, &code),
            browser: browser_digest(browser_secret),
            expires: expires_at.timestamp(),
        };
        self.store
            .put(&pending_key(&flow), pending.encode(), self.ttl())
            .await?;
        let send = SendCode {
            flow: flow.clone(),
            number: NationalId::parse(typed_number).ok(),
            notice: Notice::RecoveryCode {
                code,
                minutes: self.settings.code_ttl_secs.div_ceil(60),
            },
            language,
            expires_at,
            ttl: self.ttl(),
            now,
        };
        Ok(Started { flow, send })
    }

    /// Checks the code of `flow` in this browser and, when it is right and the new
    /// password meets the policy, sets it and ends everything the old one opened.
    pub async fn reset(
        &self,
        flow: &str,
        browser_secret: &str,
        code: &str,
        new_password: Password,
        language: Language,
        now: DateTime<Utc>,
    ) -> Result<Recovered, RecoveryError> {
        let key = pending_key(flow);
        let pending = match self.store.get(&key).await? {
            Some(bytes) => Pending::decode(&bytes),
            None => None,
        };
        let Some(pending) = pending.filter(|p| {
            now.timestamp() < p.expires
                && random::constant_time_eq(
                    p.browser.as_bytes(),
                    browser_digest(browser_secret).as_bytes(),
                )
        }) else {
            return Err(RecoveryError::NoCode);
        };
        let tries = self
            .store
            .increment(
                &format!("recovery-tries:{}", random::sha256_b64(flow)),
                self.ttl(),
            )
            .await?;
        if tries > self.settings.code_attempts {
            self.store.delete(&key).await?;
            return Err(RecoveryError::Exhausted);
        }
        let expected = digest(self.secret, flow, code.trim());
        let right = random::constant_time_eq(expected.as_bytes(), pending.digest.as_bytes());
        // Read whether the code is right or not, so that both take the same time.
        let target = self.store.get(&target_key(flow)).await?;
        let account_id = match (right, target.and_then(|t| String::from_utf8(t).ok())) {
            (true, Some(account_id)) => account_id,
            _ => {
                let left = self.settings.code_attempts - tries;
                if left == 0 {
                    self.store.delete(&key).await?;
                    return Err(RecoveryError::Exhausted);
                }
                return Err(RecoveryError::Wrong { left });
            }
        };
        let Some((_, citizen)) = registry::identity_by_account(self.db, account_id.clone()).await?
        else {
            return Err(RecoveryError::NoCode);
        };
        let context = PolicyContext {
            national_id: Some(citizen.national_id.expose()),
            birth_date: Some(citizen.birth_date),
        };
        // Checked before the code is spent: a refused password leaves it for another try.
        password_policy::check(new_password.expose(), &context).map_err(RecoveryError::Policy)?;
        // Spent atomically: of two posts of the right code, one recovers.
        if self.store.take(&key).await?.is_none() {
            return Err(RecoveryError::NoCode);
        }
        self.store.delete(&target_key(flow)).await?;
        let hash = self.hasher.hash(new_password).await?;
        let at = now.naive_utc();
        let (id, number) = (account_id.clone(), citizen.national_id.clone());
        let revoked = self
            .db
            .run(move |conn| {
                storage::transaction(conn, |conn| {
                    accounts::set_password_hash(conn, &id, &hash, at)?;
                    let mut revoked = Vec::new();
                    for family in refresh_tokens::families_of_account(conn, &id)? {
                        revoked.extend(refresh_tokens::revoke_family(conn, &family, at)?);
                    }
                    let event = audit::Event::new(audit::Kind::Login, RECOVERED, at)
                        .citizen(number)
                        .detail(format!("refresh_tokens_revoked={}", revoked.len()));
                    audit_events::append(conn, &[event.into_row()])?;
                    notify::queue_notice(conn, &id, &Notice::Recovered, language, now)?;
                    Ok::<_, StorageError>(revoked)
                })
            })
            .await?;
        revocation::remember(self.store, &revoked, now).await?;
        let ended = session::end_all(self.store, &account_id, now).await?;
        Ok(Recovered {
            citizen: citizen.national_id,
            ended,
        })
    }
}
