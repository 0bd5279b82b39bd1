//! Compact JWS (RFC 7515) signing with our pre-parsed keys, and verification of the
//! tokens we issued (through jsonwebtoken).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::TokenError;
use super::key_set::KeySet;
use super::keys::{SigningAlg, SigningKey};

/// Signs `claims` as a compact JWS with header `{alg, kid, typ}`.
#[tracing::instrument(name = "sign", skip_all, fields(alg = key.alg().as_str(), typ = typ))]
pub fn sign<T: Serialize>(key: &SigningKey, typ: &str, claims: &T) -> Result<String, TokenError> {
    let header = json!({ "alg": key.alg().as_str(), "kid": key.kid(), "typ": typ });
    let header = serde_json::to_vec(&header).map_err(|e| TokenError::Encoding(e.to_string()))?;
    let claims = serde_json::to_vec(claims).map_err(|e| TokenError::Encoding(e.to_string()))?;
    let mut jws = URL_SAFE_NO_PAD.encode(header);
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut jws);
    let signature = key.sign(jws.as_bytes())?;
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
    Ok(jws)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("malformed token")]
    Malformed,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("invalid signature or claims")]
    Invalid,
    #[error("unexpected token type")]
    WrongType,
}

/// Verifies the signature, `typ` and `iss` of a token we issued. Expiry is the
/// caller's to check against its own `now` (time is a parameter).
///
/// `keys` is the instance's current set. An unknown `kid` is refused at once and never
/// triggers a reload: otherwise anyone could make every instance query the database
/// per request. Keys are published before they sign, so the periodic reload suffices.
pub fn verify<T: DeserializeOwned>(
    keys: &KeySet,
    token: &str,
    expected_typ: &str,
    issuer: &str,
) -> Result<T, JwtError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
    let kid = header.kid.as_deref().ok_or(JwtError::UnknownKey)?;
    let key = keys.find(kid).ok_or(JwtError::UnknownKey)?;
    // The algorithm comes from our key, never from the token's header, so an attacker
    // cannot downgrade it (e.g. to `none` or HS256 with the public key as secret).
    let algorithm = match key.alg() {
        SigningAlg::Rs256 => Algorithm::RS256,
        SigningAlg::Es256 => Algorithm::ES256,
    };
    if header.alg != algorithm {
        return Err(JwtError::Invalid);
    }
    if !header
        .typ
        .as_deref()
        .is_some_and(|typ| typ.eq_ignore_ascii_case(expected_typ))
    {
        return Err(JwtError::WrongType);
    }
    let mut validation = Validation::new(algorithm);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation.set_issuer(&[issuer]);
    jsonwebtoken::decode::<T>(token, key.decoding_key(), &validation)
        .map(|data| data.claims)
        .map_err(|_| JwtError::Invalid)
}
