//! JWK thumbprints (RFC 7638): the SHA-256 of a public key's required members, in
//! lexicographic order and without whitespace, base64url-encoded. DPoP (RFC 9449)
//! names a key by it (`cnf.jkt`, `dpop_jkt`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::random::sha256;

/// The members RFC 7638 §3.2 hashes for each key type, already in lexicographic order.
fn required_members(kty: &str) -> Option<&'static [&'static str]> {
    match kty {
        "EC" => Some(&["crv", "kty", "x", "y"]),
        "RSA" => Some(&["e", "kty", "n"]),
        // RFC 8037 §2.
        "OKP" => Some(&["crv", "kty", "x"]),
        _ => None,
    }
}

/// The thumbprint of `jwk` (a JWK's members), or `None` when its `kty` is not one of
/// the asymmetric types or a required member is missing or not a string. Members
/// other than the required ones (`kid`, `alg`, `use`...) do not change it.
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let kty = jwk.get("kty")?.as_str()?;
    let mut canonical = String::from("{");
    for (n, name) in required_members(kty)?.iter().enumerate() {
        let value = jwk.get(*name)?.as_str()?;
        if n > 0 {
            canonical.push(',');
        }
        // serde_json writes a string as JSON requires (RFC 7638 §3.3: the members'
        // values as in the JWK, escaped the JSON way); these are base64url or names.
        canonical.push_str(&serde_json::to_string(name).ok()?);
        canonical.push(':');
        canonical.push_str(&serde_json::to_string(value).ok()?);
    }
    canonical.push('}');
    Some(URL_SAFE_NO_PAD.encode(sha256(canonical.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::keys::{SigningAlg, SigningKey};

    fn members(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(members) => members,
            _ => Map::new(),
        }
    }

    #[test]
    fn the_rfc_7638_example_key_has_its_published_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = members(serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }));
        assert_eq!(
            jwk_thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn our_own_keys_kid_is_their_thumbprint() {
        for alg in SigningAlg::ALL {
            let (key, _) = SigningKey::generate(alg).unwrap();
            let jwk = members(key.public_jwk().clone());
            assert_eq!(jwk_thumbprint(&jwk).as_deref(), Some(key.kid()));
        }
    }

    #[test]
    fn symmetric_or_incomplete_keys_have_none() {
        for jwk in [
            serde_json::json!({ "kty": "oct", "k": "c2VjcmV0" }),
            serde_json::json!({ "kty": "EC", "crv": "P-256", "x": "AA" }),
            serde_json::json!({ "kty": "RSA", "n": "AA", "e": 3 }),
            serde_json::json!({ "n": "AA", "e": "AQAB" }),
        ] {
            assert_eq!(jwk_thumbprint(&members(jwk.clone())), None, "{jwk}");
        }
    }
}
