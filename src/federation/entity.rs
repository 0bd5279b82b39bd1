//! What this server signs: its own entity configuration (§3, §5), the subordinate
//! statements of its fetch endpoint (§8.1) and the answers of its resolve endpoint
//! (§8.3). Each is signed with the current federation key.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::resolve::Resolved;
use super::statement::{self, EntityStatement, TrustMarkRef};
use super::{FETCH_PATH, LIST_PATH, RESOLVE_PATH};
use crate::config::FederationSettings;
use crate::storage::federation_subordinates::SubordinateRow;
use crate::tokens::TokenError;
use crate::tokens::key_set::KeySet;
use crate::tokens::keys::SigningAlg;

/// The `typ` of a resolve endpoint's answer (§8.3.2).
pub const RESOLVE_RESPONSE_TYP: &str = "resolve-response+jwt";
/// Its media type.
pub const RESOLVE_RESPONSE_MEDIA_TYPE: &str = "application/resolve-response+jwt";

/// This server as a federation entity: who it is and what it signs with.
pub struct Issuer<'a> {
    pub entity_id: &'a str,
    pub keys: &'a KeySet,
    pub settings: &'a FederationSettings,
    pub now: DateTime<Utc>,
}

impl Issuer<'_> {
    fn times(&self) -> (i64, i64) {
        let iat = self.now.timestamp();
        let ttl = i64::try_from(self.settings.statement_ttl_secs).unwrap_or(86_400);
        (iat, iat + ttl)
    }

    fn federation_jwks(&self) -> Result<Value, TokenError> {
        serde_json::from_str(self.keys.jwks_json()).map_err(|e| TokenError::Encoding(e.to_string()))
    }

    fn sign(&self, claims: &EntityStatement) -> Result<String, TokenError> {
        let key = self.keys.signing_key(SigningAlg::Es256, self.now)?;
        statement::sign(key, claims)
    }

    /// The entity configuration: this server's federation keys, its superiors, and its
    /// metadata as an OpenID provider (the discovery document) and as a federation
    /// entity (its endpoints).
    pub fn configuration(&self, discovery: &Value) -> Result<String, TokenError> {
        let (iat, exp) = self.times();
        let mut provider = discovery.as_object().cloned().unwrap_or_default();
        // Required of a provider in a federation. Automatic registration is offered
        // once this server trusts an anchor, through pushed authorization requests
        // authenticated with private_key_jwt only (see `registration`); explicit
        // registration is not offered.
        if self.settings.trust_anchors.is_empty() {
            provider.insert("client_registration_types_supported".into(), json!([]));
        } else {
            provider.insert(
                "client_registration_types_supported".into(),
                json!(["automatic"]),
            );
            provider.insert(
                "request_authentication_methods_supported".into(),
                json!({ "pushed_authorization_request_endpoint": ["private_key_jwt"] }),
            );
        }
        let base = self.entity_id.trim_end_matches('/');
        let mut metadata = Map::new();
        metadata.insert("openid_provider".into(), Value::Object(provider));
        metadata.insert(
            "federation_entity".into(),
            json!({
                "organization_name": self.settings.organization_name,
                "federation_fetch_endpoint": format!("{base}{FETCH_PATH}"),
                "federation_list_endpoint": format!("{base}{LIST_PATH}"),
                "federation_resolve_endpoint": format!("{base}{RESOLVE_PATH}"),
            }),
        );
        self.sign(&EntityStatement {
            iss: self.entity_id.to_owned(),
            sub: self.entity_id.to_owned(),
            iat,
            exp,
            jwks: self.federation_jwks()?,
            authority_hints: self.settings.authority_hints.clone(),
            metadata,
            metadata_policy: Map::new(),
            source_endpoint: None,
            constraints: None,
            trust_marks: self
                .settings
                .trust_marks
                .iter()
                .map(|mark| TrustMarkRef {
                    trust_mark_type: mark.trust_mark_type.clone(),
                    trust_mark: mark.trust_mark.clone(),
                })
                .collect(),
            trust_mark_issuers: self
                .settings
                .trust_mark_issuers
                .iter()
                .map(|(kind, issuers)| (kind.clone(), json!(issuers)))
                .collect(),
            crit: vec![],
            metadata_policy_crit: vec![],
        })
    }

    /// The subordinate statement about `row`, as the fetch endpoint serves it.
    pub fn subordinate_statement(&self, row: &SubordinateRow) -> Result<String, TokenError> {
        let (iat, exp) = self.times();
        let object = |json: &Option<String>| -> Result<Map<String, Value>, TokenError> {
            json.as_deref().map_or(Ok(Map::new()), |json| {
                serde_json::from_str(json).map_err(|e| TokenError::Encoding(e.to_string()))
            })
        };
        self.sign(&EntityStatement {
            iss: self.entity_id.to_owned(),
            sub: row.entity_id.clone(),
            iat,
            exp,
            jwks: serde_json::from_str(&row.jwks)
                .map_err(|e| TokenError::Encoding(e.to_string()))?,
            authority_hints: vec![],
            metadata: object(&row.metadata)?,
            metadata_policy: object(&row.metadata_policy)?,
            source_endpoint: Some(format!(
                "{}{FETCH_PATH}",
                self.entity_id.trim_end_matches('/')
            )),
            constraints: row
                .constraints
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| TokenError::Encoding(e.to_string()))?,
            trust_marks: vec![],
            trust_mark_issuers: Map::new(),
            crit: vec![],
            metadata_policy_crit: vec![],
        })
    }

    /// The resolve endpoint's answer about a resolved chain: the metadata after the
    /// policies, and the chain itself so that the caller can check it (§8.3.2).
    pub fn resolve_response(
        &self,
        resolved: &Resolved,
        entity_type: Option<&str>,
    ) -> Result<String, TokenError> {
        let (iat, _) = self.times();
        let metadata: Map<String, Value> = resolved
            .metadata
            .iter()
            .filter(|(kind, _)| entity_type.is_none_or(|wanted| wanted == kind.as_str()))
            .map(|(kind, value)| (kind.clone(), value.clone()))
            .collect();
        let claims = json!({
            "iss": self.entity_id,
            "sub": resolved.subject,
            "iat": iat,
            "exp": resolved.exp,
            "metadata": metadata,
            "trust_marks": resolved.trust_marks,
            "trust_chain": resolved.chain,
        });
        let key = self.keys.signing_key(SigningAlg::Es256, self.now)?;
        crate::tokens::jwt::sign(key, RESOLVE_RESPONSE_TYP, &claims)
    }
}
