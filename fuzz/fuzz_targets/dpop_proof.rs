//! DPoP proofs (RFC 9449): every check but replay (`protocol::dpop::check`), for a POST
//! to `TOKEN_ENDPOINT` at `NOW`.
//!
//! An input whose first byte is odd is `HEADER\nCLAIMS`, signed here with the fixture
//! Ed25519 key, so that the checks behind the signature are reached; when `HEADER` is a
//! JSON object without a `jwk`, the key's public half is put there (the fuzzer could
//! not guess it). Otherwise the input is the compact JWS itself. Bit 1 of the first byte
//! requires server nonces; bit 2 makes it a resource request with the access token
//! `TOKEN` (so `ath` is required).
//!
//! Invariants: an accepted proof is signed by the Ed25519 key (nothing else can be: the
//! target holds no other private key), under `typ` `dpop+jwt` and `alg` `EdDSA`, with no
//! private member in its `jwk` and no `crit`; its `jkt` is that key's RFC 7638
//! thumbprint; `htm` is POST; `htu` names the token endpoint; `iat` lies in the window;
//! `jti` is 1 to 256 bytes; with nonces, `nonce` is this server's; at a resource, `ath`
//! hashes the token.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use citizen_idp::config::DpopSettings;
use citizen_idp::protocol::dpop::{self, Nonces, Request};
use citizen_idp_fuzz::{NOW, TOKEN_ENDPOINT, ed_public_x, sign_ed, split};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const TOKEN: &str = "an-access-token";
const MAX_AGE: u64 = 60;
const SKEW: u64 = 5;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": ed_public_x() });
    let proof = if mode % 2 == 1 {
        let (header, claims) = split(rest, b'\n');
        match serde_json::from_slice::<Value>(header) {
            Ok(Value::Object(mut members)) if !members.contains_key("jwk") => {
                members.insert("jwk".into(), jwk.clone());
                sign_ed(Value::Object(members).to_string().as_bytes(), claims)
            }
            _ => sign_ed(header, claims),
        }
    } else {
        match std::str::from_utf8(rest) {
            Ok(proof) => proof.to_owned(),
            Err(_) => return,
        }
    };

    let settings = DpopSettings {
        allowed_algs: vec![
            "ES256".into(),
            "PS256".into(),
            "RS256".into(),
            "EdDSA".into(),
        ],
        proof_max_age_secs: MAX_AGE,
        proof_future_skew_secs: SKEW,
        nonce_required: mode & 2 == 2,
        nonce_rotation_secs: 300,
    };
    let nonces = Nonces::new(&[9; 32], settings.nonce_rotation_secs);
    let request = Request {
        proof: None,
        method: "POST".into(),
        url: TOKEN_ENDPOINT.into(),
    };
    let token = (mode & 4 == 4).then_some(TOKEN);
    let Ok(checked) = dpop::check(&settings, &nonces, &request, &proof, token, NOW) else {
        return;
    };

    let part = |i: usize| -> Value {
        let encoded = proof.split('.').nth(i).expect("three parts");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).expect("base64url")).expect("JSON")
    };
    let header = part(0);
    assert_eq!(header["alg"], "EdDSA", "{proof}");
    assert!(
        header["typ"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt"))
    );
    assert!(header.get("crit").is_none(), "{proof}");
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        assert!(header["jwk"].get(private).is_none(), "{proof}");
    }
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, ed_public_x());
    let thumbprint = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ));
    assert_eq!(checked.jkt, thumbprint);
    let claims = part(1);
    assert_eq!(claims["htm"], "POST");
    let htu = claims["htu"].as_str().expect("htu");
    assert_eq!(
        dpop::normalised_url(htu).as_deref(),
        Some(TOKEN_ENDPOINT),
        "{proof}"
    );
    let iat = claims["iat"].as_f64().expect("iat");
    assert!(iat >= (NOW - MAX_AGE as i64) as f64 && iat < (NOW + SKEW as i64 + 1) as f64);
    assert!(!checked.jti.is_empty() && checked.jti.len() <= 256);
    assert_eq!(claims["jti"], checked.jti.as_str());
    if mode & 2 == 2 {
        let nonce = claims["nonce"].as_str().expect("a nonce");
        assert!(nonces.accepts(nonce, NOW));
    }
    if let Some(token) = token {
        assert_eq!(claims["ath"], dpop::access_token_hash(token));
    }
});
