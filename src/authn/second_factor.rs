//! Whether a login must also present a second factor, what level it then reaches,
//! and checking a presented TOTP or recovery code (passkeys: `authn::passkey`).
//!
//! The rules, in one place (`domain::interaction::factor_verdict`, which the login
//! state machine applies):
//! - an account with a second factor enrolled presents it at every login, whatever its
//!   level: a factor the citizen chose to add must protect them;
//! - level 2 (`urn:citizen-idp:loa:2`) is reached only by a level-2 account (verified
//!   in person by an officer) that presented a second factor. A level-2 account with
//!   no factor enrolled logs in at level 1 until the citizen adds one;
//! - a client's demand for a level (`acr_values`, essential `acr` claim) makes a
//!   session that falls short step up with the second factor, or fails with
//!   `unmet_authentication_requirements` when the account cannot reach that level.
//!
//! Changing the authenticators themselves ([`reauthentication`]: binding an app or a
//! passkey, removing one, renewing the recovery codes) needs a login of the last few
//! minutes that presented the account's second factor, if it has one (NIST SP 800-63B
//! §6.1.2.1): otherwise an unattended password-only session could add its own factor
//! and step itself up with it.

use chrono::{DateTime, Utc};

use super::AuthnContext;
use super::recovery_codes::{self, RecoveryCode};
use super::totp::{self, SecretSealer, TotpError, TotpSecret};
use crate::domain::acr::{Amr, AssuranceLevel};
use crate::server_secret::ServerSecret;
use crate::storage::second_factors::{self, FactorRow, KIND_TOTP};
use crate::storage::{
    self, DbConnection, StorageError, passkeys as stored_passkeys, recovery_codes as stored_codes,
};

#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Totp(#[from] TotpError),
}

/// Whether a session may change the account's authenticators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reauthentication {
    /// A login recent enough, with the account's second factor if it has one.
    Fresh,
    /// The login is older than the limit.
    TooOld,
    /// The account has a second factor, and the session's login did not present it
    /// (it was made before the factor was added).
    FactorNotPresented,
}

impl Reauthentication {
    pub fn as_str(self) -> &'static str {
        match self {
            Reauthentication::Fresh => "fresh",
            Reauthentication::TooOld => "too_old",
            Reauthentication::FactorNotPresented => "factor_not_presented",
        }
    }
}

/// The rule for binding or removing an authenticator and renewing the recovery codes
/// (NIST SP 800-63B §6.1.2.1), without I/O: the session's login (`auth_time`, `amr`)
/// is at most `max_age_secs` old at `now` (seconds since the epoch), and presented a
/// second factor when the account `has_factor`. A login time in the future (a clock
/// step back) counts as fresh: it cannot be older than the limit.
pub fn reauthentication(
    auth_time: i64,
    amr: &Amr,
    has_factor: bool,
    now: i64,
    max_age_secs: u64,
) -> Reauthentication {
    let max_age = i64::try_from(max_age_secs).unwrap_or(i64::MAX);
    if now.saturating_sub(auth_time) > max_age {
        Reauthentication::TooOld
    } else if has_factor && !amr.has_second_factor() {
        Reauthentication::FactorNotPresented
    } else {
        Reauthentication::Fresh
    }
}

/// Whether the account has a second factor that its logins must present (see
/// [`has_factor_in`]).
pub async fn has_factor(cx: &AuthnContext<'_>, account_id: &str) -> Result<bool, FactorError> {
    let id = account_id.to_owned();
    let passkeys_on = cx.passkeys.is_some();
    Ok(cx
        .db
        .run(move |conn| has_factor_in(conn, &id, passkeys_on))
        .await?)
}

/// The one rule for "has a second factor", shared by the login and the binding pages:
/// an authenticator app, or a passkey where passkeys can be presented (not on an
/// IP-address issuer, where browsers refuse them), so that no login is asked for a
/// factor it cannot present.
pub fn has_factor_in(
    conn: &mut DbConnection,
    account_id: &str,
    passkeys_on: bool,
) -> Result<bool, StorageError> {
    Ok(!second_factors::for_account(conn, account_id)?.is_empty()
        || (passkeys_on && stored_passkeys::any(conn, account_id)?))
}

/// The level the methods in `amr` prove for an account of `account_level`.
pub fn achieved_level(account_level: AssuranceLevel, amr: &Amr) -> AssuranceLevel {
    if account_level == AssuranceLevel::Level2 && amr.has_second_factor() {
        AssuranceLevel::Level2
    } else {
        AssuranceLevel::Level1
    }
}

/// The answer to a presented code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// Not a code of this account (or malformed).
    Wrong,
    /// A correct code whose time step (TOTP) or single use (recovery) is spent.
    Replayed,
    /// The account's TOTP factor cannot be opened (its secret was sealed under another
    /// server secret, or the row is damaged): no code can match it, so the citizen is
    /// refused as for a wrong code and can still use a recovery code.
    Unusable,
}

/// Checks a TOTP code of the account's factor, and spends its time step.
pub async fn verify_totp(
    cx: &AuthnContext<'_>,
    account_id: &str,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Verdict, FactorError> {
    let id = account_id.to_owned();
    let factors = cx
        .db
        .run(move |conn| second_factors::for_account(conn, &id))
        .await?;
    let Some(factor) = factors.into_iter().find(|f| f.kind == KIND_TOTP) else {
        return Ok(Verdict::Wrong);
    };
    let Ok(secret) = SecretSealer::new(cx.secret)?.open(&factor.id, &factor.sealed_secret) else {
        // An operator problem, not the citizen's: say so once per attempt, without the
        // account, so that a rotated server secret is noticed before citizens call.
        tracing::warn!(
            target: "security",
            "a TOTP factor cannot be opened under the current server secret"
        );
        return Ok(Verdict::Unusable);
    };
    let Some(step) = totp::matching_step(&secret, code, now) else {
        return Ok(Verdict::Wrong);
    };
    let first_use = cx
        .db
        .run(move |conn| second_factors::use_step(conn, &factor.id, step))
        .await?;
    Ok(if first_use {
        Verdict::Accepted
    } else {
        Verdict::Replayed
    })
}

/// Checks and spends a recovery code of the account.
pub async fn verify_recovery_code(
    cx: &AuthnContext<'_>,
    account_id: &str,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Verdict, FactorError> {
    let Some(digest) = recovery_codes::digest(code) else {
        return Ok(Verdict::Wrong);
    };
    let id = account_id.to_owned();
    let at = now.naive_utc();
    let verdict = cx
        .db
        .run(move |conn| {
            let unused = stored_codes::unused(conn, &id)?;
            let Some(stored) = recovery_codes::find_match(&digest, &unused) else {
                return Ok::<_, StorageError>(Verdict::Wrong);
            };
            Ok(if stored_codes::use_code(conn, &id, stored, at)? {
                Verdict::Accepted
            } else {
                Verdict::Replayed
            })
        })
        .await?;
    Ok(verdict)
}

/// The outcome of confirming a TOTP enrolment with a first code.
#[derive(Debug)]
pub enum Enrolment {
    /// Saved. With the account's first second factor come its recovery codes, to show
    /// once; a later factor keeps the set the citizen already has (`None`).
    Done(Option<Vec<RecoveryCode>>),
    WrongCode,
    AlreadyEnrolled,
}

/// Saves `secret` as the account's TOTP factor if `code` is one of its codes, with
/// that code's step already spent (it cannot be replayed at the next login), and, when
/// it is the account's first second factor, issues its recovery codes, in one
/// transaction. Existing codes are never replaced here: only [`renew_recovery_codes`]
/// does that, so that whoever adds a factor cannot take the citizen's codes.
pub async fn enrol_totp(
    cx: &AuthnContext<'_>,
    account_id: &str,
    secret: &TotpSecret,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Enrolment, FactorError> {
    let Some(step) = totp::matching_step(secret, code, now) else {
        return Ok(Enrolment::WrongCode);
    };
    let factor_id = uuid::Uuid::new_v4().to_string();
    let row = FactorRow {
        sealed_secret: SecretSealer::new(cx.secret)?.seal(&factor_id, secret)?,
        id: factor_id,
        account_id: account_id.to_owned(),
        kind: KIND_TOTP.to_owned(),
        last_used_step: Some(step),
        created_at: now.naive_utc(),
    };
    let codes = recovery_codes::generate().ok_or(TotpError::Random)?;
    let digests: Vec<String> = codes
        .iter()
        .filter_map(|c| recovery_codes::digest(c.expose()))
        .collect();
    let id = account_id.to_owned();
    let at = now.naive_utc();
    let saved = cx
        .db
        .run(move |conn| {
            storage::transaction(conn, |conn| {
                let first = !stored_codes::account_has_factor(conn, &id)?;
                if !second_factors::insert(conn, &row)? {
                    return Ok::<_, StorageError>(None);
                }
                if first {
                    stored_codes::replace(conn, &id, &digests, at)?;
                }
                Ok(Some(first))
            })
        })
        .await?;
    Ok(match saved {
        None => Enrolment::AlreadyEnrolled,
        Some(first) => Enrolment::Done(first.then_some(codes)),
    })
}

/// Replaces the account's recovery codes with a new set, to show once: the citizen's
/// explicit "new codes" action (the caller has checked [`reauthentication`]). `None`
/// when the account has no second factor (codes stand in for one, so there is nothing
/// to renew).
pub async fn renew_recovery_codes(
    cx: &AuthnContext<'_>,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Vec<RecoveryCode>>, FactorError> {
    let codes = recovery_codes::generate().ok_or(TotpError::Random)?;
    let digests: Vec<String> = codes
        .iter()
        .filter_map(|c| recovery_codes::digest(c.expose()))
        .collect();
    let (id, at) = (account_id.to_owned(), now.naive_utc());
    let renewed = cx
        .db
        .run(move |conn| {
            storage::transaction(conn, |conn| {
                if !stored_codes::account_has_factor(conn, &id)? {
                    return Ok::<_, StorageError>(false);
                }
                stored_codes::replace(conn, &id, &digests, at)?;
                Ok(true)
            })
        })
        .await?;
    Ok(renewed.then_some(codes))
}

/// A factor as the account pages list it.
#[derive(Debug, Clone)]
pub struct FactorSummary {
    pub id: String,
    pub kind: String,
    pub created_at: chrono::NaiveDateTime,
}

/// The account's factors and how many recovery codes are left.
pub async fn summary(
    cx: &AuthnContext<'_>,
    account_id: &str,
) -> Result<(Vec<FactorSummary>, usize), FactorError> {
    let id = account_id.to_owned();
    let (factors, unused) = cx
        .db
        .run(move |conn| {
            let factors = second_factors::for_account(conn, &id)?;
            let unused = stored_codes::unused(conn, &id)?;
            Ok::<_, StorageError>((factors, unused.len()))
        })
        .await?;
    let factors = factors
        .into_iter()
        .map(|f| FactorSummary {
            id: f.id,
            kind: f.kind,
            created_at: f.created_at,
        })
        .collect();
    Ok((factors, unused))
}

/// Removes the account's TOTP factor (and the recovery codes with its last factor).
pub async fn remove(
    cx: &AuthnContext<'_>,
    account_id: &str,
    factor_id: &str,
) -> Result<bool, FactorError> {
    let (id, factor) = (account_id.to_owned(), factor_id.to_owned());
    Ok(cx
        .db
        .run(move |conn| {
            storage::transaction(conn, |conn| second_factors::delete(conn, &id, &factor))
        })
        .await?)
}

/// A TOTP secret being enrolled, kept sealed in the store between showing the QR code
/// and the first code, under the account (one enrolment at a time).
pub mod pending {
    use std::time::Duration;

    use super::*;
    use crate::store::{Store, StoreError};

    /// Time to scan the code and type the first one.
    pub const TTL: Duration = Duration::from_secs(10 * 60);

    fn context(account_id: &str) -> String {
        format!("pending:{account_id}")
    }

    #[derive(Debug, thiserror::Error)]
    pub enum PendingError {
        #[error(transparent)]
        Store(#[from] StoreError),
        #[error(transparent)]
        Totp(#[from] TotpError),
    }

    pub async fn start(
        store: &dyn Store,
        secret: &ServerSecret,
        account_id: &str,
    ) -> Result<TotpSecret, PendingError> {
        let totp_secret = TotpSecret::generate()?;
        let sealed = SecretSealer::new(secret)?.seal(&context(account_id), &totp_secret)?;
        store
            .put(&crate::store::keys::totp_enrolment(account_id), sealed, TTL)
            .await?;
        Ok(totp_secret)
    }

    pub async fn find(
        store: &dyn Store,
        secret: &ServerSecret,
        account_id: &str,
    ) -> Result<Option<TotpSecret>, PendingError> {
        let Some(sealed) = store
            .get(&crate::store::keys::totp_enrolment(account_id))
            .await?
        else {
            return Ok(None);
        };
        Ok(SecretSealer::new(secret)?
            .open(&context(account_id), &sealed)
            .ok())
    }

    pub async fn finish(store: &dyn Store, account_id: &str) -> Result<(), StoreError> {
        store
            .delete(&crate::store::keys::totp_enrolment(account_id))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::acr::AcrDemand;
    use crate::domain::interaction::{AccountFacts, FactorVerdict as FactorCheck, factor_verdict};
    use AssuranceLevel::{Level1, Level2};

    fn amr(v: &[&str]) -> Amr {
        Amr::from_words(&v.join(" ")).expect("methods of RFC 8176")
    }

    fn demand(level: AssuranceLevel) -> Option<AcrDemand> {
        Some(AcrDemand { min_level: level })
    }

    /// The rules as the login applies them, for a login that holds what `amr` proves.
    fn decide(
        level: AssuranceLevel,
        has_factor: bool,
        amr: &Amr,
        demand: Option<AcrDemand>,
    ) -> FactorCheck {
        let account = AccountFacts {
            level,
            has_factor,
            eligible: true,
        };
        factor_verdict(account, amr, achieved_level(level, amr), demand)
    }

    #[test]
    fn an_enrolled_factor_is_always_asked_for() {
        assert_eq!(
            decide(Level1, true, &amr(&["pwd"]), None),
            FactorCheck::Needed
        );
        assert_eq!(
            decide(Level1, true, &amr(&["pwd", "otp", "mfa"]), None),
            FactorCheck::Satisfied
        );
        assert_eq!(
            decide(Level1, false, &amr(&["pwd"]), None),
            FactorCheck::Satisfied
        );
    }

    #[test]
    fn changing_authenticators_needs_a_recent_login_with_the_factor() {
        use Reauthentication::{FactorNotPresented, Fresh, TooOld};
        let (pwd, both) = (amr(&["pwd"]), amr(&["pwd", "otp", "mfa"]));
        let passkey = amr(&["pwd", "hwk", "user", "mfa"]);
        let login = 1_000_000;
        // No factor yet: a recent password login may add the first one.
        assert_eq!(reauthentication(login, &pwd, false, login, 300), Fresh);
        assert_eq!(
            reauthentication(login, &pwd, false, login + 300, 300),
            Fresh
        );
        assert_eq!(
            reauthentication(login, &pwd, false, login + 301, 300),
            TooOld
        );
        // With a factor, the login must have presented one, however recent it is.
        assert_eq!(
            reauthentication(login, &pwd, true, login, 300),
            FactorNotPresented
        );
        assert_eq!(reauthentication(login, &both, true, login + 60, 300), Fresh);
        assert_eq!(reauthentication(login, &passkey, true, login, 300), Fresh);
        // Age is checked first: an old login with the factor is still too old.
        assert_eq!(
            reauthentication(login, &both, true, login + 3600, 300),
            TooOld
        );
        // Extremes do not overflow.
        assert_eq!(
            reauthentication(i64::MIN, &both, true, i64::MAX, 300),
            TooOld
        );
        assert_eq!(
            reauthentication(login, &both, true, login + 3600, u64::MAX),
            Fresh
        );
        assert_eq!(reauthentication(login + 10, &pwd, false, login, 300), Fresh);
    }

    #[test]
    fn level_2_needs_a_level_2_account_with_a_factor() {
        let pwd = amr(&["pwd"]);
        assert_eq!(
            decide(Level1, true, &pwd, demand(Level2)),
            FactorCheck::Unmet
        );
        assert_eq!(
            decide(Level2, false, &pwd, demand(Level2)),
            FactorCheck::Unmet
        );
        assert_eq!(
            decide(Level2, true, &pwd, demand(Level2)),
            FactorCheck::Needed
        );
        let both = amr(&["pwd", "otp", "mfa"]);
        assert_eq!(
            decide(Level2, true, &both, demand(Level2)),
            FactorCheck::Satisfied
        );
        assert_eq!(achieved_level(Level2, &both), Level2);
        assert_eq!(achieved_level(Level1, &both), Level1);
        assert_eq!(achieved_level(Level2, &pwd), Level1);
    }
}
