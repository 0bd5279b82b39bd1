//! Trust marks (OpenID Federation 1.0 §7): signed statements that an entity meets a
//! federation's requirements (here, e.g., "a public service of a partner country,
//! checked by its federation operator"). This server issues them when it is a trust
//! anchor (`citizen-idp federation trust-mark issue`), and checks those that
//! `federation.required_trust_marks` asks of the relying parties it registers
//! automatically: a mark counts only if it names the entity, is within its lifetime,
//! comes from an issuer the trust anchor lists for its type, and is signed with that
//! issuer's federation keys.

use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use chrono::{DateTime, Utc};

use super::statement::{self, EntityStatement, StatementError};
use crate::audit::{Event, Kind};
use crate::storage::{Db, StorageError, audit_events};
use crate::tokens::key_set::KeySet;
use crate::tokens::keys::{SigningAlg, SigningKey};
use crate::tokens::{TokenError, jwt};

/// The `typ` of a trust mark.
pub const TYP: &str = "trust-mark+jwt";

/// The claims of a trust mark this server reads or writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustMark {
    pub iss: String,
    pub sub: String,
    pub trust_mark_type: String,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustMarkError {
    #[error("the trust mark: {0}")]
    Statement(#[from] StatementError),
    #[error("the trust mark is about another entity or of another type")]
    NotThisMark,
    #[error("{issuer} may not issue trust marks of type {trust_mark_type}")]
    IssuerNotAllowed {
        issuer: String,
        trust_mark_type: String,
    },
}

/// Signs a trust mark with `key` (a federation key).
pub fn issue(key: &SigningKey, mark: &TrustMark) -> Result<String, TokenError> {
    jwt::sign(key, TYP, mark)
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("the trust mark's subject must be an entity identifier (an https URL)")]
    Subject,
    #[error("the trust mark's type must be a URL")]
    Type,
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Signs `mark` with the current federation key of `keys`, and audits the issuance
/// (who, what type, about whom; never the mark itself).
pub async fn record_issued(
    db: &Db,
    keys: &KeySet,
    mark: &TrustMark,
    by: &str,
    now: DateTime<Utc>,
) -> Result<String, IssueError> {
    if !super::subordinates::valid_entity_id(&mark.sub, true) {
        return Err(IssueError::Subject);
    }
    if url::Url::parse(&mark.trust_mark_type).is_err() {
        return Err(IssueError::Type);
    }
    let key = keys.signing_key(SigningAlg::Es256, now)?;
    let jwt = issue(key, mark)?;
    let at = now.naive_utc();
    let detail = format!(
        "type={} sub={} exp={} by={by}",
        mark.trust_mark_type,
        mark.sub,
        mark.exp.unwrap_or_default()
    );
    db.run(move |conn| {
        let event = Event::new(Kind::Admin, "federation_trust_mark_issued", at).detail(detail);
        audit_events::append(conn, &[event.into_row()]).map(|_| ())
    })
    .await?;
    Ok(jwt)
}

/// The issuer a trust mark names, unverified: whose keys to check it with.
pub fn issuer_of(token: &str, max_bytes: usize) -> Result<String, TrustMarkError> {
    let claims = statement::parse_unverified::<TrustMark>(token, TYP, max_bytes)?;
    Ok(claims.iss)
}

/// The issuers `anchor` (its configuration) allows for `trust_mark_type`. A type it
/// does not list has no allowed issuer: the mark is not recognised in its federation.
pub fn allowed_issuers(anchor: &EntityStatement, trust_mark_type: &str) -> Vec<String> {
    anchor
        .trust_mark_issuers
        .get(trust_mark_type)
        .and_then(Value::as_array)
        .map(|issuers| {
            issuers
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks the trust mark `token`, of `trust_mark_type` about `subject`, with the keys
/// of its issuer, at `now`.
pub fn verify(
    token: &str,
    trust_mark_type: &str,
    subject: &str,
    issuer_keys: &JwkSet,
    now: i64,
    max_bytes: usize,
) -> Result<TrustMark, TrustMarkError> {
    let mark: TrustMark = statement::verify_signed(token, TYP, issuer_keys, max_bytes)?.claims()?;
    if mark.sub != subject || mark.trust_mark_type != trust_mark_type {
        return Err(TrustMarkError::NotThisMark);
    }
    statement::check_lifetime(mark.iat, mark.exp, now)?;
    Ok(mark)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: &str = "https://anchor.example/marks/public-service";

    fn keys_of(key: &SigningKey) -> JwkSet {
        serde_json::from_value(serde_json::json!({ "keys": [key.public_jwk()] })).unwrap()
    }

    fn mark(sub: &str, exp: Option<i64>) -> TrustMark {
        TrustMark {
            iss: "https://anchor.example".into(),
            sub: sub.into(),
            trust_mark_type: KIND.into(),
            iat: 1_000,
            exp,
        }
    }

    #[test]
    fn a_mark_counts_for_its_subject_and_type_within_its_lifetime_with_its_issuers_keys() {
        let (issuer, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
        let (other, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
        let sub = "https://portal.example";
        let token = issue(&issuer, &mark(sub, Some(2_000))).unwrap();
        let keys = keys_of(&issuer);
        assert!(verify(&token, KIND, sub, &keys, 1_500, 8_192).is_ok());
        assert_eq!(issuer_of(&token, 8_192).unwrap(), "https://anchor.example");
        assert_eq!(
            verify(&token, KIND, "https://other.example", &keys, 1_500, 8_192),
            Err(TrustMarkError::NotThisMark)
        );
        assert_eq!(
            verify(
                &token,
                "https://anchor.example/marks/other",
                sub,
                &keys,
                1_500,
                8_192
            ),
            Err(TrustMarkError::NotThisMark)
        );
        assert_eq!(
            verify(&token, KIND, sub, &keys, 2_100, 8_192),
            Err(TrustMarkError::Statement(StatementError::Expired))
        );
        assert_eq!(
            verify(&token, KIND, sub, &keys_of(&other), 1_500, 8_192),
            Err(TrustMarkError::Statement(StatementError::UnknownKey))
        );
        // No exp: valid until the issuer stops listing it.
        let lasting = issue(&issuer, &mark(sub, None)).unwrap();
        assert!(verify(&lasting, KIND, sub, &keys, 1_000_000, 8_192).is_ok());
        // An entity statement is not a trust mark.
        let as_statement = jwt::sign(&issuer, statement::TYP, &mark(sub, None)).unwrap();
        assert_eq!(
            verify(&as_statement, KIND, sub, &keys, 1_500, 8_192),
            Err(TrustMarkError::Statement(StatementError::WrongType))
        );
    }
}
