//! The public keys a client authenticates with (`private_key_jwt`): which JWK Sets are
//! acceptable, and which signature algorithms an assertion may use.

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};

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
}

/// Parses a JWK Set and checks that it holds only public asymmetric keys.
pub fn parse_jwks(document: &[u8]) -> Result<JwkSet, JwksError> {
    if document.len() > MAX_JWKS_BYTES {
        return Err(JwksError::TooLarge);
    }
    let set: JwkSet =
        serde_json::from_slice(document).map_err(|e| JwksError::Syntax(e.to_string()))?;
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
    Ok(set)
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
}
