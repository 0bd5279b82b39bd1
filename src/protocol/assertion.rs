//! `private_key_jwt` (RFC 7523 §3, OIDC Core §9): the client proves itself with a JWT
//! signed by its own private key.
//!
//! The assertion must be signed with an asymmetric algorithm by one of the client's
//! registered keys (the algorithm must fit the key, so a public key can never be used
//! as an HMAC secret), and be the client's registered algorithm if it has one; the
//! header and claims are read strictly (`tokens::strict_json`: no `crit`, no member
//! twice, typed claims); `iss` and `sub` are the client; `aud` is the issuer (or, for
//! clients registered with `assertion_audience = "oidc"`, also the token endpoint, and
//! arrays); it expires within [`MAX_LIFETIME_SECS`]; and its `jti` is accepted once,
//! remembered in the store until the assertion expires.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::domain::client::{AssertionAudience, Client};
use crate::domain::client_keys;
use crate::protocol::Context;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::store::keys;
use crate::tokens::strict_json::{self, Audience, RegisteredClaims};

/// An assertion is made for one request; minutes are plenty even with clock skew.
pub const MAX_LIFETIME_SECS: i64 = 300;
const LEEWAY_SECS: i64 = 30;

fn invalid(why: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, why)
}

pub async fn verify(
    ctx: &Context<'_>,
    client: &Client,
    assertion: &str,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    let unverified = parse(assertion)?;
    if !client.admits_signature(ctx.settings.server.profile, unverified.alg) {
        return Err(invalid(
            "under FAPI 2.0 an assertion is signed with PS256, ES256 or EdDSA",
        ));
    }
    let keys = ctx
        .client_keys
        .keys(ctx.outbound, client, unverified.kid.as_deref(), now)
        .await
        .map_err(|e| {
            tracing::warn!(client_id = %client.id, error = %e, "client keys unavailable");
            invalid("the client's keys are unavailable")
        })?;
    let audiences = Audiences {
        issuer: ctx.issuer,
        token_endpoint: ctx.token_endpoint,
    };
    let checked = check(&unverified, &keys, client, audiences, now.timestamp())?;

    // One `jti` store for /token, /introspect and /revoke: an assertion is spent
    // wherever it was first presented.
    let key = keys::client_assertion(&client.id, &checked.jti);
    let ttl = Duration::from_secs(
        u64::try_from(checked.exp + LEEWAY_SECS - now.timestamp()).unwrap_or(1),
    );
    if !ctx.store.put_new(&key, Vec::new(), ttl).await? {
        tracing::warn!(target: "security", client_id = %client.id, "a client assertion was replayed");
        return Err(invalid("the client assertion was already used"));
    }
    Ok(())
}

/// An assertion read with the strict reader (`tokens::strict_json`), its signature not
/// yet checked.
#[derive(Debug)]
pub struct UnverifiedAssertion<'a> {
    signing_input: &'a str,
    signature: &'a str,
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub claims: RegisteredClaims,
}

/// Reads an untrusted assertion: three parts; a header with an allowed asymmetric
/// algorithm, no `crit`, no member twice; claims of the registered types.
///
/// This and [`check`] are public so that the fuzz targets (`fuzz/`) run untrusted
/// assertions through the same checks as the token endpoint.
pub fn parse(assertion: &str) -> Result<UnverifiedAssertion<'_>, OAuthError> {
    let malformed = || invalid("malformed client assertion");
    let strict_json::CompactParts {
        signing_input,
        header,
        claims,
        signature,
    } = strict_json::compact_parts(assertion).ok_or_else(malformed)?;
    let header = strict_json::decode_part(header)
        .and_then(|json| strict_json::header(&json))
        .map_err(|e| {
            tracing::debug!(error = %e, "client assertion header refused");
            malformed()
        })?;
    // Only asymmetric algorithms (`client_keys::ASSERTION_ALGS`): never `none`, never HS*.
    let alg = client_keys::assertion_alg(&header.alg)
        .ok_or_else(|| invalid("the assertion's algorithm is not allowed"))?;
    let claims = strict_json::decode_part(claims)
        .and_then(|json| strict_json::claims(&json))
        .map_err(|e| {
            tracing::debug!(error = %e, "client assertion claims refused");
            malformed()
        })?
        .registered;
    Ok(UnverifiedAssertion {
        signing_input,
        signature,
        alg,
        kid: header.kid,
        claims,
    })
}

/// What names this server as an assertion's audience.
#[derive(Debug, Clone, Copy)]
pub struct Audiences<'a> {
    pub issuer: &'a str,
    pub token_endpoint: &'a str,
}

impl Audiences<'_> {
    /// RFC 7523 §3 point 3, under the client's [`AssertionAudience`].
    fn accept(&self, aud: &Audience, policy: AssertionAudience) -> bool {
        match policy {
            AssertionAudience::Issuer => *aud == Audience::One(self.issuer.to_owned()),
            AssertionAudience::Oidc => {
                aud.contains(self.issuer) || aud.contains(self.token_endpoint)
            }
        }
    }
}

/// What [`check`] vouches for; only the replay check (`jti`) is left to do.
#[derive(Debug)]
pub struct CheckedAssertion {
    pub jti: String,
    pub exp: i64,
}

/// Checks everything but replay: the algorithm against the client's registered one,
/// the signature by one of `keys`, `iss` and `sub` equal to the client's id, `aud`
/// under the client's audience policy, the lifetime against `now`, and a `jti`.
pub fn check(
    assertion: &UnverifiedAssertion<'_>,
    keys: &JwkSet,
    client: &Client,
    audiences: Audiences<'_>,
    now: i64,
) -> Result<CheckedAssertion, OAuthError> {
    let client_id = client.id.as_str();
    // RFC 7591 §2: once registered, no other algorithm, even with a key that fits it.
    if client
        .token_endpoint_auth_signing_alg
        .is_some_and(|registered| registered != assertion.alg)
    {
        tracing::info!(target: "security", %client_id, "a client assertion used another algorithm than the registered one");
        return Err(invalid(
            "the assertion's algorithm is not the registered one",
        ));
    }
    let jwk = select_key(keys, assertion.kid.as_deref(), assertion.alg)
        .ok_or_else(|| invalid("no registered key fits the assertion"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| invalid("unusable client key"))?;
    let signed = jsonwebtoken::crypto::verify(
        assertion.signature,
        assertion.signing_input.as_bytes(),
        &key,
        assertion.alg,
    )
    .unwrap_or(false);
    if !signed {
        tracing::debug!(%client_id, "client assertion with a bad signature");
        return Err(invalid("the client assertion is invalid"));
    }

    let claims = &assertion.claims;
    let names_client = |claim: &Option<String>| claim.as_deref() == Some(client_id);
    if !names_client(&claims.iss) || !names_client(&claims.sub) {
        return Err(invalid("the client assertion is invalid"));
    }
    if !claims
        .aud
        .as_ref()
        .is_some_and(|aud| audiences.accept(aud, client.assertion_audience))
    {
        tracing::debug!(%client_id, policy = client.assertion_audience.as_str(), "client assertion for another audience");
        return Err(invalid("the client assertion is for another audience"));
    }
    let exp = claims
        .exp
        .ok_or_else(|| invalid("the client assertion needs an exp"))?;
    // `exp` is the client's number: near i64::MAX, `exp + leeway` overflowed (a panic
    // with overflow checks, a wrap to "expired" without); compare without adding to it.
    if exp <= now.saturating_sub(LEEWAY_SECS) {
        return Err(invalid("the client assertion has expired"));
    }
    if exp > now.saturating_add(MAX_LIFETIME_SECS + LEEWAY_SECS) {
        return Err(invalid("the client assertion lives too long"));
    }
    let early = |t: Option<i64>| t.is_some_and(|t| t > now.saturating_add(LEEWAY_SECS));
    if early(claims.iat) || early(claims.nbf) {
        return Err(invalid("the client assertion is not valid yet"));
    }
    let jti = claims
        .jti
        .clone()
        .filter(|jti| !jti.is_empty() && jti.len() <= 256)
        .ok_or_else(|| invalid("the client assertion needs a jti"))?;
    Ok(CheckedAssertion { jti, exp })
}

/// The key named by `kid`, or with no `kid` the only key that fits `alg`; either way
/// its type, and its `alg` if it declares one, must fit the assertion's algorithm.
/// The request objects' signatures are checked with the same choice
/// (`authorize::request_object`).
pub fn select_key<'a>(keys: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
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
