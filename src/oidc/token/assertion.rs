//! `private_key_jwt` (RFC 7523 §3, OIDC Core §9): the client proves itself with a JWT
//! signed by its own private key.
//!
//! The assertion must be signed with an asymmetric algorithm by one of the client's
//! registered keys (the algorithm must fit the key, so a public key can never be used
//! as an HMAC secret); `iss` and `sub` are the client; `aud` is the issuer or the
//! token endpoint; it expires within [`MAX_LIFETIME_SECS`]; and its `jti` is accepted
//! once, remembered in the store until the assertion expires.

use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::Deserialize;

use crate::domain::client::Client;
use crate::domain::client_keys::{self, ASSERTION_ALGS};
use crate::http::oauth_error::{ErrorCode, OAuthError};
use crate::state::AppState;
use crate::tokens::random;

/// An assertion is made for one request; minutes are plenty even with clock skew.
pub const MAX_LIFETIME_SECS: i64 = 300;
const LEEWAY_SECS: i64 = 30;

#[derive(Deserialize)]
struct AssertionClaims {
    exp: i64,
    iat: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
}

fn invalid(why: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, why)
}

pub async fn verify(state: &AppState, client: &Client, assertion: &str) -> Result<(), OAuthError> {
    let header = header(assertion)?;
    let keys = state
        .client_keys
        .keys(&state.http, client, header.kid.as_deref())
        .await
        .map_err(|e| {
            tracing::warn!(client_id = %client.id, error = %e, "client keys unavailable");
            invalid("the client's keys are unavailable")
        })?;
    let audiences = [state.issuer.as_str(), state.endpoints.token.as_str()];
    let now = state.clock.now().timestamp();
    let checked = check(assertion, &header, &keys, &client.id, &audiences, now)?;

    let key = format!(
        "assertion:{}",
        random::sha256_b64(&format!("{}\u{0}{}", client.id, checked.jti))
    );
    let ttl = Duration::from_secs(u64::try_from(checked.exp + LEEWAY_SECS - now).unwrap_or(1));
    if !state.store.put_new(&key, Vec::new(), ttl).await? {
        tracing::warn!(target: "security", client_id = %client.id, "a client assertion was replayed");
        return Err(invalid("the client assertion was already used"));
    }
    Ok(())
}

/// The header of an untrusted assertion, refused unless its algorithm is allowed.
///
/// This and [`check`] are public so that the fuzz targets (`fuzz/`) run untrusted
/// assertions through the same checks as the token endpoint.
pub fn header(assertion: &str) -> Result<Header, OAuthError> {
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| invalid("malformed client assertion"))?;
    if !ASSERTION_ALGS.contains(&header.alg) {
        return Err(invalid("the assertion's algorithm is not allowed"));
    }
    Ok(header)
}

/// What [`check`] vouches for; only the replay check (`jti`) is left to do.
#[derive(Debug)]
pub struct CheckedAssertion {
    pub jti: String,
    pub exp: i64,
}

/// Checks everything but replay: the signature by one of `keys`, `iss` and `sub` equal
/// to `client_id`, `aud` one of `audiences`, the lifetime against `now`, and a `jti`.
pub fn check(
    assertion: &str,
    header: &Header,
    keys: &JwkSet,
    client_id: &str,
    audiences: &[&str],
    now: i64,
) -> Result<CheckedAssertion, OAuthError> {
    let jwk = select_key(keys, header.kid.as_deref(), header.alg)
        .ok_or_else(|| invalid("no registered key fits the assertion"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| invalid("unusable client key"))?;

    let mut validation = Validation::new(header.alg);
    validation.set_audience(audiences);
    validation.set_issuer(&[client_id]);
    validation.sub = Some(client_id.to_owned());
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    // Time is checked below against the server's clock, which tests control.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let claims = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
        .map_err(|e| {
            tracing::debug!(%client_id, error = %e, "client assertion refused");
            invalid("the client assertion is invalid")
        })?
        .claims;

    // `exp` is the client's number: near i64::MAX, `exp + leeway` overflowed (a panic
    // with overflow checks, a wrap to "expired" without); compare without adding to it.
    if claims.exp <= now.saturating_sub(LEEWAY_SECS) {
        return Err(invalid("the client assertion has expired"));
    }
    if claims.exp > now.saturating_add(MAX_LIFETIME_SECS + LEEWAY_SECS) {
        return Err(invalid("the client assertion lives too long"));
    }
    let early = |t: Option<i64>| t.is_some_and(|t| t > now.saturating_add(LEEWAY_SECS));
    if early(claims.iat) || early(claims.nbf) {
        return Err(invalid("the client assertion is not valid yet"));
    }
    let jti = claims
        .jti
        .filter(|jti| !jti.is_empty() && jti.len() <= 256)
        .ok_or_else(|| invalid("the client assertion needs a jti"))?;
    Ok(CheckedAssertion {
        jti,
        exp: claims.exp,
    })
}

/// The key named by `kid`, or with no `kid` the only key that fits `alg`; either way
/// its type, and its `alg` if it declares one, must fit the assertion's algorithm.
fn select_key<'a>(keys: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let fits = |jwk: &&Jwk| {
        let family_fits = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            AlgorithmParameters::EllipticCurve(ec) => {
                client_keys::ec_curve_of(alg).is_some_and(|curve| curve == ec.curve)
            }
            AlgorithmParameters::OctetKeyPair(_) => alg == Algorithm::EdDSA,
            _ => false,
        };
        let declared_fits = jwk
            .common
            .key_algorithm
            .is_none_or(|declared| format!("{declared:?}") == format!("{alg:?}"));
        family_fits && declared_fits
    };
    match kid {
        Some(kid) => keys
            .keys
            .iter()
            .filter(|jwk| jwk.common.key_id.as_deref() == Some(kid))
            .find(fits),
        None => {
            let mut candidates = keys.keys.iter().filter(fits);
            let only = candidates.next()?;
            candidates.next().is_none().then_some(only)
        }
    }
}
