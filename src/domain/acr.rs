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

    pub fn parse(word: &str) -> Option<Self> {
        [
            AuthMethod::Pwd,
            AuthMethod::Otp,
            AuthMethod::Hwk,
            AuthMethod::User,
            AuthMethod::Mfa,
        ]
        .into_iter()
        .find(|m| m.as_str() == word)
    }

    /// Whether the method counts as a second factor after the password.
    pub fn is_second_factor(self) -> bool {
        matches!(self, AuthMethod::Otp | AuthMethod::Hwk)
    }
}

/// The `amr` of a login (RFC 8176): the methods presented, in the order they were, with
/// `mfa` last once there are two or more. Written as a JSON array of the RFC's words in
/// tokens and in the store, and as space-separated words in the database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Amr(Vec<AuthMethod>);

impl Amr {
    /// A login's first step: the password.
    pub fn password() -> Self {
        Amr(vec![AuthMethod::Pwd])
    }

    pub fn methods(&self) -> &[AuthMethod] {
        &self.0
    }

    pub fn has_second_factor(&self) -> bool {
        self.0.iter().any(|m| m.is_second_factor())
    }

    /// After a second factor proved by `methods` (a passkey: `hwk`, `user`): each once,
    /// then `mfa`, last.
    pub fn with_second_factor(&self, methods: &[AuthMethod]) -> Self {
        let mut out: Vec<AuthMethod> = self
            .0
            .iter()
            .copied()
            .filter(|m| *m != AuthMethod::Mfa)
            .collect();
        for method in methods {
            if !out.contains(method) {
                out.push(*method);
            }
        }
        if out.len() >= 2 {
            out.push(AuthMethod::Mfa);
        }
        Amr(out)
    }

    /// Space-separated words, as the database keeps them.
    pub fn to_words(&self) -> String {
        self.0
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads [`Self::to_words`]; `None` if a word is not a method citizen-idp emits.
    pub fn from_words(words: &str) -> Option<Self> {
        words
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(AuthMethod::parse)
            .collect::<Option<Vec<_>>>()
            .map(Amr)
    }
}

/// The `acr` of a login (OIDC Core §2): the level it reached, written as the level's URN
/// wherever it travels (tokens, the store, the database). Only our own URNs are `Acr`s:
/// one read from outside is parsed, never trusted as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Acr(AssuranceLevel);

impl Acr {
    pub fn new(level: AssuranceLevel) -> Self {
        Acr(level)
    }

    pub fn level(self) -> AssuranceLevel {
        self.0
    }

    pub fn as_str(self) -> &'static str {
        self.0.acr()
    }

    pub fn parse(urn: &str) -> Option<Self> {
        AssuranceLevel::from_acr(urn).map(Acr)
    }

    /// Never above the account's level now. An officer may lower an account after the
    /// login (a reported stolen ID card, say); live sessions and refresh tokens must not
    /// go on vouching for more.
    pub fn capped(self, now: AssuranceLevel) -> Self {
        Acr(self.0.min(now))
    }
}

impl std::fmt::Display for Acr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Acr> for String {
    fn from(acr: Acr) -> Self {
        acr.as_str().to_owned()
    }
}

/// An `acr` URN that is not one of citizen-idp's levels.
#[derive(Debug, thiserror::Error)]
#[error("not an acr of citizen-idp")]
pub struct UnknownAcr;

impl TryFrom<String> for Acr {
    type Error = UnknownAcr;

    fn try_from(urn: String) -> Result<Self, Self::Error> {
        Acr::parse(&urn).ok_or(UnknownAcr)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(amr: &Amr) -> String {
        amr.to_words()
    }

    #[test]
    fn a_second_factor_after_the_password_adds_mfa_last_and_once() {
        let after = Amr::password().with_second_factor(&[AuthMethod::Otp]);
        assert_eq!(words(&after), "pwd otp mfa");
        assert_eq!(after.with_second_factor(&[AuthMethod::Otp]), after);
        assert!(after.has_second_factor());
        let passkey = Amr::password().with_second_factor(&[AuthMethod::Hwk, AuthMethod::User]);
        assert_eq!(words(&passkey), "pwd hwk user mfa");
        assert!(passkey.has_second_factor());
        assert!(!Amr::password().has_second_factor());
    }

    #[test]
    fn amr_is_a_json_array_of_the_rfc_words_and_round_trips_through_the_database_form() {
        let amr = Amr::password().with_second_factor(&[AuthMethod::Hwk, AuthMethod::User]);
        assert_eq!(
            serde_json::to_string(&amr).unwrap(),
            r#"["pwd","hwk","user","mfa"]"#
        );
        assert_eq!(Amr::from_words(&amr.to_words()), Some(amr));
        assert_eq!(Amr::from_words(""), Some(Amr::default()));
        assert_eq!(Amr::from_words("pwd face"), None, "not a method we emit");
        assert!(serde_json::from_str::<Amr>(r#"["pwd","face"]"#).is_err());
    }

    #[test]
    fn an_earned_acr_is_capped_at_the_accounts_level_now() {
        let (one, two) = (
            Acr::new(AssuranceLevel::Level1),
            Acr::new(AssuranceLevel::Level2),
        );
        assert_eq!(two.capped(AssuranceLevel::Level1), one);
        assert_eq!(two.capped(AssuranceLevel::Level2), two);
        assert_eq!(one.capped(AssuranceLevel::Level2), one, "never raised");
    }

    #[test]
    fn an_acr_is_written_as_its_urn_and_only_ours_are_read() {
        let acr = Acr::new(AssuranceLevel::Level2);
        assert_eq!(
            serde_json::to_string(&acr).unwrap(),
            r#""urn:citizen-idp:loa:2""#
        );
        assert_eq!(
            serde_json::from_str::<Acr>(r#""urn:citizen-idp:loa:2""#).unwrap(),
            acr
        );
        assert!(serde_json::from_str::<Acr>(r#""urn:other:loa:2""#).is_err());
    }

    #[test]
    fn acr_urns_round_trip_and_foreign_ones_are_not_ours() {
        for level in AssuranceLevel::ALL {
            assert_eq!(AssuranceLevel::from_acr(level.acr()), Some(level));
        }
        assert_eq!(AssuranceLevel::from_acr("urn:other:loa:2"), None);
    }
}
