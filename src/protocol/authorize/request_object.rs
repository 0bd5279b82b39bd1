//! Signed request objects (RFC 9101, OIDC Core §6.1): an authorization request sent as a
//! JWT its client signed, by value in the `request` parameter, at the authorization
//! endpoint or at `/par`.
//!
//! The object is read with the strict JOSE reader (`tokens::strict_json`), as client
//! assertions are, and must be signed with an asymmetric algorithm by one of the
//! client's registered keys (`protocol::client_keys`), with its registered
//! `request_object_signing_alg` if it has one (and PS256, ES256 or EdDSA under FAPI 2.0).
//! An unsigned object (`alg: none`) is always refused: it proves nothing of its client,
//! and a high-assurance provider acts on nothing it cannot attribute. The claims: `iss`
//! and `client_id` name the client, `aud` names the issuer, `nbf` is not in the future,
//! `exp` is at most [`MAX_LIFETIME_SECS`] after `nbf`, and `jti` is accepted once
//! (remembered in the store until `exp`, so on Redis by every instance).
//!
//! The object's members are then the request. RFC 9101 §5 and OIDC Core §6.3.3: only
//! the object's parameters are used, none of those beside it in the query (the client
//! is the one the query named, and the object must name the same).

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use crate::domain::client::Client;
use crate::domain::client_keys;
use crate::domain::client_security::Profile;
use crate::protocol::Context;
use crate::protocol::assertion;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::store::keys;
use crate::tokens::strict_json::{self, Claims};

/// RFC 9101 leaves the lifetime to the server. This provider holds every client to
/// the FAPI rule (1.0 Advanced §5.2.2): `exp` at most 60 minutes after `nbf`; with `exp`
/// not yet passed, `nbf` is then at most 60 minutes in the past too.
pub const MAX_LIFETIME_SECS: i64 = 3600;
/// Clock skew allowed between the client and us.
const LEEWAY_SECS: i64 = 30;
/// The `typ` of a request object: RFC 9101 §10.8 registers `oauth-authz-req+jwt`, and
/// OIDC Core clients send `JWT` or none. Any other type names another kind of JWT (an
/// ID token, a logout token, a DPoP proof) that must not pass for a request.
const TYPES: [&str; 2] = ["oauth-authz-req+jwt", "JWT"];
/// Members that are the JWT's own, not parameters of the request.
const JWT_CLAIMS: [&str; 7] = ["iss", "aud", "exp", "nbf", "iat", "jti", "sub"];

fn invalid(why: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequestObject, why)
}

/// Verifies `client`'s request object `jws` and spends its `jti`: the parameters of
/// the request it carries.
pub async fn verify(
    ctx: &Context<'_>,
    client: &Client,
    jws: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, OAuthError> {
    let unverified = parse(jws)?;
    let keys = ctx
        .client_keys
        .keys(ctx.outbound, client, unverified.kid.as_deref(), now)
        .await
        .map_err(|e| {
            tracing::warn!(client_id = %client.id, error = %e, "client keys unavailable for a request object");
            invalid("the client's keys are unavailable")
        })?;
    let profile = client.profile(ctx.settings.server.profile);
    let checked = check(
        &unverified,
        &keys,
        client,
        profile,
        ctx.issuer,
        now.timestamp(),
    )?;
    let key = keys::request_object(&client.id, &checked.jti);
    let ttl = Duration::from_secs(
        u64::try_from(checked.exp.saturating_add(LEEWAY_SECS) - now.timestamp()).unwrap_or(1),
    );
    if !ctx.store.put_new(&key, Vec::new(), ttl).await? {
        tracing::warn!(target: "security", client_id = %client.id, "a request object was replayed");
        return Err(invalid("the request object was already used"));
    }
    Ok(checked.params)
}

/// A request object read with the strict reader, its signature not yet checked.
pub struct UnverifiedRequestObject<'a> {
    signing_input: &'a str,
    signature: &'a str,
    pub alg: Algorithm,
    pub kid: Option<String>,
    claims: Claims,
}

/// Reads an untrusted request object: a compact JWS (an encrypted one is not
/// accepted), a header with an allowed asymmetric algorithm and a request object's
/// `typ`, no `crit`, no member twice; claims of the registered types.
pub fn parse(jws: &str) -> Result<UnverifiedRequestObject<'_>, OAuthError> {
    let malformed = || invalid("the request object is not a signed JWT");
    let strict_json::CompactParts {
        signing_input,
        header,
        claims,
        signature,
    } = strict_json::compact_parts(jws).ok_or_else(malformed)?;
    let header = strict_json::decode_part(header)
        .and_then(|json| strict_json::header(&json))
        .map_err(|e| {
            tracing::debug!(error = %e, "request object header refused");
            malformed()
        })?;
    if header.alg.eq_ignore_ascii_case("none") {
        tracing::info!(target: "security", "an unsigned request object was refused");
        return Err(invalid("unsigned request objects are not accepted"));
    }
    // `client_keys::ASSERTION_ALGS`: asymmetric only, never HS* (a public key used as
    // an HMAC secret would let anyone sign).
    let alg = client_keys::assertion_alg(&header.alg)
        .ok_or_else(|| invalid("the request object's algorithm is not allowed"))?;
    if header
        .typ
        .as_deref()
        .is_some_and(|typ| !TYPES.iter().any(|t| t.eq_ignore_ascii_case(typ)))
    {
        return Err(invalid(
            "the request object's typ is not a request object's",
        ));
    }
    let claims = strict_json::decode_part(claims)
        .and_then(|json| strict_json::claims(&json))
        .map_err(|e| {
            tracing::debug!(error = %e, "request object claims refused");
            malformed()
        })?;
    Ok(UnverifiedRequestObject {
        signing_input,
        signature,
        alg,
        kid: header.kid,
        claims,
    })
}

/// What [`check`] vouches for: the request's parameters, and the `jti` to spend.
pub struct CheckedRequestObject {
    pub params: Vec<(String, String)>,
    pub jti: String,
    pub exp: i64,
}

/// Checks everything but replay: the algorithm against the client's registration and
/// profile, the signature by one of `keys`, the claims against `client`, `issuer` and
/// `now`; and turns the members into parameters.
pub fn check(
    object: &UnverifiedRequestObject<'_>,
    keys: &JwkSet,
    client: &Client,
    profile: Profile,
    issuer: &str,
    now: i64,
) -> Result<CheckedRequestObject, OAuthError> {
    let client_id = client.id.as_str();
    if client
        .security
        .request_object_signing_alg
        .is_some_and(|registered| registered != object.alg)
    {
        tracing::info!(target: "security", %client_id, "a request object used another algorithm than the registered one");
        return Err(invalid(
            "the request object's algorithm is not the registered one",
        ));
    }
    if !client.admits_signature(profile, object.alg) {
        return Err(invalid(
            "under FAPI 2.0 a request object is signed with PS256, ES256 or EdDSA",
        ));
    }
    let jwk = assertion::select_key(keys, object.kid.as_deref(), object.alg)
        .ok_or_else(|| invalid("no registered key fits the request object"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| invalid("unusable client key"))?;
    let signed = jsonwebtoken::crypto::verify(
        object.signature,
        object.signing_input.as_bytes(),
        &key,
        object.alg,
    )
    .unwrap_or(false);
    if !signed {
        tracing::info!(target: "security", %client_id, "a request object with a bad signature");
        return Err(invalid("the request object's signature is invalid"));
    }

    let claims = &object.claims.registered;
    if claims.iss.as_deref() != Some(client_id) {
        return Err(invalid("the request object's iss is not the client"));
    }
    if !claims.aud.as_ref().is_some_and(|aud| aud.contains(issuer)) {
        return Err(invalid("the request object's aud is not this issuer"));
    }
    let nbf = claims
        .nbf
        .ok_or_else(|| invalid("the request object needs an nbf"))?;
    let exp = claims
        .exp
        .ok_or_else(|| invalid("the request object needs an exp"))?;
    // The client's numbers may be anything: compare without overflowing.
    if nbf > now.saturating_add(LEEWAY_SECS) {
        return Err(invalid("the request object is not valid yet"));
    }
    if exp <= now.saturating_sub(LEEWAY_SECS) {
        return Err(invalid("the request object has expired"));
    }
    if exp.saturating_sub(nbf) > MAX_LIFETIME_SECS {
        return Err(invalid(
            "the request object lives more than 60 minutes after its nbf",
        ));
    }
    let jti = claims
        .jti
        .clone()
        .filter(|jti| !jti.is_empty() && jti.len() <= 256)
        .ok_or_else(|| invalid("the request object needs a jti"))?;

    let members: serde_json::Map<String, Value> = object
        .claims
        .clone()
        .into_typed()
        .map_err(|_| invalid("the request object is not a signed JWT"))?;
    // RFC 9101 §5: the client_id claim, like the query's, names the client.
    if members.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err(invalid("the request object's client_id is not the client"));
    }
    let mut params = Vec::with_capacity(members.len());
    for (name, value) in members {
        if JWT_CLAIMS.contains(&name.as_str()) {
            continue;
        }
        // RFC 9101 §4: an object never points at another.
        if name == "request" || name == "request_uri" {
            return Err(invalid(
                "a request object must not hold request or request_uri",
            ));
        }
        let value = match value {
            Value::Null => continue,
            Value::String(text) => text,
            // `max_age` is a number, `claims` an object (OIDC Core §6.1): the request
            // reads them as their text, as it would in the query.
            other => other.to_string(),
        };
        params.push((name, value));
    }
    Ok(CheckedRequestObject { params, jti, exp })
}
