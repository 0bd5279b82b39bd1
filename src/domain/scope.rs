//! OAuth scopes (RFC 6749 §3.3) and the claims each one releases.

use std::collections::BTreeSet;
use std::fmt;

/// The scopes citizen-idp understands. OIDC Core §3.1.2.1 says scope values that are
/// not understood should be ignored, so parsing drops anything else.
pub const SUPPORTED: [&str; 6] = [
    "openid",
    "profile",
    "cross_border",
    "address",
    "national_id",
    "offline_access",
];

/// A set of scope tokens, kept sorted so its string form is stable. Written as that
/// string (RFC 6749 §3.3) wherever it is stored, and read back through [`Self::parse`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ScopeSet(BTreeSet<String>);

impl From<ScopeSet> for String {
    fn from(scopes: ScopeSet) -> Self {
        scopes.to_string()
    }
}

impl TryFrom<String> for ScopeSet {
    type Error = ScopeSyntaxError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        ScopeSet::parse(&text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("scope is not a space-separated list of scope tokens")]
pub struct ScopeSyntaxError;

impl ScopeSet {
    /// Parses a space-delimited list with RFC 6749 §3.3 syntax, keeping every token.
    pub fn parse(input: &str) -> Result<Self, ScopeSyntaxError> {
        let mut set = BTreeSet::new();
        for token in input.split(' ').filter(|t| !t.is_empty()) {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            let valid = token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !valid {
                return Err(ScopeSyntaxError);
            }
            set.insert(token.to_owned());
        }
        Ok(ScopeSet(set))
    }

    /// Only the scopes this provider supports.
    pub fn supported_only(&self) -> ScopeSet {
        ScopeSet(
            self.0
                .iter()
                .filter(|s| SUPPORTED.contains(&s.as_str()))
                .cloned()
                .collect(),
        )
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Scopes of `self` that `allowed` does not contain.
    pub fn not_in<'a>(&'a self, allowed: &'a ScopeSet) -> impl Iterator<Item = &'a str> {
        self.0.difference(&allowed.0).map(String::as_str)
    }

    /// The scopes of `self` that `allowed` also contains: what a token may still carry
    /// once its client's registration is taken into account.
    pub fn intersection(&self, allowed: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.intersection(&allowed.0).cloned().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl<'a> FromIterator<&'a str> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        ScopeSet(iter.into_iter().map(str::to_owned).collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_parsed_deduplicated_and_sorted() {
        let set = ScopeSet::parse("profile openid  profile").unwrap();
        assert_eq!(set.to_string(), "openid profile");
    }

    #[test]
    fn invalid_characters_are_rejected() {
        assert_eq!(ScopeSet::parse("open\"id"), Err(ScopeSyntaxError));
        assert_eq!(ScopeSet::parse("ôpenid"), Err(ScopeSyntaxError));
    }

    #[test]
    fn unknown_scopes_are_dropped_by_supported_only() {
        let set = ScopeSet::parse("openid email profile").unwrap();
        assert_eq!(set.supported_only().to_string(), "openid profile");
    }
}
