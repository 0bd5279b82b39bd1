//! `private_key_jwt` client assertions: the unverified read of `sub` that picks the
//! client (`client_auth::credentials`), then the strict read and every check but
//! replay (`assertion::parse`, `assertion::check`), against the fixed key set of
//! `KEY_CLIENT`.
//!
//! An input whose first byte is odd is `HEADER\nCLAIMS`, signed here with the one
//! private key of that set, so that the claim checks behind the signature are reached;
//! otherwise the input is the compact JWS itself. Bit 1 of the first byte registers the
//! client with `assertion_audience = "oidc"` (else "issuer"), bit 2 with
//! `token_endpoint_auth_signing_alg = ES256` (which nothing here can sign).
//!
//! Invariants: an accepted assertion is signed by the Ed25519 key (nothing else can be:
//! the targets hold no other private key) with no other registered algorithm, has no
//! `crit` header, names the client as `iss` and `sub` (strings), has an audience the
//! client's policy allows (for "issuer", the issuer as one string), a `jti`, and an
//! expiry within the allowed window.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use citizen_idp::domain::client::AssertionAudience;
use citizen_idp::domain::client_keys::parse_jwks;
use citizen_idp::protocol::assertion::{self, Audiences, MAX_LIFETIME_SECS};
use citizen_idp::protocol::client_auth::{self, AssertionParams, JWT_BEARER};
use citizen_idp_fuzz::{
    ED_KID, ISSUER, KEY_CLIENT, NOW, TOKEN_ENDPOINT, client_jwks, key_client, sign_ed, split,
};
use jsonwebtoken::jwk::JwkSet;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const LEEWAY_SECS: i64 = 30;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let jws = if mode % 2 == 1 {
        let (header, claims) = split(rest, b'\n');
        sign_ed(header, claims)
    } else {
        match std::str::from_utf8(rest) {
            Ok(jws) => jws.to_owned(),
            Err(_) => return,
        }
    };

    let params = AssertionParams {
        assertion_type: Some(JWT_BEARER),
        assertion: Some(&jws),
    };
    if let Ok(credentials) = client_auth::credentials(None, None, None, params) {
        assert!(!credentials.client_id.is_empty());
        assert_eq!(credentials.assertion.as_deref(), Some(jws.as_str()));
    }

    static KEYS: OnceLock<JwkSet> = OnceLock::new();
    let keys = KEYS.get_or_init(|| parse_jwks(client_jwks().as_bytes()).expect("fixture keys"));
    let Ok(unverified) = assertion::parse(&jws) else {
        return;
    };
    let audiences = Audiences {
        issuer: ISSUER,
        token_endpoint: TOKEN_ENDPOINT,
    };
    let policy = if mode & 2 == 2 {
        AssertionAudience::Oidc
    } else {
        AssertionAudience::Issuer
    };
    let mut client = key_client(policy);
    if mode & 4 == 4 {
        client.token_endpoint_auth_signing_alg = Some(jsonwebtoken::Algorithm::ES256);
    }
    let Ok(checked) = assertion::check(&unverified, keys, &client, audiences, NOW) else {
        return;
    };

    assert!(
        mode & 4 == 0,
        "another algorithm than the registered one: {jws}"
    );
    assert_eq!(format!("{:?}", unverified.alg), "EdDSA", "{jws}");
    assert!(unverified.kid.as_deref().is_none_or(|kid| kid == ED_KID));
    let part = |i: usize| -> Value {
        let encoded = jws.split('.').nth(i).expect("three parts");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).expect("base64url")).expect("JSON")
    };
    assert!(part(0).get("crit").is_none(), "{jws}");
    let claims = part(1);
    assert_eq!(claims["iss"], KEY_CLIENT);
    assert_eq!(claims["sub"], KEY_CLIENT);
    match (policy, &claims["aud"]) {
        (AssertionAudience::Issuer, aud) => assert_eq!(aud, ISSUER, "{jws}"),
        (AssertionAudience::Oidc, Value::Array(list)) => {
            assert!(list.iter().all(Value::is_string));
            assert!(list.iter().any(|a| a == ISSUER || a == TOKEN_ENDPOINT));
        }
        (AssertionAudience::Oidc, aud) => assert!(aud == ISSUER || aud == TOKEN_ENDPOINT),
    }
    assert!(claims["exp"].is_number());
    assert!(checked.exp > NOW - LEEWAY_SECS);
    assert!(checked.exp <= NOW + MAX_LIFETIME_SECS + LEEWAY_SECS);
    assert!(!checked.jti.is_empty() && checked.jti.len() <= 256);
    assert_eq!(claims["jti"], checked.jti.as_str());
});
