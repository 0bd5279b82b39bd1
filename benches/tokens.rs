//! Micro-benchmarks of the token work behind each request (criterion):
//!
//! ```sh
//! cargo bench --bench tokens
//! ```
//!
//! - minting an ID token and an access token, with ES256 and RS256 keys parsed once
//!   (as the server keeps them);
//! - validating an access token (signature, `typ`, `iss`, then the claims);
//! - the strict reader of JWT parts, against serde_json's lenient read;
//! - PKCE S256 verification;
//! - the in-process store's round trip of an authorization code (put, then take);
//! - checking a client's ES256 DPoP proof (RFC 9449) with its key in the header, as the
//!   token endpoint and userinfo do before the `jti` is spent in the store.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark stops at the first failure, like a test"
)]

use std::hint::black_box;
use std::time::Duration;

use citizen_idp::domain::acr::{Acr, Amr, AssuranceLevel};
use citizen_idp::store::Store;
use citizen_idp::store::memory::MemoryStore;
use citizen_idp::tokens::access_token::{self, AccessTokenClaims};
use citizen_idp::tokens::id_token::{IdTokenClaims, at_hash};
use citizen_idp::tokens::key_set::{KeySet, LoadedKey};
use citizen_idp::tokens::keys::{KeyLifetime, SigningAlg, SigningKey};
use citizen_idp::tokens::{jwt, pkce, random};
use criterion::{Criterion, criterion_group, criterion_main};

const ISSUER: &str = "https://id.example.gov.vn";

fn access_claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "b1RjZ2Y3WXh0dUJqQ3R6dWtPZ3BjZw".into(),
        aud: ISSUER.into(),
        client_id: "tax-portal".into(),
        scope: "openid profile".into(),
        jti: random::token(),
        exp: 1_900_000_300,
        iat: 1_900_000_000,
        auth_time: Some(1_899_999_000),
        acr: Some(Acr::new(AssuranceLevel::Level1)),
        cnf: None,
    }
}

fn id_claims(access_token: &str) -> IdTokenClaims {
    IdTokenClaims {
        iss: ISSUER.into(),
        sub: "b1RjZ2Y3WXh0dUJqQ3R6dWtPZ3BjZw".into(),
        aud: "tax-portal".into(),
        azp: "tax-portal".into(),
        exp: 1_900_000_300,
        iat: 1_900_000_000,
        auth_time: 1_899_999_000,
        nonce: Some("n-0S6_WzA2Mj".into()),
        at_hash: at_hash(access_token),
        acr: Acr::new(AssuranceLevel::Level1),
        amr: Amr::password(),
        sid: Some(random::token()),
    }
}

/// A key set of one freshly generated key of `alg`, active since the epoch.
fn key_set(alg: SigningAlg) -> KeySet {
    let lifetime = KeyLifetime {
        activated_at: chrono::DateTime::UNIX_EPOCH,
        retired_at: None,
        published_until: None,
    };
    let (key, _) = SigningKey::generate(alg).unwrap();
    KeySet::new(vec![LoadedKey {
        key: std::sync::Arc::new(key),
        lifetime,
    }])
    .unwrap()
}

fn minting(c: &mut Criterion) {
    for alg in [SigningAlg::Es256, SigningAlg::Rs256] {
        let (key, _) = SigningKey::generate(alg).unwrap();
        c.bench_function(&format!("mint access token {}", alg.as_str()), |b| {
            b.iter(|| jwt::sign(&key, access_token::TYP, &black_box(access_claims())).unwrap())
        });
        c.bench_function(&format!("mint id token {}", alg.as_str()), |b| {
            let access = jwt::sign(&key, access_token::TYP, &access_claims()).unwrap();
            b.iter(|| jwt::sign(&key, "JWT", &black_box(id_claims(&access))).unwrap())
        });
    }
}

fn validating(c: &mut Criterion) {
    for alg in [SigningAlg::Es256, SigningAlg::Rs256] {
        let set = key_set(alg);
        let now = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let key = set.signing_key(alg, now).unwrap();
        let token = jwt::sign(key, access_token::TYP, &access_claims()).unwrap();
        c.bench_function(&format!("validate access token {}", alg.as_str()), |b| {
            b.iter(|| {
                jwt::verify::<AccessTokenClaims>(&set, black_box(&token), access_token::TYP, ISSUER)
                    .unwrap()
            })
        });
        // How it was done before (jsonwebtoken's `decode`: the header decoded twice, the
        // claims decoded twice, the public key parsed on each call), for comparison.
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk().clone()).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let algorithm = match alg {
            SigningAlg::Es256 => jsonwebtoken::Algorithm::ES256,
            SigningAlg::Rs256 => jsonwebtoken::Algorithm::RS256,
        };
        c.bench_function(
            &format!(
                "validate access token {} (jsonwebtoken decode, before)",
                alg.as_str()
            ),
            |b| {
                b.iter(|| {
                    let header = jsonwebtoken::decode_header(black_box(&token)).unwrap();
                    assert_eq!(header.alg, algorithm);
                    let mut validation = jsonwebtoken::Validation::new(algorithm);
                    validation.validate_exp = false;
                    validation.validate_aud = false;
                    validation.required_spec_claims.clear();
                    validation.set_issuer(&[ISSUER]);
                    jsonwebtoken::decode::<AccessTokenClaims>(&token, &decoding, &validation)
                        .unwrap()
                        .claims
                })
            },
        );
    }
}

/// The strict reader of JWT parts (`tokens::strict_json`) against serde_json's lenient
/// read of the same bytes: what refusing duplicates and checking types costs per token.
fn strict_json_parts(c: &mut Criterion) {
    use citizen_idp::tokens::strict_json;
    let token = jwt::sign(
        key_set(SigningAlg::Es256)
            .signing_key(
                SigningAlg::Es256,
                chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
            )
            .unwrap(),
        access_token::TYP,
        &access_claims(),
    )
    .unwrap();
    let mut parts = token.split('.');
    let header = strict_json::decode_part(parts.next().unwrap()).unwrap();
    let claims = strict_json::decode_part(parts.next().unwrap()).unwrap();
    c.bench_function("strict_json header + claims (access token)", |b| {
        b.iter(|| {
            let h = strict_json::header(black_box(&header)).unwrap();
            let c: AccessTokenClaims = strict_json::claims(black_box(&claims))
                .unwrap()
                .into_typed()
                .unwrap();
            (h, c)
        })
    });
    c.bench_function("serde_json header + claims (access token, lenient)", |b| {
        b.iter(|| {
            let h: serde_json::Value = serde_json::from_slice(black_box(&header)).unwrap();
            let c: AccessTokenClaims = serde_json::from_slice(black_box(&claims)).unwrap();
            (h, c)
        })
    });
}

fn pkce_verification(c: &mut Criterion) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    c.bench_function("pkce verify S256", |b| {
        b.iter(|| assert!(pkce::verify_s256(black_box(challenge), black_box(verifier))))
    });
}

fn store_round_trip(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = runtime.block_on(async { MemoryStore::new() });
    let value = vec![7u8; 300];
    c.bench_function("memory store put + take", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let key = format!("code:{}", random::token());
                store
                    .put(&key, value.clone(), Duration::from_secs(60))
                    .await
                    .unwrap();
                store.take(&key).await.unwrap().unwrap()
            })
        })
    });
}

fn dpop_proof_check(c: &mut Criterion) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use citizen_idp::config::DpopSettings;
    use citizen_idp::protocol::dpop::{self, Nonces, Request};

    const NOW: i64 = 1_900_000_000;
    let url = format!("{ISSUER}/userinfo");
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let jwk = key.public_jwk();
    let header = serde_json::json!({
        "typ": "dpop+jwt", "alg": "ES256",
        "jwk": { "kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"] },
    });
    let token = "an access token";
    let claims = serde_json::json!({
        "jti": random::token(), "htm": "GET", "htu": url, "iat": NOW,
        "ath": dpop::access_token_hash(token),
    });
    let mut proof = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.sign(proof.as_bytes()).unwrap();
    proof = format!("{proof}.{}", URL_SAFE_NO_PAD.encode(signature));
    let settings = DpopSettings {
        allowed_algs: vec!["ES256".into()],
        proof_max_age_secs: 60,
        proof_future_skew_secs: 5,
        nonce_required: false,
        nonce_rotation_secs: 300,
    };
    let nonces = Nonces::new(&[1; 32], 300);
    let request = Request {
        proof: None,
        method: "GET".into(),
        url,
    };
    c.bench_function("dpop proof check ES256 (resource, ath)", |b| {
        b.iter(|| {
            dpop::check(
                &settings,
                &nonces,
                &request,
                black_box(&proof),
                Some(token),
                NOW,
            )
            .unwrap()
        })
    });
}

criterion_group!(
    benches,
    minting,
    validating,
    strict_json_parts,
    pkce_verification,
    store_round_trip,
    dpop_proof_check
);
criterion_main!(benches);
