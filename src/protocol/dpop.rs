//! DPoP (RFC 9449): a client proves, with every request, that it holds the private key
//! its tokens are bound to, so that a token stolen from it is useless to anyone else.
//!
//! A proof is a JWT in the request's `DPoP` header, signed by the client's key, with
//! that key's public half in its header. Checked here, in this order:
//!
//! - at most [`MAX_PROOF_BYTES`], three parts, read strictly (`tokens::strict_json`: no
//!   `crit`, no member twice, typed members);
//! - `typ` is `dpop+jwt`; `alg` is asymmetric and in `dpop.allowed_algs` (never `none`,
//!   never HS*); `jwk` is a public key that fits `alg` (a private member such as `d` is
//!   refused: a client that sends its private key has lost it), and it verifies the
//!   signature;
//! - `htm` is the request's method and `htu` the endpoint's URL as this server names
//!   it from its issuer (never from the `Host` header), both compared after the
//!   normalisation of RFC 9449 §4.3 (scheme and host in lower case, no default port,
//!   no query or fragment);
//! - `iat` lies within `dpop.proof_max_age_secs` before now and
//!   `dpop.proof_future_skew_secs` after it;
//! - with `dpop.nonce_required`, `nonce` is one this server gave (§8): otherwise the
//!   answer is `use_dpop_nonce` with a fresh nonce in a `DPoP-Nonce` header;
//! - at a resource (userinfo), `ath` is the base64url SHA-256 of the access token;
//! - last, `jti` is single-use: kept in the store (Redis is shared by every instance)
//!   for as long as the proof could be accepted.
//!
//! The proof's key is named by its RFC 7638 thumbprint (`jkt`), which is what tokens
//! and codes are bound to (`cnf.jkt`, `dpop_jkt`). Nonces need no state: a nonce is an
//! HMAC of a time slot under a key derived from the server secret, so every instance
//! makes and accepts the same ones; the current and the previous slot are accepted.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};
use ring::hmac;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Context;
use super::error::{ErrorCode, OAuthError};
use crate::config::DpopSettings;
use crate::domain::client::Client;
use crate::domain::client_keys;
use crate::store::keys;
use crate::tokens::random;
use crate::tokens::strict_json;
use crate::tokens::thumbprint::jwk_thumbprint;

/// The server secret's purpose for the nonces' key (see `server_secret`).
pub const NONCE_KEY_PURPOSE: &str = "dpop-nonce";
/// The `typ` of a proof (RFC 9449 §4.2).
pub const TYP: &str = "dpop+jwt";
/// The largest `DPoP` header accepted: a proof with an RSA-4096 key is under 2 KiB.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
const MAX_JTI_BYTES: usize = 256;
/// The members only a private JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
/// RSA keys shorter than 2048 bits are refused (RFC 7518 §3.3).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// A request that may carry a proof, as the web layer read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request's one `DPoP` header, if it had one.
    pub proof: Option<String>,
    /// The request's method, which `htm` must name.
    pub method: String,
    /// The endpoint's URL derived from the configured issuer, which `htu` must name.
    pub url: String,
}

/// A verified proof: the RFC 7638 thumbprint of the key that signed it, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    pub jkt: String,
    pub alg: Algorithm,
}

/// What [`check`] vouches for; only the replay check (`jti`) is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub jkt: String,
    pub jti: String,
    pub alg: Algorithm,
}

fn invalid(why: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, why)
}

/// The error of a request that must carry a proof and carries none.
pub fn proof_required() -> OAuthError {
    invalid("a DPoP proof is required")
}

/// The proof of `request`, verified and spent, if it carries one. `access_token` is
/// the token presented with it at a resource, which `ath` must hash.
pub async fn verify_if_present(
    ctx: &Context<'_>,
    request: &Request,
    access_token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Proof>, OAuthError> {
    match &request.proof {
        None => Ok(None),
        Some(proof) => verify(ctx, request, proof, access_token, now)
            .await
            .map(Some),
    }
}

/// The proof a client sent to the token endpoint or `/par`, verified and spent, if it
/// sent one; refused if the client's profile does not admit its algorithm (FAPI 2.0
/// §5.4.1: PS256, ES256 or EdDSA for every signature, DPoP proofs included).
pub async fn verify_for_client(
    ctx: &Context<'_>,
    client: &Client,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<Option<Proof>, OAuthError> {
    let proved = verify_if_present(ctx, request, None, now).await?;
    if proved
        .as_ref()
        .is_some_and(|proof| !client.admits_signature(ctx.settings.server.profile, proof.alg))
    {
        return Err(invalid(
            "the FAPI 2.0 profile admits DPoP proofs signed with PS256, ES256 or EdDSA only",
        ));
    }
    Ok(proved)
}

/// Verifies `proof` for `request` and spends its `jti`.
pub async fn verify(
    ctx: &Context<'_>,
    request: &Request,
    proof: &str,
    access_token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Proof, OAuthError> {
    let settings = &ctx.settings.dpop;
    let checked = check(
        settings,
        ctx.dpop_nonces,
        request,
        proof,
        access_token,
        now.timestamp(),
    )?;
    // Accepted at most from `max_age` before its `iat`... until `skew` after: kept that
    // long (and a second more), it can never be accepted twice.
    let ttl =
        Duration::from_secs(settings.proof_max_age_secs + settings.proof_future_skew_secs + 1);
    let key = keys::dpop_proof(&checked.jkt, &checked.jti);
    if !ctx.store.put_new(&key, Vec::new(), ttl).await? {
        tracing::warn!(target: "security", "a DPoP proof was replayed");
        return Err(invalid("the DPoP proof was already used"));
    }
    Ok(Proof {
        jkt: checked.jkt,
        alg: checked.alg,
    })
}

/// The claims of a proof beyond the registered ones (RFC 9449 §4.2).
#[derive(Deserialize)]
struct ProofClaims {
    htm: String,
    htu: String,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// Everything but replay, without I/O. Public so that the fuzz target `dpop_proof`
/// (`fuzz/`) runs untrusted proofs through the endpoints' own checks.
pub fn check(
    settings: &DpopSettings,
    nonces: &Nonces,
    request: &Request,
    proof: &str,
    access_token: Option<&str>,
    now: i64,
) -> Result<Checked, OAuthError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(invalid("the DPoP proof is too large"));
    }
    let malformed = || invalid("the DPoP proof is malformed");
    let strict_json::CompactParts {
        signing_input,
        header,
        claims,
        signature,
    } = strict_json::compact_parts(proof).ok_or_else(malformed)?;
    let header = strict_json::decode_part(header).map_err(|_| malformed())?;
    // The strict reader refuses `crit`, a member twice and mistyped `alg`/`typ`/`kid`;
    // `jwk` is read from the same bytes.
    let typed = strict_json::header(&header).map_err(|_| malformed())?;
    let members = strict_json::object(&header).map_err(|_| malformed())?;
    if !typed
        .typ
        .as_deref()
        .is_some_and(|typ| typ.eq_ignore_ascii_case(TYP))
    {
        return Err(invalid("the DPoP proof's typ must be dpop+jwt"));
    }
    let alg = client_keys::assertion_alg(&typed.alg)
        .filter(|_| settings.allowed_algs.contains(&typed.alg))
        .ok_or_else(|| invalid("the DPoP proof's algorithm is not allowed"))?;
    let Some(Value::Object(jwk)) = members.get("jwk") else {
        return Err(invalid("the DPoP proof's header needs a jwk"));
    };
    if PRIVATE_MEMBERS.iter().any(|name| jwk.contains_key(*name)) {
        tracing::warn!(target: "security", "a DPoP proof carried a private key");
        return Err(invalid("the DPoP proof's jwk must be a public key"));
    }
    let jkt = jwk_thumbprint(jwk).ok_or_else(|| invalid("the DPoP proof's jwk is unusable"))?;
    let key = public_key(jwk, alg).ok_or_else(|| invalid("the DPoP proof's jwk is unusable"))?;
    let signed = jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), &key, alg)
        .unwrap_or(false);
    if !signed {
        return Err(invalid("the DPoP proof's signature is invalid"));
    }

    let claims = strict_json::decode_part(claims)
        .and_then(|json| strict_json::claims(&json))
        .map_err(|_| malformed())?;
    let registered = claims.registered.clone();
    let ProofClaims {
        htm,
        htu,
        ath,
        nonce,
    } = claims
        .into_typed()
        .map_err(|_| invalid("the DPoP proof needs htm and htu"))?;
    let jti = registered
        .jti
        .filter(|jti| !jti.is_empty() && jti.len() <= MAX_JTI_BYTES)
        .ok_or_else(|| invalid("the DPoP proof needs a jti"))?;
    // RFC 9110 §9.1: methods are case-sensitive.
    if htm != request.method {
        return Err(invalid("the DPoP proof is for another method"));
    }
    if normalised_url(&htu).is_none_or(|htu| Some(htu) != normalised_url(&request.url)) {
        return Err(invalid("the DPoP proof is for another URL"));
    }
    let iat = registered
        .iat
        .ok_or_else(|| invalid("the DPoP proof needs an iat"))?;
    let max_age = i64::try_from(settings.proof_max_age_secs).unwrap_or(i64::MAX);
    let skew = i64::try_from(settings.proof_future_skew_secs).unwrap_or(0);
    // `iat` is the client's number: compare without adding to it.
    if iat < now.saturating_sub(max_age) {
        return Err(invalid("the DPoP proof is too old"));
    }
    if iat > now.saturating_add(skew) {
        return Err(invalid("the DPoP proof is issued in the future"));
    }
    if settings.nonce_required && !nonce.is_some_and(|nonce| nonces.accepts(&nonce, now)) {
        return Err(OAuthError::new(
            ErrorCode::UseDpopNonce,
            "the DPoP proof must carry the server's nonce",
        ));
    }
    if let Some(token) = access_token {
        let expected = random::sha256_b64(token);
        if !ath.is_some_and(|ath| random::constant_time_eq(ath.as_bytes(), expected.as_bytes())) {
            return Err(invalid(
                "the DPoP proof's ath does not match the access token",
            ));
        }
    }
    Ok(Checked { jkt, jti, alg })
}

/// The verifying key of `jwk`, if its type (and its curve, and its `alg` if it names
/// one) fits `alg`, so that a key is never used with an algorithm not meant for it.
fn public_key(jwk: &Map<String, Value>, alg: Algorithm) -> Option<DecodingKey> {
    let parsed: Jwk = serde_json::from_value(Value::Object(jwk.clone())).ok()?;
    let fits = match &parsed.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ) && URL_SAFE_NO_PAD
                .decode(&rsa.n)
                .is_ok_and(|n| n.len() >= MIN_RSA_MODULUS_BYTES)
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            client_keys::ec_curve_of(alg).is_some_and(|curve| curve == ec.curve)
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            alg == Algorithm::EdDSA && okp.curve == EllipticCurve::Ed25519
        }
        _ => false,
    };
    let declared_fits = parsed
        .common
        .key_algorithm
        .is_none_or(|declared| format!("{declared:?}") == format!("{alg:?}"));
    if !(fits && declared_fits) {
        return None;
    }
    DecodingKey::from_jwk(&parsed).ok()
}

/// A URL as RFC 9449 §4.3 compares `htu`: scheme and host in lower case, the default
/// port left out, the path as the URL standard normalises it, no query or fragment.
/// `None` for anything but an absolute http(s) URL without credentials.
pub fn normalised_url(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "https" | "http")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let mut normalised = format!("{}://{}", url.scheme(), url.host_str()?);
    // `port()` is `None` for the scheme's default port.
    if let Some(port) = url.port() {
        normalised.push_str(&format!(":{port}"));
    }
    normalised.push_str(url.path());
    Some(normalised)
}

/// The base64url SHA-256 of an access token: a proof's `ath` (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    random::sha256_b64(token)
}

/// Server nonces (RFC 9449 §8): stateless, so that any instance accepts what another
/// gave. A nonce is the HMAC-SHA256 of its time slot (`dpop.nonce_rotation_secs`
/// long) under a key derived from the server secret (purpose `"dpop-nonce"`).
pub struct Nonces {
    key: hmac::Key,
    rotation_secs: i64,
}

impl Nonces {
    pub fn new(key: &[u8; 32], rotation_secs: u64) -> Self {
        Nonces {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
            rotation_secs: i64::try_from(rotation_secs.max(1)).unwrap_or(i64::MAX),
        }
    }

    fn for_slot(&self, slot: i64) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, &slot.to_be_bytes()))
    }

    /// The nonce to give at `now` (Unix seconds).
    pub fn current(&self, now: i64) -> String {
        self.for_slot(now.div_euclid(self.rotation_secs))
    }

    /// Whether `nonce` was given in this slot or the one before: a nonce lives between
    /// one and two rotations.
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let slot = now.div_euclid(self.rotation_secs);
        [slot, slot.saturating_sub(1)]
            .into_iter()
            .any(|slot| random::constant_time_eq(self.for_slot(slot).as_bytes(), nonce.as_bytes()))
    }
}

/// How a resource request presented its access token (RFC 6750 §2.1, RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// A resource's refusal, and the scheme of the challenge that answers it: a DPoP
/// challenge for a request that used DPoP or a token bound to a key (RFC 9449 §7.1).
#[derive(Debug)]
pub struct ResourceError {
    pub error: OAuthError,
    pub challenge: Scheme,
}

impl std::fmt::Display for ResourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

/// RFC 9449 §7.1: a bound token (`bound`, its `cnf.jkt`) is accepted only under the DPoP
/// scheme, with a proof signed by its key whose `ath` hashes it; an unbound token only
/// as a Bearer token. A proof sent beside a Bearer token that is not bound is ignored.
pub async fn check_resource(
    ctx: &Context<'_>,
    scheme: Scheme,
    token: &str,
    bound: Option<&str>,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<(), ResourceError> {
    let refuse = |error| ResourceError {
        error,
        challenge: Scheme::Dpop,
    };
    let invalid_token = |why| refuse(OAuthError::new(ErrorCode::InvalidToken, why));
    match (scheme, bound) {
        (Scheme::Bearer, None) => Ok(()),
        (Scheme::Bearer, Some(_)) => {
            tracing::warn!(target: "security", "a DPoP-bound access token was presented as a Bearer token");
            Err(invalid_token(
                "the access token is DPoP-bound: present it with the DPoP scheme and a proof",
            ))
        }
        (Scheme::Dpop, None) => Err(invalid_token("the access token is not DPoP-bound")),
        (Scheme::Dpop, Some(jkt)) => {
            let proof = request
                .proof
                .as_deref()
                .ok_or_else(|| refuse(proof_required()))?;
            let proved = verify(ctx, request, proof, Some(token), now)
                .await
                .map_err(refuse)?;
            if !random::constant_time_eq(proved.jkt.as_bytes(), jkt.as_bytes()) {
                tracing::warn!(target: "security", "a DPoP-bound access token was presented with another key");
                return Err(invalid_token("the access token is bound to another key"));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::keys::{SigningAlg, SigningKey};
    use serde_json::json;

    const NOW: i64 = 1_900_000_000;
    const URL: &str = "https://id.example.gov.vn/token";

    fn settings() -> DpopSettings {
        DpopSettings {
            allowed_algs: vec!["ES256".into(), "RS256".into()],
            proof_max_age_secs: 60,
            proof_future_skew_secs: 5,
            nonce_required: false,
            nonce_rotation_secs: 300,
        }
    }

    fn request() -> Request {
        Request {
            proof: None,
            method: "POST".into(),
            url: URL.into(),
        }
    }

    fn sign(key: &SigningKey, header: &Value, claims: &Value) -> String {
        let mut jws = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = key.sign(jws.as_bytes()).unwrap();
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(signature));
        jws
    }

    fn header(key: &SigningKey) -> Value {
        let jwk = key.public_jwk();
        json!({ "typ": TYP, "alg": "ES256", "jwk": { "kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"] } })
    }

    fn claims() -> Value {
        json!({ "jti": "j", "htm": "POST", "htu": URL, "iat": NOW })
    }

    #[test]
    fn a_proof_names_its_key_by_thumbprint_and_each_claim_is_checked() {
        let key = SigningKey::generate(SigningAlg::Es256).unwrap().0;
        let nonces = Nonces::new(&[1; 32], 300);
        let check = |proof: &str, token: Option<&str>| {
            check(&settings(), &nonces, &request(), proof, token, NOW)
        };
        let checked = check(&sign(&key, &header(&key), &claims()), None).unwrap();
        assert_eq!(checked.jkt, key.kid());
        assert_eq!(checked.jti, "j");

        let with = |name: &str, value: Value| {
            let mut claims = claims();
            claims[name] = value;
            sign(&key, &header(&key), &claims)
        };
        for (case, proof) in [
            ("htm", with("htm", json!("post"))),
            (
                "htu path",
                with("htu", json!("https://id.example.gov.vn/token/")),
            ),
            (
                "htu host",
                with("htu", json!("https://id.example.gov.vn.evil/token")),
            ),
            (
                "htu credentials",
                with("htu", json!("https://a@id.example.gov.vn/token")),
            ),
            ("iat too old", with("iat", json!(NOW - 61))),
            ("iat ahead", with("iat", json!(NOW + 6))),
        ] {
            assert_eq!(
                check(&proof, None).unwrap_err().code,
                ErrorCode::InvalidDpopProof,
                "{case}"
            );
        }
        // The window's edges are inside it; the default port and the case of the host
        // make no difference.
        assert!(check(&with("iat", json!(NOW - 60)), None).is_ok());
        assert!(check(&with("iat", json!(NOW + 5)), None).is_ok());
        let same = with("htu", json!("HTTPS://ID.Example.gov.vn:443/token?x#y"));
        assert!(check(&same, None).is_ok());

        // At a resource, ath must hash the token presented.
        let token = "an access token";
        assert!(check(&sign(&key, &header(&key), &claims()), Some(token)).is_err());
        let bound = with("ath", json!(access_token_hash(token)));
        assert!(check(&bound, Some(token)).is_ok());
        assert!(check(&bound, Some("another token")).is_err());
    }

    #[test]
    fn nonces_live_one_to_two_rotations_and_are_the_servers_own() {
        let nonces = Nonces::new(&[1; 32], 300);
        let given = nonces.current(NOW);
        assert!(nonces.accepts(&given, NOW));
        assert!(nonces.accepts(&given, NOW + 300));
        assert!(!nonces.accepts(&given, NOW + 600));
        // Another secret's nonces are not ours; every instance with ours agrees.
        assert!(!Nonces::new(&[2; 32], 300).accepts(&given, NOW));
        assert!(Nonces::new(&[1; 32], 300).accepts(&given, NOW));

        let key = SigningKey::generate(SigningAlg::Es256).unwrap().0;
        let required = DpopSettings {
            nonce_required: true,
            ..settings()
        };
        let mut with_nonce = claims();
        with_nonce["nonce"] = json!(given);
        let check = |claims: &Value| {
            check(
                &required,
                &nonces,
                &request(),
                &sign(&key, &header(&key), claims),
                None,
                NOW,
            )
        };
        assert!(check(&with_nonce).is_ok());
        assert_eq!(check(&claims()).unwrap_err().code, ErrorCode::UseDpopNonce);
    }

    #[test]
    fn urls_are_compared_as_rfc_9449_normalises_them() {
        assert_eq!(
            normalised_url("HTTPS://Id.Example:443/a/../token?q#f").as_deref(),
            Some("https://id.example/token")
        );
        assert_eq!(
            normalised_url("http://127.0.0.1:8080/token").as_deref(),
            Some("http://127.0.0.1:8080/token")
        );
        for bad in [
            "/token",
            "ftp://id.example/token",
            "https://u:p@id.example/",
        ] {
            assert_eq!(normalised_url(bad), None, "{bad}");
        }
    }
}
