//! Login protection: progressive delays, temporary lockouts and, at NIST SP 800-63B's
//! cap of 100 consecutive failures, a locked account.
//!
//! Everything lives in the [`Store`], so with Redis every instance sees the same
//! counts. Failures are counted per *submitted number string*, whether or not it has
//! an account, so a refusal never tells which numbers exist; and per client IP, so
//! one address cannot walk through many numbers. A refusal is decided before the
//! password is checked: while a number waits, even its right password is refused.
//!
//! Keys hold a SHA-256 of the number, never the number itself.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::LoginProtectionSettings;
use crate::store::{Store, StoreError};
use crate::tokens::random;

/// Failed logins per IP are counted over windows of this length.
const IP_WINDOW: Duration = Duration::from_secs(3600);

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused without checking the password; the citizen may retry after this long.
    Wait {
        retry_after_secs: u64,
    },
}

/// What a failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// The next attempt must wait this long, if at all.
    pub wait: Verdict,
    /// The number reached the cap: lock its account, if it has one.
    pub lock_account: bool,
}

/// The login protection of one server, over its store.
pub struct Throttle<'a> {
    store: &'a dyn Store,
    settings: &'a LoginProtectionSettings,
}

fn number_key(kind: &str, unverified_number: &str) -> String {
    format!(
        "throttle:{kind}:{}",
        random::sha256_b64(unverified_number.trim())
    )
}

fn ip_key(kind: &str, ip: IpAddr) -> String {
    format!("throttle:{kind}:{ip}")
}

impl<'a> Throttle<'a> {
    pub fn new(store: &'a dyn Store, settings: &'a LoginProtectionSettings) -> Self {
        Throttle { store, settings }
    }

    /// Whether a login for `unverified_number` from `ip` may be tried now.
    pub async fn check(
        &self,
        unverified_number: &str,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError> {
        let mut wait = self
            .wait_until(&number_key("until", unverified_number), now)
            .await?;
        if let Some(ip) = ip {
            wait = wait.max(self.wait_until(&ip_key("ip-until", ip), now).await?);
        }
        Ok(match wait {
            0 => Verdict::Allowed,
            secs => Verdict::Wait {
                retry_after_secs: secs,
            },
        })
    }

    /// Counts a wrong password (or an unknown number) and starts the wait it earns.
    pub async fn record_failure(
        &self,
        unverified_number: &str,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<Failure, StoreError> {
        let s = self.settings;
        let memory = Duration::from_secs(s.failure_memory_secs);
        let failures = self
            .store
            .increment(&number_key("failures", unverified_number), memory)
            .await?;
        let mut wait = self.delay_after(failures);
        if wait > 0 {
            self.wait_from(&number_key("until", unverified_number), now, wait)
                .await?;
        }
        if let Some(ip) = ip
            && s.ip_failures_per_hour > 0
        {
            let ip_failures = self
                .store
                .increment(&ip_key("ip-failures", ip), IP_WINDOW)
                .await?;
            if ip_failures >= s.ip_failures_per_hour {
                let ip_wait = IP_WINDOW.as_secs();
                self.wait_from(&ip_key("ip-until", ip), now, ip_wait)
                    .await?;
                wait = wait.max(ip_wait);
            }
        }
        Ok(Failure {
            wait: match wait {
                0 => Verdict::Allowed,
                secs => Verdict::Wait {
                    retry_after_secs: secs,
                },
            },
            lock_account: failures >= s.lock_account_after_failures,
        })
    }

    /// A right password: the number's consecutive count starts again.
    pub async fn record_success(&self, unverified_number: &str) -> Result<(), StoreError> {
        self.store
            .delete(&number_key("failures", unverified_number))
            .await?;
        self.store
            .delete(&number_key("until", unverified_number))
            .await
    }

    /// The wait earned by `failures` consecutive failures: none, then a delay that
    /// doubles from `first_delay_secs`, then the lockout.
    fn delay_after(&self, failures: u64) -> u64 {
        let s = self.settings;
        if failures >= s.lockout_after_failures {
            s.lockout_secs
        } else if failures >= s.delay_after_failures {
            let doublings = u32::try_from(failures - s.delay_after_failures).unwrap_or(u32::MAX);
            s.first_delay_secs
                .saturating_mul(2u64.saturating_pow(doublings))
                .min(s.lockout_secs)
        } else {
            0
        }
    }

    /// Seconds left before the wait recorded at `key` ends (0 if none).
    async fn wait_until(&self, key: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let until = self
            .store
            .get(key)
            .await?
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.parse::<i64>().ok());
        Ok(until
            .map(|until| until - now.timestamp())
            .filter(|left| *left > 0)
            .map_or(0, |left| left.unsigned_abs()))
    }

    async fn wait_from(&self, key: &str, now: DateTime<Utc>, secs: u64) -> Result<(), StoreError> {
        let until = now.timestamp().saturating_add_unsigned(secs);
        // The store's own expiry only tidies up; the deadline in the value decides.
        let ttl = Duration::from_secs(secs.saturating_add(60));
        self.store
            .put(key, until.to_string().into_bytes(), ttl)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn settings() -> LoginProtectionSettings {
        LoginProtectionSettings {
            delay_after_failures: 5,
            first_delay_secs: 30,
            lockout_after_failures: 10,
            lockout_secs: 900,
            lock_account_after_failures: 100,
            failure_memory_secs: 86400,
            ip_failures_per_hour: 0,
            enrol_attempts_per_hour: 0,
        }
    }

    #[test]
    fn delays_double_from_the_fifth_failure_and_cap_at_the_lockout() {
        let settings = settings();
        let store = MemoryStore::new();
        let throttle = Throttle::new(&store, &settings);
        let delays: Vec<u64> = (1..=12).map(|n| throttle.delay_after(n)).collect();
        assert_eq!(delays, [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900]);
    }
}
