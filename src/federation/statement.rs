//! Entity statements (OpenID Federation 1.0 §3): the signed JWTs a federation is made
//! of. An entity configuration is one an entity signs about itself (`iss` = `sub`); a
//! subordinate statement is one a superior signs about a subordinate. Both have the
//! type `entity-statement+jwt`, and both are refused here unless every rule this
//! server relies on holds: the type, an asymmetric algorithm, a `kid` naming one of the
//! keys given, the signature, and the lifetime.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::client_keys;
use crate::tokens::keys::SigningKey;
use crate::tokens::{TokenError, jwt, strict_json};

/// The `typ` of every entity statement (§3.1).
pub const TYP: &str = "entity-statement+jwt";
/// The media type entity statements are served with (§3.1).
pub const MEDIA_TYPE: &str = "application/entity-statement+jwt";
/// Clock skew allowed on `iat` and `exp`, in seconds.
const LEEWAY_SECS: i64 = 60;

/// The claims of an entity statement that this server reads or writes. Claims it
/// does not know are ignored, unless a statement names them critical (`crit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityStatement {
    pub iss: String,
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// The subject's federation keys, as a JWK Set.
    pub jwks: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authority_hints: Vec<String>,
    /// By entity type (`openid_provider`, `openid_relying_party`, `federation_entity`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// By entity type; only in subordinate statements.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata_policy: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_endpoint: Option<String>,
    /// In a subordinate statement: limits on the chain below its subject (§6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Constraints>,
    /// Trust marks the subject carries (§7), in its entity configuration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust_marks: Vec<TrustMarkRef>,
    /// In a trust anchor's configuration: who may issue each type of trust mark.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub trust_mark_issuers: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crit: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata_policy_crit: Vec<String>,
}

impl EntityStatement {
    /// Whether the statement is an entity configuration (signed by its subject).
    pub fn is_configuration(&self) -> bool {
        self.iss == self.sub
    }

    /// The subject's keys, checked as public asymmetric keys.
    pub fn keys(&self) -> Result<JwkSet, StatementError> {
        let document = serde_json::to_vec(&self.jwks).map_err(|_| StatementError::Malformed)?;
        client_keys::parse_jwks(&document).map_err(|e| StatementError::Keys(e.to_string()))
    }

    /// The metadata of one entity type, if the statement has it.
    pub fn metadata_of(&self, entity_type: &str) -> Option<&Map<String, Value>> {
        self.metadata.get(entity_type).and_then(Value::as_object)
    }
}

/// What a superior allows below the subject of its statement (§6.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraints {
    /// Intermediates allowed between the subject and the leaf of any chain through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_path_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub naming_constraints: Option<NamingConstraints>,
    /// The entity types the leaf may have (`federation_entity` always stays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_entity_types: Option<Vec<String>>,
}

/// Which entity identifiers may be below the subject, by host: `example.vn` names that
/// host, `.example.vn` any host under it (as X.509 name constraints do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamingConstraints {
    #[serde(default)]
    pub permitted: Vec<String>,
    #[serde(default)]
    pub excluded: Vec<String>,
}

/// A trust mark as an entity configuration lists it: its type and the signed mark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustMarkRef {
    pub trust_mark_type: String,
    pub trust_mark: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("not a compact JWS with JSON header and claims")]
    Malformed,
    #[error("larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error("not of the expected type (typ)")]
    WrongType,
    #[error("the algorithm is not an accepted asymmetric one")]
    Algorithm,
    #[error("no key of the issuer has the statement's kid")]
    UnknownKey,
    #[error("the signature does not verify")]
    Signature,
    #[error("expired")]
    Expired,
    #[error("issued in the future")]
    NotYetValid,
    #[error("names claims as critical that this server does not understand")]
    Critical,
    #[error("unusable keys: {0}")]
    Keys(String),
}

/// Signs `statement` with `key` (a federation key, never a token key).
pub fn sign(key: &SigningKey, statement: &EntityStatement) -> Result<String, TokenError> {
    jwt::sign(key, TYP, statement)
}

/// Reads the claims of `token` without checking its signature: only to find the keys
/// an entity configuration claims for itself, which [`verify`] then checks it with.
pub fn unverified(token: &str, max_bytes: usize) -> Result<EntityStatement, StatementError> {
    parse(token, TYP, max_bytes)?.claims()
}

/// Checks `token` against `keys` at `now` (seconds since the epoch) and returns its
/// claims.
pub fn verify(
    token: &str,
    keys: &JwkSet,
    now: i64,
    max_bytes: usize,
) -> Result<EntityStatement, StatementError> {
    let claims: EntityStatement = verify_signed(token, TYP, keys, max_bytes)?.claims()?;
    check_lifetime(claims.iat, Some(claims.exp), now)?;
    // §3.2: every name in `crit` must be understood; this server acts on none of the
    // extension claims, nor on any policy operator beyond the standard ones.
    if !claims.crit.is_empty() || !claims.metadata_policy_crit.is_empty() {
        return Err(StatementError::Critical);
    }
    Ok(claims)
}

/// The claims of a JWS of type `typ`, unverified.
pub(super) fn parse_unverified<T: serde::de::DeserializeOwned>(
    token: &str,
    typ: &str,
    max_bytes: usize,
) -> Result<T, StatementError> {
    parse(token, typ, max_bytes)?.claims()
}

/// `iat` not in the future and `exp` (when there is one) not past, at `now`, with
/// [`LEEWAY_SECS`] of clock skew either way.
pub(super) fn check_lifetime(iat: i64, exp: Option<i64>, now: i64) -> Result<(), StatementError> {
    if exp.is_some_and(|exp| exp <= now.saturating_sub(LEEWAY_SECS)) {
        return Err(StatementError::Expired);
    }
    if iat > now.saturating_add(LEEWAY_SECS) {
        return Err(StatementError::NotYetValid);
    }
    Ok(())
}

/// A JWS of type `typ` whose signature `keys` verify, with its claims still to read.
pub(super) fn verify_signed<'a>(
    token: &'a str,
    typ: &str,
    keys: &JwkSet,
    max_bytes: usize,
) -> Result<Parsed<'a>, StatementError> {
    let parsed = parse(token, typ, max_bytes)?;
    let alg = parsed
        .header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(client_keys::assertion_alg)
        .ok_or(StatementError::Algorithm)?;
    let kid = parsed
        .header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(StatementError::UnknownKey)?;
    let jwk = keys.find(kid).ok_or(StatementError::UnknownKey)?;
    let declared = jwk.common.key_algorithm.map(|a| format!("{a:?}"));
    if declared.is_some_and(|declared| declared != format!("{alg:?}")) {
        return Err(StatementError::Algorithm);
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| StatementError::Keys(e.to_string()))?;
    let signed =
        jsonwebtoken::crypto::verify(parsed.signature, parsed.signing_input.as_bytes(), &key, alg)
            .unwrap_or(false);
    if !signed {
        return Err(StatementError::Signature);
    }
    Ok(parsed)
}

pub(super) struct Parsed<'a> {
    header: Map<String, Value>,
    claims: Vec<u8>,
    signing_input: &'a str,
    signature: &'a str,
}

impl Parsed<'_> {
    pub(super) fn claims<T: serde::de::DeserializeOwned>(&self) -> Result<T, StatementError> {
        serde_json::from_slice(&self.claims).map_err(|_| StatementError::Malformed)
    }
}

fn parse<'a>(token: &'a str, typ: &str, max_bytes: usize) -> Result<Parsed<'a>, StatementError> {
    if token.len() > max_bytes {
        return Err(StatementError::TooLarge(max_bytes));
    }
    let parts = strict_json::compact_parts(token).ok_or(StatementError::Malformed)?;
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| StatementError::Malformed)
    };
    let header: Map<String, Value> =
        serde_json::from_slice(&decode(parts.header)?).map_err(|_| StatementError::Malformed)?;
    if header.get("typ").and_then(Value::as_str) != Some(typ) {
        return Err(StatementError::WrongType);
    }
    Ok(Parsed {
        header,
        claims: decode(parts.claims)?,
        signing_input: parts.signing_input,
        signature: parts.signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::keys::SigningAlg;

    fn key() -> SigningKey {
        SigningKey::generate(SigningAlg::Es256).unwrap().0
    }

    fn keys_of(key: &SigningKey) -> JwkSet {
        let set = serde_json::json!({ "keys": [key.public_jwk()] });
        serde_json::from_value(set).unwrap()
    }

    fn statement(iss: &str, sub: &str, key: &SigningKey) -> EntityStatement {
        EntityStatement {
            iss: iss.into(),
            sub: sub.into(),
            iat: 1_000,
            exp: 2_000,
            jwks: serde_json::json!({ "keys": [key.public_jwk()] }),
            authority_hints: vec![],
            metadata: Map::new(),
            metadata_policy: Map::new(),
            source_endpoint: None,
            constraints: None,
            trust_marks: vec![],
            trust_mark_issuers: Map::new(),
            crit: vec![],
            metadata_policy_crit: vec![],
        }
    }

    #[test]
    fn a_statement_verifies_with_its_signers_keys_within_its_lifetime_only() {
        let (signer, other) = (key(), key());
        let claims = statement("https://a.example", "https://a.example", &signer);
        let token = sign(&signer, &claims).unwrap();
        assert_eq!(verify(&token, &keys_of(&signer), 1_500, 65_536), Ok(claims));
        assert_eq!(
            verify(&token, &keys_of(&other), 1_500, 65_536),
            Err(StatementError::UnknownKey)
        );
        assert_eq!(
            verify(&token, &keys_of(&signer), 2_100, 65_536),
            Err(StatementError::Expired)
        );
        assert_eq!(
            verify(&token, &keys_of(&signer), 900, 65_536),
            Err(StatementError::NotYetValid)
        );
        assert_eq!(
            verify(&token, &keys_of(&signer), 1_500, 100),
            Err(StatementError::TooLarge(100))
        );
    }

    #[test]
    fn another_type_a_forged_signature_and_critical_claims_are_refused() {
        let signer = key();
        let claims = statement("https://a.example", "https://b.example", &signer);
        let keys = keys_of(&signer);
        let as_token = jwt::sign(&signer, "JWT", &claims).unwrap();
        assert_eq!(
            verify(&as_token, &keys, 1_500, 65_536),
            Err(StatementError::WrongType)
        );
        let token = sign(&signer, &claims).unwrap();
        let forged = {
            let (input, _) = token.rsplit_once('.').unwrap();
            let other = sign(&key(), &claims).unwrap();
            format!("{input}.{}", other.rsplit_once('.').unwrap().1)
        };
        assert_eq!(
            verify(&forged, &keys, 1_500, 65_536),
            Err(StatementError::Signature)
        );
        let mut critical = claims.clone();
        critical.crit = vec!["jti".into()];
        let token = sign(&signer, &critical).unwrap();
        assert_eq!(
            verify(&token, &keys, 1_500, 65_536),
            Err(StatementError::Critical)
        );
        assert_eq!(
            verify("a.b", &keys, 1_500, 65_536),
            Err(StatementError::Malformed)
        );
    }
}
