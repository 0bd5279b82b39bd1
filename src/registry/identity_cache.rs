//! What introspection and userinfo read from the register (the account and the
//! citizen's record behind a `sub`), cached by each instance for a moment. Both
//! endpoints are called again and again for the same tokens (a resource server checks
//! every call it receives), and the database trip was most of their cost: a hand-off
//! to the blocking pool and three queries (pairwise subject, account, record).
//!
//! **Off by default** (`database.register_cache_ms = 0`): the CLI (deaths,
//! suspensions, locks, register imports) writes to the database from another process,
//! and without the cache such a change shows in the very next answer. With the cache
//! on, it shows within the configured time instead; the operator trades that for
//! throughput.
//!
//! Invariants, when on:
//! - a change made through this instance (an officer's level change through the admin
//!   API, the lock after too many failed logins) empties the cache at once
//!   ([`IdentityCache::clear`]);
//! - a change made elsewhere (the CLI: a death, a suspension, a lock, a register
//!   import; or another instance) is seen within the configured time: an entry older
//!   than that is read again. Until then introspection and userinfo may still answer for a citizen
//!   who was just recorded deceased or whose account was just suspended;
//! - only these two endpoints use it. Logins, the SSO path (with its cap of a live
//!   session at the account's current level), token exchanges and refreshes read the
//!   register every time; revocation and consent withdrawal never go through it (the
//!   revocation list is checked on every request);
//! - unknown subjects are not cached, so made-up tokens cannot fill it (they need a
//!   valid signature anyway), and it holds at most [`MAX_ENTRIES`] identities.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::cache::TtlCache;
use crate::domain::citizen::Citizen;
use crate::storage::accounts::Account;
use crate::storage::{Db, StorageError};

/// About 1 KB each: at most about 10 MB.
pub const MAX_ENTRIES: usize = 10_000;

pub type Identity = Arc<(Account, Citizen)>;

pub struct IdentityCache {
    /// How long a cached identity is trusted; zero: nothing is cached.
    ttl: Duration,
    entries: TtlCache<String, Identity>,
}

impl IdentityCache {
    pub fn new(ttl_ms: u64) -> Self {
        IdentityCache {
            ttl: Duration::milliseconds(i64::try_from(ttl_ms).unwrap_or(i64::MAX / 1_000_000)),
            entries: TtlCache::new(MAX_ENTRIES),
        }
    }

    /// The account and record behind `subject` (as a client knows it), from the cache
    /// if read less than the configured time before `now`, else from the database.
    pub async fn by_subject(
        &self,
        db: &Db,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Identity>, StorageError> {
        if self.ttl <= Duration::zero() {
            return Ok(super::identity_by_subject(db, subject.to_owned())
                .await?
                .map(Arc::new));
        }
        if let Some(identity) = self.entries.get(subject, now) {
            return Ok(Some(identity));
        }
        let Some(found) = super::identity_by_subject(db, subject.to_owned()).await? else {
            self.entries.remove(subject);
            return Ok(None);
        };
        let identity = Arc::new(found);
        self.entries.insert(
            subject.to_owned(),
            Arc::clone(&identity),
            now,
            now + self.ttl,
        );
        Ok(Some(identity))
    }

    /// Forgets everything, after this instance changed an account or a record.
    pub fn clear(&self) {
        self.entries.clear();
    }
}
