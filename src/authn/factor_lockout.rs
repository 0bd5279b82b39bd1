//! Second-factor lockout: an account's *consecutive* wrong second factors (TOTP codes,
//! recovery codes, passkey answers), so that a guesser who knows the password cannot
//! try codes forever one login after another.
//!
//! - The count is per account, kept in the store (every instance sees it at once) and
//!   in the database (`second_factor_failures`), read as the larger of the two and
//!   written to both: neither a right password, a new login flow, a restart nor a lost
//!   Redis forgets it. Only an accepted second factor does ([`FactorLockout::record_success`]).
//! - From `second_factor_delay_after_failures` on, each further answer waits, with the
//!   password's progressive waits (`throttle::progressive_wait`); during a wait even
//!   the right code is refused unchecked.
//! - When the count reaches `lock_account_after_failures` (and each further multiple of
//!   it, so that an officer's unlock is not undone by the next typo) the caller locks
//!   the account.
//! - An answer is counted before it is checked, with the password's [`Turns`]: of
//!   several answers sent at once only the budget is checked, the rest are refused.
//!
//! Reads take the store, then the database; writes go to the database, then the store.
//! So a reader that sees a new count anywhere also sees the wait it started.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::throttle::{Turns, progressive_wait};
use crate::config::LoginProtectionSettings;
use crate::domain::citizen::AccountStatus;
use crate::storage::{Db, StorageError, accounts, second_factor_failures};
use crate::store::{Store, StoreError};

/// How long the store keeps its copy of a count; the database keeps it for good.
const STORE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum LockoutError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Whether a second factor may be checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Counted: check it, then report the verdict.
    Granted,
    /// Refused unchecked; the citizen may try again after this long.
    Wait { retry_after_secs: u64 },
}

/// What a wrong second factor led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Consecutive wrong second factors now.
    pub failures: u64,
    /// The next answer must wait this long (0: none).
    pub wait_secs: u64,
    /// The count reached the cap: lock the account.
    pub lock_account: bool,
}

/// A count as stored: `{failures}:{unix millis of the last}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Count {
    failures: u64,
    at_millis: i64,
}

impl Count {
    fn encode(self) -> Vec<u8> {
        format!("{}:{}", self.failures, self.at_millis).into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let (failures, at) = text.split_once(':')?;
        Some(Count {
            failures: failures.parse().ok()?,
            at_millis: at.parse().ok()?,
        })
    }

    /// The wait this failure started: one turn, named by the failure itself.
    fn phase(self) -> String {
        format!("{}:{}", self.failures, self.at_millis)
    }
}

/// The second-factor lockout of one server.
pub struct FactorLockout<'a> {
    store: &'a dyn Store,
    db: &'a Db,
    settings: &'a LoginProtectionSettings,
}

impl<'a> FactorLockout<'a> {
    pub fn new(store: &'a dyn Store, db: &'a Db, settings: &'a LoginProtectionSettings) -> Self {
        FactorLockout {
            store,
            db,
            settings,
        }
    }

    fn turns(&self, account_id: &str) -> Turns<'a> {
        Turns::new(self.store, crate::store::keys::factor_turns(account_id))
    }

    fn wait_after(&self, failures: u64) -> u64 {
        let s = self.settings;
        progressive_wait(failures, s.second_factor_delay_after_failures, s)
    }

    /// The account's count: the larger of the store's and the database's.
    async fn count(&self, account_id: &str) -> Result<Option<Count>, LockoutError> {
        let stored = self
            .store
            .get(&crate::store::keys::factor_failures(account_id))
            .await?
            .and_then(|bytes| Count::decode(&bytes));
        let id = account_id.to_owned();
        let durable = self
            .db
            .run(move |conn| second_factor_failures::find(conn, &id))
            .await?
            .map(|row| Count {
                failures: row.failures,
                at_millis: row.last_failure_at.and_utc().timestamp_millis(),
            });
        Ok(stored.max(durable))
    }

    /// Counts one answer for `account_id` before it is checked.
    pub async fn claim(&self, account_id: &str, now: DateTime<Utc>) -> Result<Claim, LockoutError> {
        let s = self.settings;
        let count = self.count(account_id).await?;
        if let Some(count) = count {
            let wait_millis = i64::try_from(self.wait_after(count.failures))
                .unwrap_or(i64::MAX)
                .saturating_mul(1000);
            let left = count
                .at_millis
                .saturating_add(wait_millis)
                .saturating_sub(now.timestamp_millis());
            if left > 0 {
                let secs = u64::try_from(left).unwrap_or(0).div_ceil(1000);
                return Ok(Claim::Wait {
                    retry_after_secs: secs,
                });
            }
        }
        let delay_from = s.second_factor_delay_after_failures;
        let failures = count.map_or(0, |c| c.failures);
        let phase = count.filter(|c| c.failures >= delay_from).map(Count::phase);
        // As for passwords, the free turns' window is the lockout.
        let free_window = Duration::from_secs(s.lockout_secs);
        if self
            .turns(account_id)
            .claim(phase.as_deref(), delay_from, free_window)
            .await?
        {
            return Ok(Claim::Granted);
        }
        // Other answers hold every turn: if they are wrong, this is the wait they start.
        let next = self.wait_after(failures.saturating_add(1).max(delay_from));
        Ok(Claim::Wait {
            retry_after_secs: next.max(1),
        })
    }

    /// Counts a wrong second factor: in the database (atomically), then in the store.
    pub async fn record_failure(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Failure, LockoutError> {
        let s = self.settings;
        // Milliseconds, as both copies keep it, so that both name the same phase.
        let at_millis = now.timestamp_millis();
        let at = DateTime::from_timestamp_millis(at_millis)
            .unwrap_or(now)
            .naive_utc();
        let key = crate::store::keys::factor_failures(account_id);
        // If the store knew of more (the database was restored), the count goes on from there.
        let stored = self
            .store
            .get(&key)
            .await?
            .and_then(|bytes| Count::decode(&bytes));
        let at_least = stored.map_or(0, |c| c.failures.saturating_add(1));
        let id = account_id.to_owned();
        let durable = self
            .db
            .run(move |conn| second_factor_failures::increment(conn, &id, at, at_least))
            .await?;
        let count = Count {
            failures: durable.failures,
            at_millis,
        };
        self.store.put(&key, count.encode(), STORE_TTL).await?;
        let cap = s.lock_account_after_failures.max(1);
        Ok(Failure {
            failures: count.failures,
            wait_secs: self.wait_after(count.failures),
            lock_account: count.failures >= cap && count.failures.is_multiple_of(cap),
        })
    }

    /// An accepted second factor: the count starts again, in both places.
    pub async fn record_success(&self, account_id: &str) -> Result<(), LockoutError> {
        let id = account_id.to_owned();
        self.db
            .run(move |conn| second_factor_failures::clear(conn, &id))
            .await?;
        self.store
            .delete(&crate::store::keys::factor_failures(account_id))
            .await?;
        Ok(self.turns(account_id).reset().await?)
    }

    /// Locks the account (status `locked`, until an officer unlocks it); whether this
    /// changed it.
    pub async fn lock_account(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, LockoutError> {
        let id = account_id.to_owned();
        let at = now.naive_utc();
        Ok(self
            .db
            .run(move |conn| {
                let Some(account) = accounts::find(conn, &id)? else {
                    return Ok::<_, StorageError>(false);
                };
                if account.status == AccountStatus::Locked {
                    return Ok(false);
                }
                crate::storage::transaction(conn, |conn| {
                    if !accounts::set_status(conn, &account.national_id, AccountStatus::Locked, at)?
                    {
                        return Ok(false);
                    }
                    let notice = crate::notify::Notice::Locked;
                    let language = crate::notify::Language::Vi;
                    crate::notify::queue_notice(conn, &account.id, &notice, language, now)?;
                    Ok(true)
                })
            })
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_reads_back_as_written_and_the_larger_wins() {
        let count = Count {
            failures: 12,
            at_millis: 1_800_000_000_123,
        };
        assert_eq!(Count::decode(&count.encode()), Some(count));
        assert_eq!(Count::decode(b"12"), None);
        assert_eq!(Count::decode(b"x:1"), None);
        let older = Count {
            failures: 11,
            at_millis: 1_900_000_000_000,
        };
        assert_eq!(Some(older).max(Some(count)), Some(count));
        assert_eq!(None.max(Some(older)), Some(older));
    }
}
