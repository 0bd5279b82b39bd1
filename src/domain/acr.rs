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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// Password.
    Pwd,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Pwd => "pwd",
        }
    }
}
