//! Login protection: progressive delays, temporary lockouts and, at NIST SP 800-63B's
//! cap of 100 consecutive failures, a locked account.
//!
//! Everything lives in the [`Store`], so with Redis every instance sees the same
//! counts. Failures are counted per *submitted number string*, whether or not it has
//! an account, so a refusal never tells which numbers exist; and per client IP (an
//! IPv6 client per /64, the block one subscriber is usually given), so one address
//! cannot walk through many numbers. A refusal is decided before the password is
//! checked: while a number waits, even its right password is refused.
//!
//! **No races.** An attempt is counted *before* Argon2 runs, by an atomic increment
//! ([`Throttle::claim`]): checking the wait, hashing, then recording the failure would
//! let N parallel guesses all pass the check. A number has [`Turns`]: up to
//! `delay_after_failures` free ones, then one per wait, each wait named by the failure
//! that started it (a random phase id in the recorded wait). Of several parallel
//! attempts only the ones within the budget get a turn; the rest are refused at once
//! and count nowhere, so a burst cannot push a number towards its lock either.
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

/// How long a turn is held by an attempt that never reports back (its client went
/// away, or the process died between the claim and the verdict) before the turn is
/// given again. An Argon2 check takes well under a second.
pub(crate) const TURN_TTL: Duration = Duration::from_secs(60);

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused without checking the password; the citizen may retry after this long.
    Wait {
        retry_after_secs: u64,
    },
}

impl Verdict {
    fn after(wait_secs: u64) -> Self {
        match wait_secs {
            0 => Verdict::Allowed,
            secs => Verdict::Wait {
                retry_after_secs: secs,
            },
        }
    }
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

/// The unit a client address is counted in: an IPv4 address, or an IPv6 /64 (RFC 6177:
/// one subscriber gets at least a /64, so counting single IPv6 addresses would give
/// each client 2^64 budgets). An IPv4-mapped IPv6 address counts as its IPv4 address.
pub fn client_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The wait after `failures` consecutive failures when waits start at `from`: none
/// before, then `first_delay_secs` doubling with each further failure, up to
/// `lockout_secs`. The second factor's waits (`authn::factor_lockout`) are these.
pub fn progressive_wait(failures: u64, from: u64, settings: &LoginProtectionSettings) -> u64 {
    if failures < from {
        return 0;
    }
    let doublings = u32::try_from(failures - from).unwrap_or(u32::MAX);
    settings
        .first_delay_secs
        .saturating_mul(2u64.saturating_pow(doublings))
        .min(settings.lockout_secs)
}

/// The atomic half of a throttle: who may try now. `free` turns are shared by every
/// attempt in a window (refilled when the window ends, or by [`Turns::reset`] after a
/// success); once waits have started, each wait (a *phase*, named by the failure that
/// started it) opens exactly one turn. A turn is taken by an increment, so of several
/// parallel attempts exactly the budget gets through.
pub(crate) struct Turns<'a> {
    store: &'a dyn Store,
    /// The key the turns live under (`store::keys::login_turns`, `factor_turns`).
    base: String,
}

impl<'a> Turns<'a> {
    pub(crate) fn new(store: &'a dyn Store, base: String) -> Self {
        Turns { store, base }
    }

    /// Takes a turn: one of `free` in the window (`phase` None), or the single turn of
    /// `phase`. `false`: none is left (other attempts hold them).
    pub(crate) async fn claim(
        &self,
        phase: Option<&str>,
        free: u64,
        free_window: Duration,
    ) -> Result<bool, StoreError> {
        Ok(match phase {
            None => {
                self.store
                    .increment(&format!("{}:free", self.base), free_window)
                    .await?
                    <= free
            }
            Some(phase) => {
                self.store
                    .increment(&format!("{}:phase:{phase}", self.base), TURN_TTL)
                    .await?
                    <= 1
            }
        })
    }

    /// After a success: the free turns are whole again. (Phase turns need no reset: a
    /// new failure names a new phase.)
    pub(crate) async fn reset(&self) -> Result<(), StoreError> {
        self.store.delete(&format!("{}:free", self.base)).await
    }
}

/// The last wait a number earned, as stored: `{deadline}:{failures}:{phase id}`.
struct RecordedWait {
    deadline: i64,
    /// The whole stored value: unique to the failure that wrote it.
    phase: String,
}

impl RecordedWait {
    fn encode(deadline: i64, failures: u64) -> Vec<u8> {
        // The random part keeps two generations of failures (before and after a
        // success) from ever naming the same phase.
        format!("{deadline}:{failures}:{}", &random::token()[..16]).into_bytes()
    }

    /// Values written before phases existed hold the deadline alone; they still wait.
    fn decode(bytes: Vec<u8>) -> Option<Self> {
        let text = String::from_utf8(bytes).ok()?;
        let deadline = text.split(':').next()?.parse::<i64>().ok()?;
        Some(RecordedWait {
            deadline,
            phase: text,
        })
    }

    fn left(&self, now: DateTime<Utc>) -> u64 {
        let left = self.deadline.saturating_sub(now.timestamp());
        u64::try_from(left).unwrap_or(0)
    }
}

impl<'a> Throttle<'a> {
    pub fn new(store: &'a dyn Store, settings: &'a LoginProtectionSettings) -> Self {
        Throttle { store, settings }
    }

    /// Whether `unverified_number` from `ip` must wait now. Reads only: a quick
    /// refusal before anything costly; [`Throttle::claim`] is what counts.
    pub async fn check(
        &self,
        unverified_number: &str,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError> {
        let recorded = self.recorded_wait(unverified_number).await?;
        Ok(Verdict::after(
            self.wait_now(recorded.as_ref(), ip, now).await?,
        ))
    }

    /// Counts one attempt for `unverified_number` from `ip`, atomically, before its
    /// password is checked: `Allowed` means it holds a turn, and must end in
    /// [`Throttle::record_failure`] or [`Throttle::record_success`] (a turn left
    /// unanswered comes back after [`TURN_TTL`] at most, or with the free window).
    pub async fn claim(
        &self,
        unverified_number: &str,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError> {
        let s = self.settings;
        let recorded = self.recorded_wait(unverified_number).await?;
        let wait = self.wait_now(recorded.as_ref(), ip, now).await?;
        if wait > 0 {
            return Ok(Verdict::after(wait));
        }
        let turns = Turns::new(
            self.store,
            crate::store::keys::login_turns(unverified_number),
        );
        // The free turns' window is the lockout: a turn whose attempt vanished comes
        // back at the latest when a lockout would have ended, and waiting out a window
        // to get free turns again costs a guesser more than the waits it would skip.
        let free_window = Duration::from_secs(s.lockout_secs);
        let phase = recorded.as_ref().map(|r| r.phase.as_str());
        if turns
            .claim(phase, s.delay_after_failures, free_window)
            .await?
        {
            return Ok(Verdict::Allowed);
        }
        // Other attempts hold every turn: if they fail, they start at least this wait.
        Ok(Verdict::after(s.first_delay_secs.max(1)))
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
            .increment(
                &crate::store::keys::login_throttle_by_number("failures", unverified_number),
                memory,
            )
            .await?;
        let mut wait = self.delay_after(failures);
        let until_key = crate::store::keys::login_throttle_by_number("until", unverified_number);
        if wait > 0 {
            let deadline = now.timestamp().saturating_add_unsigned(wait);
            // Kept as long as the failures are: it names the phase whose single turn
            // the next attempt takes, and without it the free turns would be offered.
            let ttl = memory.max(Duration::from_secs(wait.saturating_add(60)));
            self.store
                .put(&until_key, RecordedWait::encode(deadline, failures), ttl)
                .await?;
        } else if failures == 1 {
            // A new window of failures (the last one's memory ran out): a wait recorded
            // in the old one is over (this attempt got a turn) and names a stale phase.
            self.store.delete(&until_key).await?;
        }
        if let Some(ip) = ip
            && s.ip_failures_per_hour > 0
        {
            let ip_failures = self
                .store
                .increment(
                    &crate::store::keys::login_throttle_by_network(
                        "ip-failures",
                        &client_bucket(ip),
                    ),
                    IP_WINDOW,
                )
                .await?;
            if ip_failures >= s.ip_failures_per_hour {
                let ip_wait = IP_WINDOW.as_secs();
                self.wait_from(
                    &crate::store::keys::login_throttle_by_network("ip-until", &client_bucket(ip)),
                    now,
                    ip_wait,
                )
                .await?;
                wait = wait.max(ip_wait);
            }
        }
        Ok(Failure {
            wait: Verdict::after(wait),
            lock_account: failures >= s.lock_account_after_failures,
        })
    }

    /// A right password: the number's consecutive count starts again.
    pub async fn record_success(&self, unverified_number: &str) -> Result<(), StoreError> {
        self.store
            .delete(&crate::store::keys::login_throttle_by_number(
                "failures",
                unverified_number,
            ))
            .await?;
        self.store
            .delete(&crate::store::keys::login_throttle_by_number(
                "until",
                unverified_number,
            ))
            .await?;
        Turns::new(
            self.store,
            crate::store::keys::login_turns(unverified_number),
        )
        .reset()
        .await
    }

    /// The wait earned by `failures` consecutive failures: none, then a delay that
    /// doubles from `first_delay_secs`, then the lockout.
    fn delay_after(&self, failures: u64) -> u64 {
        let s = self.settings;
        if failures >= s.lockout_after_failures {
            s.lockout_secs
        } else {
            progressive_wait(failures, s.delay_after_failures, s)
        }
    }

    async fn recorded_wait(
        &self,
        unverified_number: &str,
    ) -> Result<Option<RecordedWait>, StoreError> {
        Ok(self
            .store
            .get(&crate::store::keys::login_throttle_by_number(
                "until",
                unverified_number,
            ))
            .await?
            .and_then(RecordedWait::decode))
    }

    /// Seconds left of the number's wait and of the IP's, whichever is longer.
    async fn wait_now(
        &self,
        recorded: Option<&RecordedWait>,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut wait = recorded.map_or(0, |r| r.left(now));
        if let Some(ip) = ip {
            wait = wait.max(
                self.wait_until(
                    &crate::store::keys::login_throttle_by_network("ip-until", &client_bucket(ip)),
                    now,
                )
                .await?,
            );
        }
        Ok(wait)
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
            second_factor_delay_after_failures: 10,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn delays_double_from_the_fifth_failure_and_cap_at_the_lockout() {
        let settings = settings();
        let store = MemoryStore::new();
        let throttle = Throttle::new(&store, &settings);
        let delays: Vec<u64> = (1..=12).map(|n| throttle.delay_after(n)).collect();
        assert_eq!(delays, [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900]);
        let second_factor: Vec<u64> = (9..=16)
            .map(|n| progressive_wait(n, 10, &settings))
            .collect();
        assert_eq!(second_factor, [0, 30, 60, 120, 240, 480, 900, 900]);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_ipv4_per_address() {
        let bucket = |ip: &str| client_bucket(ip.parse().unwrap());
        assert_eq!(bucket("203.0.113.7"), "203.0.113.7");
        assert_ne!(bucket("203.0.113.7"), bucket("203.0.113.8"));
        assert_eq!(bucket("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(
            bucket("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            bucket("2001:db8:1:2::1")
        );
        assert_ne!(bucket("2001:db8:1:3::1"), bucket("2001:db8:1:2::1"));
        assert_eq!(bucket("::ffff:203.0.113.7"), "203.0.113.7");
    }

    #[tokio::test]
    async fn parallel_attempts_get_only_the_free_turns_and_then_one_per_wait() {
        let settings = settings();
        let store = MemoryStore::new();
        let throttle = Throttle::new(&store, &settings);
        let number = "001090000042";
        // Twenty attempts in flight at once: all claim before any is answered.
        let mut claims = Vec::new();
        for _ in 0..20 {
            claims.push(throttle.claim(number, None, now()).await);
        }
        let allowed = claims
            .iter()
            .filter(|c| matches!(c, Ok(Verdict::Allowed)))
            .count();
        assert_eq!(allowed, 5, "{claims:?}");
        // The refused ones counted nowhere: the five allowed ones fail, and the fifth
        // failure starts the first wait, not a lockout.
        let mut last = None;
        for _ in 0..allowed {
            last = Some(throttle.record_failure(number, None, now()).await.unwrap());
        }
        assert_eq!(
            last.unwrap().wait,
            Verdict::Wait {
                retry_after_secs: 30
            }
        );
        // After the wait, one turn for the whole burst.
        let later = now() + chrono::Duration::seconds(30);
        let mut claims = Vec::new();
        for _ in 0..20 {
            claims.push(throttle.claim(number, None, later).await);
        }
        let allowed = claims
            .iter()
            .filter(|c| matches!(c, Ok(Verdict::Allowed)))
            .count();
        assert_eq!(allowed, 1, "{claims:?}");
        // A success gives the free turns back.
        throttle.record_success(number).await.unwrap();
        for _ in 0..5 {
            assert_eq!(
                throttle.claim(number, None, later).await.unwrap(),
                Verdict::Allowed
            );
        }
    }
}
