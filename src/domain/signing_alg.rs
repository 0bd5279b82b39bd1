//! The JWS algorithms citizen-idp signs with (RFC 7518 §3.1), a word of the protocol
//! parsed once, where a setting or a registration names one.

/// JWS algorithms citizen-idp signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum SigningAlg {
    Rs256,
    Es256,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 2] = [SigningAlg::Rs256, SigningAlg::Es256];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(SigningAlg::Rs256),
            "ES256" => Some(SigningAlg::Es256),
            _ => None,
        }
    }
}

/// A JWS algorithm name that citizen-idp does not sign with.
#[derive(Debug, thiserror::Error)]
#[error("must be ES256 or RS256")]
pub struct UnsupportedAlg;

impl TryFrom<String> for SigningAlg {
    type Error = UnsupportedAlg;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        SigningAlg::parse(&name).ok_or(UnsupportedAlg)
    }
}
