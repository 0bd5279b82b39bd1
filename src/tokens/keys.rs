//! Signing keys: loaded from `keys/` at start, generated when missing, and kept parsed
//! in memory, because parsing a key costs as much as using it.
//!
//! Each key is a PKCS#8 PEM file named `<kid>.<alg>.pem`. The `kid` is the key's
//! RFC 7638 thumbprint, so it is stable and cannot collide between keys. The private
//! files are created with mode 0600 and are git-ignored; only public parts are
//! published in the JWKS.

use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use super::TokenError;
use super::random::sha256;

/// JWS algorithms citizen-idp signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

    fn file_suffix(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "rs256",
            SigningAlg::Es256 => "es256",
        }
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
    decoding: jsonwebtoken::DecodingKey,
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
        let (material, members, decoding) = match alg {
            SigningAlg::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(key_error)?;
                let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                let decoding =
                    jsonwebtoken::DecodingKey::from_rsa_raw_components(&public.n, &public.e);
                // RFC 7638 §3.2: the thumbprint covers the required members in
                // lexicographic order.
                let members = json!({
                    "e": URL_SAFE_NO_PAD.encode(public.e),
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(public.n),
                });
                (KeyMaterial::Rsa(pair), members, decoding)
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
                let decoding =
                    jsonwebtoken::DecodingKey::from_ec_components(&x, &y).map_err(key_error)?;
                let members = json!({ "crv": "P-256", "kty": "EC", "x": x, "y": y });
                (KeyMaterial::Ec(pair), members, decoding)
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
            decoding,
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

    /// The public key, for verifying tokens this key signed.
    pub fn decoding_key(&self) -> &jsonwebtoken::DecodingKey {
        &self.decoding
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

/// The active signing keys, one per algorithm.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<SigningKey>,
}

#[derive(Debug, Clone)]
pub struct KeyFile {
    pub path: PathBuf,
    pub kid: String,
    pub alg: SigningAlg,
}

impl KeySet {
    pub fn new(keys: Vec<SigningKey>) -> Self {
        KeySet { keys }
    }

    /// Loads every key in `dir`. Returns the set and the files that were generated
    /// because an algorithm had no key.
    pub fn load_or_generate(dir: &Path) -> Result<(KeySet, Vec<KeyFile>), TokenError> {
        let mut keys = load_dir(dir)?;
        let mut generated = Vec::new();
        for alg in SigningAlg::ALL {
            if !keys.iter().any(|k| k.alg == alg) {
                let (key, file) = generate_into(dir, alg)?;
                keys.push(key);
                generated.push(file);
            }
        }
        Ok((KeySet { keys }, generated))
    }

    /// The key that signs new tokens with `alg`.
    pub fn signing_key(&self, alg: SigningAlg) -> Result<&SigningKey, TokenError> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.alg == alg)
            .ok_or_else(|| TokenError::Key(format!("no {} key", alg.as_str())))
    }

    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The JWKS document (RFC 7517 §5): public parts only.
    pub fn jwks(&self) -> serde_json::Value {
        json!({ "keys": self.keys.iter().map(|k| k.public_jwk.clone()).collect::<Vec<_>>() })
    }

    pub fn iter(&self) -> impl Iterator<Item = &SigningKey> {
        self.keys.iter()
    }
}

/// Generates a key of `alg` and writes it into `dir`.
pub fn generate_into(dir: &Path, alg: SigningAlg) -> Result<(SigningKey, KeyFile), TokenError> {
    std::fs::create_dir_all(dir).map_err(key_error)?;
    let (key, der) = SigningKey::generate(alg)?;
    let path = dir.join(format!("{}.{}.pem", key.kid, alg.file_suffix()));
    write_private(&path, &pem_encode(&der))?;
    let file = KeyFile {
        path,
        kid: key.kid.clone(),
        alg,
    };
    Ok((key, file))
}

fn load_dir(dir: &Path) -> Result<Vec<SigningKey>, TokenError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(key_error(format!("{}: {e}", dir.display()))),
    };
    let mut files: Vec<(PathBuf, SigningAlg)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?;
            let alg = SigningAlg::ALL
                .into_iter()
                .find(|alg| name.ends_with(&format!(".{}.pem", alg.file_suffix())))?;
            Some((path, alg))
        })
        .collect();
    // Oldest first, so that `signing_key` (which takes the last) picks the newest.
    files.sort_by_key(|(path, _)| std::fs::metadata(path).and_then(|m| m.modified()).ok());
    files
        .into_iter()
        .map(|(path, alg)| {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| key_error(format!("{}: {e}", path.display())))?;
            let der = pem_decode(&text)
                .ok_or_else(|| key_error(format!("{}: not a PEM private key", path.display())))?;
            SigningKey::from_pkcs8(alg, &der)
                .map_err(|e| key_error(format!("{}: {e}", path.display())))
        })
        .collect()
}

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

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

fn write_private(path: &Path, contents: &str) -> Result<(), TokenError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| key_error(format!("{}: {e}", path.display())))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| key_error(format!("{}: {e}", path.display())))
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
}
