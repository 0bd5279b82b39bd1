//! A client's JWK Set document (`client_keys::parse_client_jwks`), as registered inline or
//! fetched from its `jwks_uri`, and then used to check an assertion
//! (`assertion::parse`, `assertion::check`), which turns each key into a verifying key.
//!
//! Invariants: an accepted set is within the size and count bounds, holds only
//! asymmetric keys, keeps its encryption keys (`use: enc`) out of those that verify,
//! and survives serialising and parsing again unchanged; and a fixed
//! assertion signed with the fixtures' Ed25519 key is accepted only if the set holds
//! that very public key.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use citizen_idp::domain::client::AssertionAudience;
use citizen_idp::domain::client_keys::{JwksError, MAX_JWKS_BYTES, parse_client_jwks, parse_jwks};
use citizen_idp::protocol::assertion::{self, Audiences};
use citizen_idp_fuzz::{ISSUER, KEY_CLIENT, NOW, TOKEN_ENDPOINT, ed_public_x, key_client, sign_ed};
use jsonwebtoken::jwk::{AlgorithmParameters, PublicKeyUse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sorted) = parse_client_jwks(data) else {
        return;
    };
    let set = sorted.signing.as_ref().clone();
    assert!(data.len() <= MAX_JWKS_BYTES);
    assert!((1..=20).contains(&(set.keys.len() + sorted.encryption.len())));
    let encrypts = |use_: &Option<PublicKeyUse>| *use_ == Some(PublicKeyUse::Encryption);
    assert!(
        !set.keys
            .iter()
            .any(|key| encrypts(&key.common.public_key_use)),
        "an encryption key verifies"
    );
    let mut ed_keys = Vec::new();
    for key in &set.keys {
        match &key.algorithm {
            AlgorithmParameters::OctetKeyPair(okp) => ed_keys.push(okp.x.as_str()),
            AlgorithmParameters::RSA(_) | AlgorithmParameters::EllipticCurve(_) => {}
            other => panic!("a symmetric or unknown key was accepted: {other:?}"),
        }
    }
    // A set of encryption keys alone is accepted with nothing to sign with; written
    // out, its signing half is an empty set, which is refused as one.
    let again = serde_json::to_vec(&set).expect("serialises");
    if set.keys.is_empty() {
        assert_eq!(parse_jwks(&again), Err(JwksError::Empty));
    } else {
        assert_eq!(parse_jwks(&again).as_ref(), Ok(&set));
    }

    let claims = format!(
        r#"{{"iss":"{KEY_CLIENT}","sub":"{KEY_CLIENT}","aud":"{ISSUER}","exp":{},"jti":"j"}}"#,
        NOW + 60
    );
    for header in [r#"{"alg":"EdDSA","kid":"ed"}"#, r#"{"alg":"EdDSA"}"#] {
        let jws = sign_ed(header.as_bytes(), claims.as_bytes());
        let Ok(parsed) = assertion::parse(&jws) else {
            panic!("the fixed assertion is refused");
        };
        let audiences = Audiences {
            issuer: ISSUER,
            token_endpoint: TOKEN_ENDPOINT,
        };
        let client = key_client(AssertionAudience::Issuer);
        if assertion::check(&parsed, &set, &client, audiences, NOW).is_ok() {
            assert!(ed_keys.iter().any(|x| is_ed_public_key(x)), "{set:?}");
        }
    }
});

/// Whether `x` is the fixtures' Ed25519 public key in any base64 spelling.
fn is_ed_public_key(x: &str) -> bool {
    let Ok(expected) = URL_SAFE_NO_PAD.decode(ed_public_x()) else {
        return false;
    };
    [URL_SAFE_NO_PAD, URL_SAFE, STANDARD, STANDARD_NO_PAD]
        .iter()
        .any(|engine| engine.decode(x).is_ok_and(|bytes| bytes == expected))
}
