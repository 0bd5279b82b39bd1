//! `private_key_jwt` client assertions: the unverified read of `sub` that picks the
//! client (`client_auth::credentials`), then the header and every check but replay
//! (`assertion::header`, `assertion::check`), against the fixed key set of
//! `KEY_CLIENT`.
//!
//! An input whose first byte is odd is `HEADER\nCLAIMS`, signed here with the one
//! private key of that set, so that the claim checks behind the signature are reached;
//! otherwise the input is the compact JWS itself.
//!
//! Invariants: an accepted assertion is signed by the Ed25519 key (nothing else can be:
//! the targets hold no other private key), names the client as `iss` and `sub`, has an
//! allowed audience, a `jti`, and an expiry within the allowed window.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use citizen_idp::domain::client_keys::parse_jwks;
use citizen_idp::oidc::token::assertion::{self, MAX_LIFETIME_SECS};
use citizen_idp::oidc::token::client_auth::{self, AssertionParams, JWT_BEARER};
use citizen_idp_fuzz::{
    ED_KID, ISSUER, KEY_CLIENT, NOW, TOKEN_ENDPOINT, client_jwks, sign_ed, split,
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
    let Ok(header) = assertion::header(&jws) else {
        return;
    };
    let audiences = [ISSUER, TOKEN_ENDPOINT];
    let Ok(checked) = assertion::check(&jws, &header, keys, KEY_CLIENT, &audiences, NOW) else {
        return;
    };

    assert_eq!(format!("{:?}", header.alg), "EdDSA", "{jws}");
    assert!(header.kid.as_deref().is_none_or(|kid| kid == ED_KID));
    let payload = jws.split('.').nth(1).expect("three parts");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON");
    assert_eq!(claims["iss"], KEY_CLIENT);
    assert_eq!(claims["sub"], KEY_CLIENT);
    let aud_ok = |v: &Value| v.as_str().is_some_and(|a| audiences.contains(&a));
    match &claims["aud"] {
        Value::Array(list) => assert!(list.iter().any(aud_ok)),
        other => assert!(aud_ok(other)),
    }
    assert_eq!(claims["exp"].as_i64(), Some(checked.exp));
    assert!(checked.exp > NOW - LEEWAY_SECS);
    assert!(checked.exp <= NOW + MAX_LIFETIME_SECS + LEEWAY_SECS);
    assert!(!checked.jti.is_empty() && checked.jti.len() <= 256);
    assert_eq!(claims["jti"], checked.jti.as_str());
});
