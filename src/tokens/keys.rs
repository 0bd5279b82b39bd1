//! One signing key: generated, parsed from PKCS#8, signing, and its public JWK; and the
//! rules of a key's life (pending, active, retired, expired), as pure functions of
//! time. Where keys are kept is `keyring`'s business.
//!
//! The `kid` is the key's RFC 7638 thumbprint, so it is stable and cannot collide
//! between keys. Only public parts are ever published.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Duration, Utc};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use super::TokenError;
use super::random::sha256;

pub use crate::domain::signing_alg::SigningAlg;

/// The suffix of a PEM file of the old file layout (`<kid>.<suffix>.pem`).
fn file_suffix(alg: SigningAlg) -> &'static str {
    match alg {
        SigningAlg::Rs256 => "rs256",
        SigningAlg::Es256 => "es256",
    }
}

enum KeyMaterial {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A parsed private key, ready to sign.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    material: KeyMaterial,
    public_jwk: serde_json::Value,
    /// Parsed once: parsing the public key (for P-256, decoding and checking the point)
    /// costs about as much as the verification itself.
    verifying: ParsedPublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn key_error(e: impl std::fmt::Display) -> TokenError {
    TokenError::Key(e.to_string())
}

impl SigningKey {
    pub fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> Result<Self, TokenError> {
        let (material, members, verifying) = match alg {
            SigningAlg::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(key_error)?;
                let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                // The public key's DER form (RFC 8017 RSAPublicKey).
                let verifying =
                    ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref())
                        .map_err(key_error)?;
                // RFC 7638 §3.2: the thumbprint covers the required members in
                // lexicographic order.
                let members = json!({
                    "e": URL_SAFE_NO_PAD.encode(public.e),
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(public.n),
                });
                (KeyMaterial::Rsa(pair), members, verifying)
            }
            SigningAlg::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(key_error)?;
                // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
                let point = pair.public_key().as_ref();
                if point.len() != 65 || point[0] != 4 {
                    return Err(TokenError::Key("unexpected P-256 public key".into()));
                }
                let (x, y) = (
                    URL_SAFE_NO_PAD.encode(&point[1..33]),
                    URL_SAFE_NO_PAD.encode(&point[33..]),
                );
                let verifying =
                    ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).map_err(key_error)?;
                let members = json!({ "crv": "P-256", "kty": "EC", "x": x, "y": y });
                (KeyMaterial::Ec(pair), members, verifying)
            }
        };
        let canonical = serde_json::to_vec(&members).map_err(key_error)?;
        let kid = URL_SAFE_NO_PAD.encode(sha256(&canonical));
        let mut public_jwk = members;
        public_jwk["kid"] = json!(kid);
        public_jwk["use"] = json!("sig");
        public_jwk["alg"] = json!(alg.as_str());
        Ok(SigningKey {
            kid,
            alg,
            material,
            public_jwk,
            verifying,
        })
    }

    pub fn generate(alg: SigningAlg) -> Result<(Self, Vec<u8>), TokenError> {
        let der = match alg {
            SigningAlg::Rs256 => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(key_error)?;
                pair.as_der().map_err(key_error)?.as_ref().to_vec()
            }
            SigningAlg::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                    .map_err(key_error)?
                    .as_ref()
                    .to_vec()
            }
        };
        Ok((SigningKey::from_pkcs8(alg, &der)?, der))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public JWK (RFC 7517) with `kid`, `use` and `alg`.
    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.public_jwk
    }

    /// Checks a JWS signature (JWS form for ES256) this key made over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifying.verify_sig(message, signature).is_ok()
    }

    /// Signs a JWS signing input and returns the raw signature (JWS form for ES256).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, TokenError> {
        match &self.material {
            KeyMaterial::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(|_| TokenError::Signing)?;
                Ok(signature)
            }
            KeyMaterial::Ec(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| TokenError::Signing),
        }
    }
}

/// What a key signs. A key of one purpose is never published, nor accepted, as one
/// of the other: a token signed with a federation key verifies against nothing a
/// relying party fetches from the JWKS, and a federation statement signed with a token
/// key verifies against nothing in the entity configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// ID tokens, access tokens, logout tokens and the other JWTs of the protocol,
    /// published at `/jwks.json`.
    Token,
    /// OpenID Federation entity statements, published in the entity configuration.
    Federation,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Token => "token",
            KeyPurpose::Federation => "federation",
        }
    }

    /// The algorithms a key of this purpose exists for: tokens are signed with both
    /// (relying parties choose), federation statements with ES256 only.
    pub fn algs(self) -> &'static [SigningAlg] {
        match self {
            KeyPurpose::Token => &SigningAlg::ALL,
            KeyPurpose::Federation => &[SigningAlg::Es256],
        }
    }
}

/// Where a key is in its life, at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet: relying parties learn it before they meet it.
    Pending,
    /// Signs new tokens (the newest active key of its algorithm does).
    Active,
    /// Signs nothing, still published and still verifies the tokens it signed.
    Retired,
    /// No longer published nor trusted; its private part is wiped.
    Expired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Pending => "pending",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Expired => "expired",
        }
    }

    /// Whether the key is in the JWKS and verifies tokens.
    pub fn is_published(self) -> bool {
        self != KeyState::Expired
    }
}

/// The instants that decide a key's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLifetime {
    pub activated_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    pub published_until: Option<DateTime<Utc>>,
}

impl KeyLifetime {
    pub fn state(&self, now: DateTime<Utc>) -> KeyState {
        if self.published_until.is_some_and(|until| until <= now) {
            KeyState::Expired
        } else if self.retired_at.is_some_and(|retired| retired <= now) {
            KeyState::Retired
        } else if now < self.activated_at {
            KeyState::Pending
        } else {
            KeyState::Active
        }
    }
}

/// Clock difference tolerated between instances (and the CLI that rotates).
const CLOCK_LEEWAY: Duration = Duration::minutes(5);

/// How long a key stays published after it retires: until every token it can have
/// signed has expired. That is the longest token lifetime (ID token, access token with
/// the largest per-client lifetime), plus one reload interval, since an instance that
/// has not reloaded yet may sign with it a little after a `rotate --now`, plus leeway.
pub fn retention(
    id_token_ttl_secs: u64,
    access_token_ttl_secs: u64,
    reload_interval_secs: u64,
) -> Duration {
    let longest = id_token_ttl_secs
        .max(access_token_ttl_secs)
        .max(u64::from(crate::domain::client::MAX_ACCESS_TOKEN_TTL_SECS));
    let secs = longest.saturating_add(reload_interval_secs);
    Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000)) + CLOCK_LEEWAY
}

/// A private key found in the old file layout (`keys/<kid>.<alg>.pem`).
pub struct LegacyKeyFile {
    pub path: PathBuf,
    pub alg: SigningAlg,
    pub der: Vec<u8>,
    pub modified: Option<SystemTime>,
}

/// The PEM keys in `dir` from versions that kept keys in files, oldest first. A missing
/// directory holds none.
pub fn legacy_key_files(dir: &Path) -> Result<Vec<LegacyKeyFile>, TokenError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(key_error(format!("{}: {e}", dir.display()))),
    };
    let mut files = Vec::new();
    for path in entries.filter_map(Result::ok).map(|entry| entry.path()) {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(alg) = SigningAlg::ALL
            .into_iter()
            .find(|alg| name.ends_with(&format!(".{}.pem", file_suffix(*alg))))
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| key_error(format!("{}: {e}", path.display())))?;
        let der = pem_decode(&text)
            .ok_or_else(|| key_error(format!("{}: not a PEM private key", path.display())))?;
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        files.push(LegacyKeyFile {
            path,
            alg,
            der,
            modified,
        });
    }
    files.sort_by_key(|f| f.modified);
    Ok(files)
}

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

#[cfg(test)]
fn pem_encode(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = String::with_capacity(body.len() + 100);
    out.push_str(PEM_BEGIN);
    out.push('\n');
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(PEM_END);
    out.push('\n');
    out
}

fn pem_decode(text: &str) -> Option<Vec<u8>> {
    let start = text.find(PEM_BEGIN)? + PEM_BEGIN.len();
    let end = text.find(PEM_END)?;
    let body: String = text
        .get(start..end)?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_pem_with_a_stable_kid() {
        for alg in SigningAlg::ALL {
            let (key, der) = SigningKey::generate(alg).unwrap();
            let reloaded =
                SigningKey::from_pkcs8(alg, &pem_decode(&pem_encode(&der)).unwrap()).unwrap();
            assert_eq!(key.kid(), reloaded.kid());
            assert!(
                key.public_jwk().get("d").is_none(),
                "JWK must be public only"
            );
        }
    }

    #[test]
    fn a_key_is_pending_then_active_then_retired_then_expired() {
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let life = KeyLifetime {
            activated_at: t0 + Duration::seconds(600),
            retired_at: Some(t0 + Duration::seconds(1000)),
            published_until: Some(t0 + Duration::seconds(5000)),
        };
        assert_eq!(life.state(t0), KeyState::Pending);
        assert_eq!(life.state(t0 + Duration::seconds(600)), KeyState::Active);
        assert_eq!(life.state(t0 + Duration::seconds(1000)), KeyState::Retired);
        assert_eq!(life.state(t0 + Duration::seconds(4999)), KeyState::Retired);
        assert_eq!(life.state(t0 + Duration::seconds(5000)), KeyState::Expired);
        let unretired = KeyLifetime {
            retired_at: None,
            published_until: None,
            ..life
        };
        assert_eq!(unretired.state(t0 + Duration::days(999)), KeyState::Active);
    }

    #[test]
    fn retention_covers_the_longest_token_a_reload_and_leeway() {
        assert_eq!(retention(300, 300, 60), Duration::seconds(3600 + 60 + 300));
        assert_eq!(retention(7200, 300, 60), Duration::seconds(7200 + 60 + 300));
    }
}
