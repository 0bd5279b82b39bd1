//! JWE (RFC 7516) in the compact serialization, to a relying party's public key: the
//! encrypted ID tokens and userinfo answers of OIDC Core §10.2. The cryptography is
//! josekit's (on OpenSSL); this module only maps our algorithm names and the client's
//! key onto it, and is the only one that names josekit.

use josekit::jwe::{self, ECDH_ES_A256KW, JweEncrypter, JweHeader, RSA_OAEP_256};
use josekit::jwk::Jwk;

use crate::domain::client_keys::EncryptionKey;
use crate::domain::client_security::{Encryption, KeyManagementAlg};

#[derive(Debug, thiserror::Error)]
pub enum JweError {
    /// The client's key cannot be used (a point off the curve, a malformed modulus):
    /// the client's fault, not ours.
    #[error("the client's encryption key is unusable: {0}")]
    Key(String),
    #[error("encryption failed: {0}")]
    Encrypt(String),
}

/// What the payload of a JWE is, for its `cty` header (RFC 7516 §4.1.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// A signed JWT: a nested JWT, `cty: JWT` (RFC 7519 §5.2).
    Jwt,
    /// JSON claims, encrypted without a signature: no `cty`.
    Json,
}

/// A client's key, loaded for `encryption`: what a JWE is encrypted to.
#[derive(Debug)]
pub struct Recipient {
    encrypter: Box<dyn JweEncrypter>,
    encryption: Encryption,
    kid: Option<String>,
}

impl Recipient {
    /// Loads `key` for `encryption`, or says why it cannot be used (a point off the
    /// curve, a malformed or short modulus): the checks an encryption would make,
    /// before anything depends on it.
    pub fn new(key: &EncryptionKey, encryption: Encryption) -> Result<Recipient, JweError> {
        let jwk = Jwk::from_map(key.public.clone()).map_err(|e| JweError::Key(e.to_string()))?;
        let encrypter: Box<dyn JweEncrypter> = match encryption.alg {
            KeyManagementAlg::EcdhEsA256kw => Box::new(
                ECDH_ES_A256KW
                    .encrypter_from_jwk(&jwk)
                    .map_err(|e| JweError::Key(e.to_string()))?,
            ),
            KeyManagementAlg::RsaOaep256 => Box::new(
                RSA_OAEP_256
                    .encrypter_from_jwk(&jwk)
                    .map_err(|e| JweError::Key(e.to_string()))?,
            ),
        };
        Ok(Recipient {
            encrypter,
            encryption,
            kid: key.kid.clone(),
        })
    }

    /// Encrypts `payload`, naming the key's `kid` in the header so that a client
    /// holding several keys knows which one opens it.
    pub fn encrypt(&self, payload: &[u8], content: Content) -> Result<String, JweError> {
        let mut header = JweHeader::new();
        header.set_content_encryption(self.encryption.enc.as_str());
        if content == Content::Jwt {
            header.set_content_type("JWT");
        }
        if let Some(kid) = &self.kid {
            header.set_key_id(kid);
        }
        jwe::serialize_compact(payload, &header, self.encrypter.as_ref())
            .map_err(|e| JweError::Encrypt(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use josekit::jwk::alg::ec::EcCurve;

    use super::*;
    use crate::domain::client_keys::parse_client_jwks;
    use crate::domain::client_security::ContentEncryptionAlg;

    fn registered(private: &Jwk) -> EncryptionKey {
        // to_public_key keeps the key members only.
        let mut public = private.to_public_key().unwrap();
        public.set_key_use("enc");
        if let Some(kid) = private.key_id() {
            public.set_key_id(kid);
        }
        let document = serde_json::json!({ "keys": [public.as_ref()] }).to_string();
        parse_client_jwks(document.as_bytes())
            .unwrap()
            .encryption
            .remove(0)
    }

    #[test]
    fn only_the_recipient_opens_what_is_encrypted_to_it() {
        let mut ec = Jwk::generate_ec_key(EcCurve::P256).unwrap();
        ec.set_key_id("ec-1");
        let mut rsa = Jwk::generate_rsa_key(2048).unwrap();
        rsa.set_key_id("rsa-1");
        for enc in ContentEncryptionAlg::ALL {
            for (private, alg) in [
                (&ec, KeyManagementAlg::EcdhEsA256kw),
                (&rsa, KeyManagementAlg::RsaOaep256),
            ] {
                let key = registered(private);
                let sealed = Recipient::new(&key, Encryption { alg, enc })
                    .unwrap()
                    .encrypt(b"a.b.c", Content::Jwt)
                    .unwrap();
                let (payload, header) = match alg {
                    KeyManagementAlg::EcdhEsA256kw => jwe::deserialize_compact(
                        &sealed,
                        &ECDH_ES_A256KW.decrypter_from_jwk(private).unwrap(),
                    ),
                    KeyManagementAlg::RsaOaep256 => jwe::deserialize_compact(
                        &sealed,
                        &RSA_OAEP_256.decrypter_from_jwk(private).unwrap(),
                    ),
                }
                .unwrap();
                assert_eq!(payload, b"a.b.c");
                assert_eq!(header.content_type(), Some("JWT"));
                assert_eq!(header.key_id(), private.key_id());
                assert_eq!(header.content_encryption(), Some(enc.as_str()));
            }
        }
        let other = Jwk::generate_ec_key(EcCurve::P256).unwrap();
        let encryption = Encryption {
            alg: KeyManagementAlg::EcdhEsA256kw,
            enc: ContentEncryptionAlg::A256Gcm,
        };
        let sealed = Recipient::new(&registered(&ec), encryption)
            .unwrap()
            .encrypt(b"{}", Content::Json)
            .unwrap();
        let decrypter = ECDH_ES_A256KW.decrypter_from_jwk(&other).unwrap();
        assert!(jwe::deserialize_compact(&sealed, &decrypter).is_err());
    }

    #[test]
    fn a_point_off_the_curve_is_an_unusable_key() {
        let ec = Jwk::generate_ec_key(EcCurve::P256).unwrap();
        let mut key = registered(&ec);
        // x = y = 1 is not on P-256.
        let one = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE";
        key.public.insert("x".into(), one.into());
        key.public.insert("y".into(), one.into());
        let encryption = Encryption {
            alg: KeyManagementAlg::EcdhEsA256kw,
            enc: ContentEncryptionAlg::A256Gcm,
        };
        assert!(matches!(
            Recipient::new(&key, encryption),
            Err(JweError::Key(_))
        ));
    }
}
