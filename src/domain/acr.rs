//! Authentication context classes (OIDC Core §2 `acr`) and methods (RFC 8176 `amr`).

use serde::{Deserialize, Serialize};

/// How sure citizen-idp is of who logged in. The URNs are published in discovery
/// (`acr_values_supported`) and documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AssuranceLevel {
    /// Self-enrolled and matched against the population register.
    Level1,
    /// Verified in person by an officer; needs a second factor at login.
    Level2,
}

impl AssuranceLevel {
    pub const ALL: [AssuranceLevel; 2] = [AssuranceLevel::Level1, AssuranceLevel::Level2];

    pub fn acr(self) -> &'static str {
        match self {
            AssuranceLevel::Level1 => "urn:citizen-idp:loa:1",
            AssuranceLevel::Level2 => "urn:citizen-idp:loa:2",
        }
    }

    pub fn from_number(level: i32) -> Option<Self> {
        match level {
            1 => Some(AssuranceLevel::Level1),
            2 => Some(AssuranceLevel::Level2),
            _ => None,
        }
    }

    pub fn number(self) -> i32 {
        match self {
            AssuranceLevel::Level1 => 1,
            AssuranceLevel::Level2 => 2,
        }
    }
}

/// RFC 8176 authentication method reference values that citizen-idp emits.
///
/// A TOTP code and a recovery code are both `otp`: RFC 8176 has no value for recovery
/// codes, and each is a one-time password held by the citizen. A passkey is `hwk`
/// (proof of possession of a key held by the authenticator) and, since every passkey
/// login is user-verified, `user`: RFC 8176 defines `user` as a test of the user's
/// presence, which user verification includes; citizen-idp does not say `pin` or a
/// biometric value because the authenticator does not tell which it used. `mfa` is
/// added once two or more factors have been presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// Password.
    Pwd,
    /// One-time password: a TOTP code (RFC 6238) or a recovery code.
    Otp,
    /// Proof of possession of a hardware-secured key: a passkey.
    Hwk,
    /// User presence test (RFC 8176 §2): the authenticator checked that the user was
    /// there, here by verifying them.
    User,
    /// Multiple-factor authentication.
    Mfa,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Pwd => "pwd",
            AuthMethod::Otp => "otp",
            AuthMethod::Hwk => "hwk",
            AuthMethod::User => "user",
            AuthMethod::Mfa => "mfa",
        }
    }
}

/// The methods of RFC 8176 that count as a second factor after the password.
pub const SECOND_FACTOR_METHODS: [&str; 2] = ["otp", "hwk"];

/// Whether `amr` holds a second factor.
pub fn has_second_factor(amr: &[String]) -> bool {
    amr.iter()
        .any(|m| SECOND_FACTOR_METHODS.contains(&m.as_str()))
}

/// `amr` after a second factor `method`: the method once, then `mfa`, last.
pub fn with_second_factor(amr: &[String], method: AuthMethod) -> Vec<String> {
    with_second_factor_methods(amr, &[method])
}

/// `amr` after a second factor proved by several `methods` (a passkey: `hwk`, `user`):
/// each once, then `mfa`, last.
pub fn with_second_factor_methods(amr: &[String], methods: &[AuthMethod]) -> Vec<String> {
    let mut out: Vec<String> = amr
        .iter()
        .filter(|m| m.as_str() != AuthMethod::Mfa.as_str())
        .cloned()
        .collect();
    for method in methods {
        if !out.iter().any(|m| m == method.as_str()) {
            out.push(method.as_str().to_owned());
        }
    }
    if out.len() >= 2 {
        out.push(AuthMethod::Mfa.as_str().to_owned());
    }
    out
}

/// What a client demands of the login (`acr_values`, or an essential `acr` claim in
/// the `claims` parameter): the lowest of the levels it accepts. Levels are ordered, so
/// a higher level satisfies a lower demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcrDemand {
    pub min_level: AssuranceLevel,
}

impl AssuranceLevel {
    /// The level an `acr` URN names; `None` for a URN that is not ours.
    pub fn from_acr(urn: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.acr() == urn)
    }
}

/// The `acr` a login earned, never above the account's level now. An officer may lower
/// an account after the login (a reported stolen ID card, say); live sessions and
/// refresh tokens must not go on vouching for more.
pub fn capped_acr(earned: &str, now: AssuranceLevel) -> &str {
    match AssuranceLevel::from_acr(earned) {
        Some(level) if level > now => now.acr(),
        _ => earned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amr(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_second_factor_after_the_password_adds_mfa_last_and_once() {
        let after = with_second_factor(&amr(&["pwd"]), AuthMethod::Otp);
        assert_eq!(after, amr(&["pwd", "otp", "mfa"]));
        assert_eq!(with_second_factor(&after, AuthMethod::Otp), after);
        assert!(has_second_factor(&after));
        let passkey =
            with_second_factor_methods(&amr(&["pwd"]), &[AuthMethod::Hwk, AuthMethod::User]);
        assert_eq!(passkey, amr(&["pwd", "hwk", "user", "mfa"]));
        assert!(has_second_factor(&passkey));
        assert!(!has_second_factor(&amr(&["pwd"])));
    }

    #[test]
    fn an_earned_acr_is_capped_at_the_accounts_level_now() {
        let (one, two) = (AssuranceLevel::Level1.acr(), AssuranceLevel::Level2.acr());
        assert_eq!(capped_acr(two, AssuranceLevel::Level1), one);
        assert_eq!(capped_acr(two, AssuranceLevel::Level2), two);
        assert_eq!(capped_acr(one, AssuranceLevel::Level2), one, "never raised");
    }

    #[test]
    fn acr_urns_round_trip_and_foreign_ones_are_not_ours() {
        for level in AssuranceLevel::ALL {
            assert_eq!(AssuranceLevel::from_acr(level.acr()), Some(level));
        }
        assert_eq!(AssuranceLevel::from_acr("urn:other:loa:2"), None);
    }
}
