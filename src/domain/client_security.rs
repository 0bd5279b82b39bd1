//! What a relying party registers beyond the defaults to raise its assurance: the
//! FAPI 2.0 profile, pushed authorization requests, DPoP-bound tokens, signed request
//! objects and encrypted ID tokens and userinfo answers (RFC 7591, RFC 9126 §6,
//! RFC 9449 §5.2, OIDC Registration §2).
//!
//! [`SecurityMetadata`] is the metadata as its standards name it, strings and flags, as
//! operators send it and as it is stored; [`ClientSecurity`] is the same, parsed.

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};

use super::client_keys;
use super::signing_alg::SigningAlg;

/// A set of rules a client, or the whole server, follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub enum Profile {
    /// OAuth 2.0 and OpenID Connect with this server's secure defaults (PKCE S256,
    /// exact redirect URIs, single-use codes).
    #[default]
    Standard,
    /// The FAPI 2.0 Security Profile: PAR, DPoP, `private_key_jwt` with the issuer as
    /// the only audience, PS256/ES256/EdDSA.
    Fapi2,
}

impl Profile {
    pub const SUPPORTED: [&'static str; 2] = ["standard", "fapi2"];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Standard => "standard",
            Profile::Fapi2 => "fapi2",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "standard" => Some(Profile::Standard),
            "fapi2" => Some(Profile::Fapi2),
            _ => None,
        }
    }
}

impl TryFrom<String> for Profile {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Profile::parse(&name).ok_or_else(|| "must be standard or fapi2".to_owned())
    }
}

/// How the content key of a JWE is sent to its recipient (RFC 7518 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyManagementAlg {
    /// Ephemeral-static ECDH on P-256, the derived key wrapping the content key.
    EcdhEsA256kw,
    RsaOaep256,
}

impl KeyManagementAlg {
    pub const ALL: [KeyManagementAlg; 2] =
        [KeyManagementAlg::EcdhEsA256kw, KeyManagementAlg::RsaOaep256];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyManagementAlg::EcdhEsA256kw => "ECDH-ES+A256KW",
            KeyManagementAlg::RsaOaep256 => "RSA-OAEP-256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == name)
    }
}

/// How the content of a JWE is encrypted (RFC 7518 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncryptionAlg {
    A256Gcm,
    A128CbcHs256,
}

impl ContentEncryptionAlg {
    pub const ALL: [ContentEncryptionAlg; 2] = [
        ContentEncryptionAlg::A256Gcm,
        ContentEncryptionAlg::A128CbcHs256,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContentEncryptionAlg::A256Gcm => "A256GCM",
            ContentEncryptionAlg::A128CbcHs256 => "A128CBC-HS256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|enc| enc.as_str() == name)
    }
}

/// The JWE a client asked its ID tokens or userinfo answers to be encrypted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encryption {
    pub alg: KeyManagementAlg,
    pub enc: ContentEncryptionAlg,
}

impl Encryption {
    /// OIDC Registration §2: `enc` defaults to `A128CBC-HS256` when only `alg` is given,
    /// and `enc` alone is an error.
    fn parse(alg: Option<&str>, enc: Option<&str>) -> Result<Option<Self>, SecurityError> {
        match (alg, enc) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(SecurityError::EncWithoutAlg),
            (Some(alg), enc) => Ok(Some(Encryption {
                alg: KeyManagementAlg::parse(alg).ok_or(SecurityError::EncryptionAlg)?,
                enc: match enc {
                    None => ContentEncryptionAlg::A128CbcHs256,
                    Some(enc) => {
                        ContentEncryptionAlg::parse(enc).ok_or(SecurityError::EncryptionEnc)?
                    }
                },
            })),
        }
    }
}

/// The signature algorithms FAPI 2.0 admits (Security Profile §5.4.1).
pub const FAPI2_ALGS: [Algorithm; 3] = [Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA];

/// A client's assurance settings, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSecurity {
    pub profile: Profile,
    /// Every authorization request must come through `/par` (RFC 9126 §6).
    pub require_pushed_authorization_requests: bool,
    /// Every access token must be DPoP-bound (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: bool,
    /// The one algorithm its request objects may be signed with, when registered.
    pub request_object_signing_alg: Option<Algorithm>,
    pub id_token_encryption: Option<Encryption>,
    /// Userinfo answers as a signed JWT (`application/jwt`) rather than JSON.
    pub userinfo_signed_response_alg: Option<SigningAlg>,
    pub userinfo_encryption: Option<Encryption>,
}

/// A reason the assurance metadata cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityError {
    #[error("profile must be standard or fapi2")]
    Profile,
    #[error(
        "request_object_signing_alg must be one of RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA"
    )]
    RequestObjectAlg,
    #[error("*_encrypted_response_alg must be ECDH-ES+A256KW or RSA-OAEP-256")]
    EncryptionAlg,
    #[error("*_encrypted_response_enc must be A256GCM or A128CBC-HS256")]
    EncryptionEnc,
    #[error("*_encrypted_response_enc needs *_encrypted_response_alg")]
    EncWithoutAlg,
    #[error("userinfo_signed_response_alg must be RS256 or ES256")]
    UserinfoAlg,
}

/// The assurance metadata by its registered names (RFC 7591, RFC 9126, RFC 9449, RFC 9101,
/// OIDC Registration). Absent flags are false; absent algorithms are not registered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_encrypted_response_enc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_signed_response_alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_encrypted_response_alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_encrypted_response_enc: Option<String>,
}

impl TryFrom<&SecurityMetadata> for ClientSecurity {
    type Error = SecurityError;

    fn try_from(meta: &SecurityMetadata) -> Result<Self, SecurityError> {
        let profile = match meta.profile.as_deref() {
            None => Profile::Standard,
            Some(name) => Profile::parse(name).ok_or(SecurityError::Profile)?,
        };
        Ok(ClientSecurity {
            profile,
            require_pushed_authorization_requests: meta.require_pushed_authorization_requests,
            dpop_bound_access_tokens: meta.dpop_bound_access_tokens,
            request_object_signing_alg: meta
                .request_object_signing_alg
                .as_deref()
                .map(|name| client_keys::assertion_alg(name).ok_or(SecurityError::RequestObjectAlg))
                .transpose()?,
            id_token_encryption: Encryption::parse(
                meta.id_token_encrypted_response_alg.as_deref(),
                meta.id_token_encrypted_response_enc.as_deref(),
            )?,
            userinfo_signed_response_alg: meta
                .userinfo_signed_response_alg
                .as_deref()
                .map(|name| SigningAlg::parse(name).ok_or(SecurityError::UserinfoAlg))
                .transpose()?,
            userinfo_encryption: Encryption::parse(
                meta.userinfo_encrypted_response_alg.as_deref(),
                meta.userinfo_encrypted_response_enc.as_deref(),
            )?,
        })
    }
}

impl From<&ClientSecurity> for SecurityMetadata {
    fn from(security: &ClientSecurity) -> Self {
        let alg = |e: Option<Encryption>| e.map(|e| e.alg.as_str().to_owned());
        let enc = |e: Option<Encryption>| e.map(|e| e.enc.as_str().to_owned());
        SecurityMetadata {
            profile: Some(security.profile.as_str().to_owned())
                .filter(|_| security.profile != Profile::Standard),
            require_pushed_authorization_requests: security.require_pushed_authorization_requests,
            dpop_bound_access_tokens: security.dpop_bound_access_tokens,
            request_object_signing_alg: security
                .request_object_signing_alg
                .map(client_keys::alg_name),
            id_token_encrypted_response_alg: alg(security.id_token_encryption),
            id_token_encrypted_response_enc: enc(security.id_token_encryption),
            userinfo_signed_response_alg: security
                .userinfo_signed_response_alg
                .map(|alg| alg.as_str().to_owned()),
            userinfo_encrypted_response_alg: alg(security.userinfo_encryption),
            userinfo_encrypted_response_enc: enc(security.userinfo_encryption),
        }
    }
}

impl ClientSecurity {
    /// Whether any of the client's answers must be encrypted, so that it needs a key
    /// registered for encryption.
    pub fn encrypts(&self) -> bool {
        self.id_token_encryption.is_some() || self.userinfo_encryption.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_reads_back_as_it_was_parsed() {
        let meta = SecurityMetadata {
            profile: Some("fapi2".into()),
            require_pushed_authorization_requests: true,
            dpop_bound_access_tokens: true,
            request_object_signing_alg: Some("PS256".into()),
            id_token_encrypted_response_alg: Some("ECDH-ES+A256KW".into()),
            id_token_encrypted_response_enc: Some("A256GCM".into()),
            userinfo_signed_response_alg: Some("ES256".into()),
            userinfo_encrypted_response_alg: Some("RSA-OAEP-256".into()),
            userinfo_encrypted_response_enc: Some("A128CBC-HS256".into()),
        };
        let parsed = ClientSecurity::try_from(&meta).expect("valid");
        assert_eq!(SecurityMetadata::from(&parsed), meta);
    }

    #[test]
    fn enc_defaults_as_oidc_registration_says_and_never_stands_alone() {
        let meta = SecurityMetadata {
            id_token_encrypted_response_alg: Some("RSA-OAEP-256".into()),
            ..Default::default()
        };
        let parsed = ClientSecurity::try_from(&meta).expect("valid");
        assert_eq!(
            parsed.id_token_encryption.map(|e| e.enc),
            Some(ContentEncryptionAlg::A128CbcHs256)
        );
        let enc_alone = SecurityMetadata {
            userinfo_encrypted_response_enc: Some("A256GCM".into()),
            ..Default::default()
        };
        assert_eq!(
            ClientSecurity::try_from(&enc_alone),
            Err(SecurityError::EncWithoutAlg)
        );
    }

    #[test]
    fn none_and_symmetric_algorithms_are_refused() {
        for name in ["none", "HS256", "RSA1_5", "dir"] {
            let meta = SecurityMetadata {
                request_object_signing_alg: Some(name.into()),
                ..Default::default()
            };
            assert!(ClientSecurity::try_from(&meta).is_err(), "{name}");
            let meta = SecurityMetadata {
                id_token_encrypted_response_alg: Some(name.into()),
                ..Default::default()
            };
            assert!(ClientSecurity::try_from(&meta).is_err(), "{name}");
        }
    }
}
