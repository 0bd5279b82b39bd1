//! The public keys a client registers: which JWK Sets are acceptable, which signature
//! algorithms an assertion may use (`private_key_jwt`), and which keys (`use: enc`)
//! ID tokens and userinfo answers may be encrypted to (OIDC Core §10.2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, PublicKeyUse};
use serde_json::{Map, Value};

use super::client_security::KeyManagementAlg;

/// A client's key set is a handful of keys; anything bigger is a mistake or an attack.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
const MAX_KEYS: usize = 20;

/// Asymmetric algorithms only: with a symmetric one (HS256), the "key" would be public
/// and anyone could sign; `none` is not an algorithm at all.
pub const ASSERTION_ALGS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

pub fn assertion_alg_names() -> Vec<String> {
    ASSERTION_ALGS.iter().map(|&a| alg_name(a)).collect()
}

/// An algorithm's JWA name (RFC 7518 §3.1): jsonwebtoken's variants are spelt so.
pub fn alg_name(alg: Algorithm) -> String {
    format!("{alg:?}")
}

/// One of [`ASSERTION_ALGS`] by its JWA name; anything else (`none`, `HS256`, a name
/// in another case) is none of them.
pub fn assertion_alg(name: &str) -> Option<Algorithm> {
    ASSERTION_ALGS
        .into_iter()
        .find(|&alg| alg_name(alg) == name)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("not a JWK Set: {0}")]
    Syntax(String),
    #[error("no keys")]
    Empty,
    #[error("more than {MAX_KEYS} keys")]
    TooMany,
    #[error("symmetric or unsupported keys are not accepted")]
    NotAsymmetric,
    #[error("a key's curve does not fit its key type, or is not supported")]
    UnsupportedCurve,
    #[error(
        "a key holds private members (d, p, q, dp, dq, qi, oth or k): publish public keys only"
    )]
    PrivateMembers,
}

/// The members of a JWK that belong to a private key (RFC 7518 §6.2.2, §6.3.2) or are a
/// symmetric secret (§6.4.1). A set that holds one has leaked a key; it is refused
/// rather than half read (jsonwebtoken would ignore them).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A client's keys, apart by what they are for: a key published for encryption must
/// never verify a signature (RFC 7517 §4.2), and one for signatures never encrypts.
#[derive(Debug, Clone, Default)]
pub struct ClientJwks {
    /// Every key not marked `use: enc`, for assertions (and request objects).
    pub signing: std::sync::Arc<JwkSet>,
    /// The keys marked `use: enc`, in the set's order.
    pub encryption: Vec<EncryptionKey>,
}

/// A public key a client registered for encryption (`use: enc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionKey {
    pub kid: Option<String>,
    /// The algorithm the client declared the key for, if it did.
    pub alg: Option<String>,
    pub kind: EncryptionKeyKind,
    /// The members a JWE library needs (`kty`, `crv`, `x`, `y` or `n`, `e`) and `kid`:
    /// nothing else of what the client sent (`key_ops`, `x5c`, …) reaches it.
    pub public: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncryptionKeyKind {
    EcP256,
    Rsa {
        bits: usize,
    },
    /// Any other key type or curve: kept so that the set is read as sent, never used.
    Other,
}

impl EncryptionKey {
    /// Whether `alg` can encrypt to this key: its type (EC P-256 for ECDH-ES, RSA of at
    /// least 2048 bits for RSA-OAEP-256, RFC 7518 §4.6 and §4.3) and the `alg` it was
    /// declared for, if any.
    pub fn fits(&self, alg: KeyManagementAlg) -> bool {
        let kind_fits = match alg {
            KeyManagementAlg::EcdhEsA256kw => self.kind == EncryptionKeyKind::EcP256,
            KeyManagementAlg::RsaOaep256 => {
                matches!(self.kind, EncryptionKeyKind::Rsa { bits } if bits >= 2048)
            }
        };
        kind_fits
            && self
                .alg
                .as_deref()
                .is_none_or(|declared| declared == alg.as_str())
    }
}

/// The first of `keys` that `alg` can encrypt to: clients list the key to use first.
pub fn encryption_key_for(keys: &[EncryptionKey], alg: KeyManagementAlg) -> Option<&EncryptionKey> {
    keys.iter().find(|key| key.fits(alg))
}

/// Parses a JWK Set and checks that it holds only public asymmetric keys: the keys for
/// signatures (every key not marked `use: enc`).
pub fn parse_jwks(document: &[u8]) -> Result<JwkSet, JwksError> {
    Ok(parse_client_jwks(document)?.signing.as_ref().clone())
}

/// Parses a JWK Set, checks that it holds only public asymmetric keys, and sorts them
/// by use.
pub fn parse_client_jwks(document: &[u8]) -> Result<ClientJwks, JwksError> {
    if document.len() > MAX_JWKS_BYTES {
        return Err(JwksError::TooLarge);
    }
    let raw: Value =
        serde_json::from_slice(document).map_err(|e| JwksError::Syntax(e.to_string()))?;
    let members = raw
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_object).collect::<Vec<_>>())
        .unwrap_or_default();
    let set: JwkSet =
        serde_json::from_value(raw.clone()).map_err(|e| JwksError::Syntax(e.to_string()))?;
    if set.keys.is_empty() {
        return Err(JwksError::Empty);
    }
    if set.keys.len() > MAX_KEYS {
        return Err(JwksError::TooMany);
    }
    let asymmetric = set.keys.iter().all(|key| {
        matches!(
            key.algorithm,
            AlgorithmParameters::RSA(_)
                | AlgorithmParameters::EllipticCurve(_)
                | AlgorithmParameters::OctetKeyPair(_)
        )
    });
    if !asymmetric {
        return Err(JwksError::NotAsymmetric);
    }
    // jsonwebtoken reads an OKP key's `x` as Ed25519 whatever `crv` says, and an EC key
    // on a curve no assertion algorithm uses can only be a mistake: refuse both here,
    // once, rather than at every assertion.
    if !set.keys.iter().all(|key| curve_fits(&key.algorithm)) {
        return Err(JwksError::UnsupportedCurve);
    }
    if members
        .iter()
        .any(|key| PRIVATE_MEMBERS.iter().any(|name| key.contains_key(*name)))
    {
        return Err(JwksError::PrivateMembers);
    }
    // jsonwebtoken reads an `alg` it does not know (ECDH-ES+A256KW) as "unknown", so the
    // encryption keys are read from the document itself, key by key in the same order.
    let mut signing = Vec::new();
    let mut encryption = Vec::new();
    for (key, raw) in set.keys.into_iter().zip(&members) {
        if key.common.public_key_use == Some(PublicKeyUse::Encryption) {
            encryption.push(encryption_key(raw));
        } else {
            signing.push(key);
        }
    }
    Ok(ClientJwks {
        signing: std::sync::Arc::new(JwkSet { keys: signing }),
        encryption,
    })
}

fn encryption_key(raw: &Map<String, Value>) -> EncryptionKey {
    let text = |name: &str| raw.get(name).and_then(Value::as_str);
    let kind = match (text("kty"), text("crv")) {
        (Some("EC"), Some("P-256")) => EncryptionKeyKind::EcP256,
        (Some("RSA"), _) => EncryptionKeyKind::Rsa {
            bits: text("n").map_or(0, modulus_bits),
        },
        _ => EncryptionKeyKind::Other,
    };
    let wanted: &[&str] = match kind {
        EncryptionKeyKind::EcP256 => &["kty", "crv", "x", "y", "kid"],
        EncryptionKeyKind::Rsa { .. } => &["kty", "n", "e", "kid"],
        EncryptionKeyKind::Other => &[],
    };
    let public = wanted
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), raw.get(*name)?.clone())))
        .collect();
    EncryptionKey {
        kid: text("kid").map(str::to_owned),
        alg: text("alg").map(str::to_owned),
        kind,
        public,
    }
}

/// The size of an RSA modulus in bits (RFC 7518 §6.3.1.1: big-endian, no leading zero
/// octet, though some encoders add one); 0 if it is not base64url.
fn modulus_bits(n: &str) -> usize {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(n) else {
        return 0;
    };
    let Some(first) = bytes.iter().position(|&b| b != 0) else {
        return 0;
    };
    let leading = bytes[first].leading_zeros() as usize;
    (bytes.len() - first) * 8 - leading
}

fn curve_fits(params: &AlgorithmParameters) -> bool {
    match params {
        AlgorithmParameters::EllipticCurve(ec) => {
            matches!(ec.curve, EllipticCurve::P256 | EllipticCurve::P384)
        }
        AlgorithmParameters::OctetKeyPair(okp) => okp.curve == EllipticCurve::Ed25519,
        _ => true,
    }
}

/// The curve an EC signature algorithm needs (RFC 7518 §3.4).
pub fn ec_curve_of(alg: Algorithm) -> Option<EllipticCurve> {
    match alg {
        Algorithm::ES256 => Some(EllipticCurve::P256),
        Algorithm::ES384 => Some(EllipticCurve::P384),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_asymmetric_key_sets_are_accepted() {
        let ec = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"a",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
        assert!(parse_jwks(ec.as_bytes()).is_ok());
        let oct = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#;
        assert_eq!(
            parse_jwks(oct.as_bytes()).unwrap_err(),
            JwksError::NotAsymmetric
        );
        assert_eq!(parse_jwks(br#"{"keys":[]}"#).unwrap_err(), JwksError::Empty);
        assert!(matches!(parse_jwks(b"[]"), Err(JwksError::Syntax(_))));
    }

    #[test]
    fn keys_on_a_curve_that_does_not_fit_their_type_are_refused() {
        let okp_on_p256 = r#"{"keys":[{"kty":"OKP","crv":"P-256",
            "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        assert_eq!(
            parse_jwks(okp_on_p256.as_bytes()).unwrap_err(),
            JwksError::UnsupportedCurve
        );
        let ec_on_ed25519 = r#"{"keys":[{"kty":"EC","crv":"Ed25519",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
        assert_eq!(
            parse_jwks(ec_on_ed25519.as_bytes()).unwrap_err(),
            JwksError::UnsupportedCurve
        );
        let ed25519 = r#"{"keys":[{"kty":"OKP","crv":"Ed25519",
            "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        assert!(parse_jwks(ed25519.as_bytes()).is_ok());
    }

    const EC: &str = r#""kty":"EC","crv":"P-256",
        "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0""#;

    #[test]
    fn keys_are_sorted_by_use_and_an_encryption_key_never_signs() {
        let document = format!(
            r#"{{"keys":[{{{EC},"kid":"s"}},{{{EC},"kid":"e","use":"enc","alg":"ECDH-ES+A256KW","key_ops":["deriveKey"]}}]}}"#
        );
        let keys = parse_client_jwks(document.as_bytes()).unwrap();
        assert_eq!(keys.signing.keys.len(), 1);
        assert!(
            keys.signing.find("e").is_none(),
            "an encryption key never verifies"
        );
        let [enc] = keys.encryption.as_slice() else {
            panic!("one encryption key")
        };
        assert_eq!(enc.kid.as_deref(), Some("e"));
        assert_eq!(enc.kind, EncryptionKeyKind::EcP256);
        assert!(enc.fits(KeyManagementAlg::EcdhEsA256kw));
        assert!(!enc.fits(KeyManagementAlg::RsaOaep256));
        // Only what a JWE library needs goes on.
        let mut names: Vec<&str> = enc.public.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["crv", "kid", "kty", "x", "y"]);
        // A key declared for another algorithm fits none but that one.
        let declared = EncryptionKey {
            alg: Some("ECDH-ES+A128KW".into()),
            ..enc.clone()
        };
        assert!(!declared.fits(KeyManagementAlg::EcdhEsA256kw));
        // A set of encryption keys alone is a valid set with nothing to sign with.
        let enc_only = format!(r#"{{"keys":[{{{EC},"use":"enc"}}]}}"#);
        let keys = parse_client_jwks(enc_only.as_bytes()).unwrap();
        assert!(keys.signing.keys.is_empty());
        assert_eq!(keys.encryption.len(), 1);
    }

    #[test]
    fn a_set_with_private_members_is_refused() {
        for member in PRIVATE_MEMBERS.iter().filter(|m| **m != "k") {
            let document = format!(r#"{{"keys":[{{{EC},"use":"enc","{member}":"AQAB"}}]}}"#);
            assert_eq!(
                parse_client_jwks(document.as_bytes()).unwrap_err(),
                JwksError::PrivateMembers,
                "{member}"
            );
        }
    }

    #[test]
    fn rsa_keys_are_measured_by_their_modulus() {
        let n = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(modulus_bits(&n(&[0xff; 256])), 2048);
        // A leading zero octet (some encoders add one) does not count.
        let mut padded = vec![0u8];
        padded.extend([0x80; 256]);
        assert_eq!(modulus_bits(&n(&padded)), 2048);
        assert_eq!(modulus_bits(&n(&[0x7f; 256])), 2047);
        assert_eq!(modulus_bits(&n(&[0xff; 128])), 1024);
        assert_eq!(modulus_bits("not base64!"), 0);
        let rsa = |bits: usize| EncryptionKey {
            kid: None,
            alg: None,
            kind: EncryptionKeyKind::Rsa { bits },
            public: Map::new(),
        };
        assert!(rsa(2048).fits(KeyManagementAlg::RsaOaep256));
        assert!(!rsa(2047).fits(KeyManagementAlg::RsaOaep256));
        assert!(!rsa(4096).fits(KeyManagementAlg::EcdhEsA256kw));
    }
}
