//! Automatic registration (OpenID Federation 1.0 §12.1): a relying party of a trusted
//! federation logs citizens in with no operator registering it. Its `client_id` is its
//! entity identifier; its trust chain is resolved to one of the configured trust
//! anchors, and its `openid_relying_party` metadata, after the federation's policies,
//! becomes its registration. The registration is checked by the same rules as an
//! operator's (`registration::register`), and stored, so that consents, refresh tokens
//! and the audit trail name it like any other client.
//!
//! What this server asks of such a client, beyond what its metadata says:
//! - it authenticates with `private_key_jwt`, with the keys of its metadata's `jwks`
//!   (`jwks_uri` and `signed_jwks_uri` are not followed);
//! - it pushes its authorization requests (§12.1.2, authenticated at `/par`): a plain
//!   authorization request names a client id anyone could name;
//! - its subjects are pairwise, for its entity identifier's host;
//! - it may ask for no more than `federation.relying_party_scopes`, and only the code
//!   flow (with refresh tokens if its metadata asks for them);
//! - it carries a valid trust mark of every type `federation.required_trust_marks`
//!   names.
//!
//! A client an operator registered is never replaced, and one an operator disabled
//! stays disabled.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::resolve::{ResolveError, Resolver};
use crate::audit::{Event, Kind};
use crate::config::FederationSettings;
use crate::domain::client::{AssertionAudience, Client, ClientKind, SubjectType};
use crate::domain::client_security::SecurityMetadata;
use crate::outbound::Outbound;
use crate::registration::{self, NewClient};
use crate::storage::federated_clients::{self, Resolution, Saved, Standing};
use crate::storage::{self, Db, StorageError, audit_events};
use crate::tokens::random::sha256_b64;

/// Longest entity identifier taken as a client id.
pub const MAX_ENTITY_ID_BYTES: usize = 255;

#[derive(Debug, thiserror::Error)]
pub enum FederatedClientError {
    #[error("no trust chain: {0}")]
    NoChain(String),
    #[error("the resolved metadata has no openid_relying_party")]
    NoMetadata,
    #[error("the relying party's metadata cannot be registered: {0}")]
    Invalid(String),
    #[error("an operator registered this client id")]
    Operator,
    #[error("an operator disabled this client")]
    Disabled,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A client registered through the federation, trusted until `until`.
#[derive(Debug, Clone)]
pub struct Registered {
    pub client: Client,
    pub until: DateTime<Utc>,
}

/// Whether `client_id` names an entity (an https URL; http where private networks are
/// allowed, in development) rather than a client an operator registered.
pub fn is_entity_id(client_id: &str, allow_http: bool) -> bool {
    client_id.len() <= MAX_ENTITY_ID_BYTES
        && super::subordinates::valid_entity_id(client_id, allow_http)
}

/// Resolves `entity_id` to a configured trust anchor and registers (or renews) it from
/// its resolved metadata.
pub async fn register(
    db: &Db,
    http: &Outbound,
    resolver: &Resolver,
    settings: &FederationSettings,
    entity_id: &str,
    now: DateTime<Utc>,
) -> Result<Registered, FederatedClientError> {
    let mut failure: Option<ResolveError> = None;
    let mut resolved = None;
    for anchor in resolver.anchor_ids() {
        match resolver
            .resolve(http, entity_id, anchor, now.timestamp())
            .await
        {
            Ok(chain) => {
                resolved = Some(chain);
                break;
            }
            Err(e) => failure = Some(e),
        }
    }
    let resolved = resolved.ok_or_else(|| {
        FederatedClientError::NoChain(failure.map_or("no trust anchor".into(), |e| e.to_string()))
    })?;
    if let Some(missing) = settings.required_trust_marks.iter().find(|required| {
        !resolved
            .trust_marks
            .iter()
            .any(|mark| &mark.trust_mark_type == *required)
    }) {
        return Err(FederatedClientError::Invalid(format!(
            "no valid trust mark of type {missing}"
        )));
    }
    let metadata = resolved
        .metadata
        .get("openid_relying_party")
        .and_then(Value::as_object)
        .ok_or(FederatedClientError::NoMetadata)?;
    let organization = resolved
        .metadata
        .get("federation_entity")
        .and_then(|m| m.get("organization_name"))
        .and_then(Value::as_str);
    // What citizens are shown beside the service's name: the organisation the chain
    // names, else the entity's host.
    let shown_organization: String = organization
        .map(str::to_owned)
        .or_else(|| {
            url::Url::parse(entity_id)
                .ok()?
                .host_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| entity_id.to_owned())
        .chars()
        .take(200)
        .collect();
    let new = new_client(
        entity_id,
        metadata,
        organization,
        &settings.relying_party_scopes,
    )
    .map_err(FederatedClientError::Invalid)?;
    let (mut client, _) =
        registration::register(new).map_err(|e| FederatedClientError::Invalid(e.to_string()))?;
    // The registration rules give an operator's clients short ids; this one is named
    // by its entity identifier, checked by `is_entity_id`.
    client.id = entity_id.to_owned();
    let until = DateTime::<Utc>::from_timestamp(resolved.exp, 0).unwrap_or(now);
    // The digest covers what the registration is made from: the metadata, and the
    // scopes this server allows.
    let digest = sha256_b64(&format!(
        "{}\n{}",
        Value::Object(metadata.clone()),
        settings.relying_party_scopes
    ));
    let (stored, anchor) = (client.clone(), resolved.trust_anchor.clone());
    let at = now.naive_utc();
    db.run(move |conn| {
        storage::transaction(conn, |conn| {
            match federated_clients::standing(conn, &stored.id)? {
                Standing::Operator => return Err(FederatedClientError::Operator),
                Standing::Disabled => return Err(FederatedClientError::Disabled),
                Standing::Unknown | Standing::Federated => {}
            }
            let chain = Resolution {
                trust_anchor: &anchor,
                expires_at: until.naive_utc(),
                metadata_sha256: &digest,
                organization: &shown_organization,
            };
            let outcome = match federated_clients::save(conn, &stored, &chain, at)? {
                Saved::New => "client_registered_by_federation",
                Saved::Changed => "client_changed_by_federation",
                Saved::Renewed => return Ok(()),
            };
            let event = Event::new(Kind::Admin, outcome, at)
                .client(&stored.id)
                .detail(format!("trust_anchor={anchor} by=federation"));
            audit_events::append(conn, &[event.into_row()])?;
            Ok(())
        })
    })
    .await?;
    Ok(Registered { client, until })
}

fn strings(metadata: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, String> {
    let Some(value) = metadata.get(name) else {
        return Ok(None);
    };
    value
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
        })
        .map(Some)
        .ok_or_else(|| format!("{name} must be an array of strings"))
}

fn string<'a>(metadata: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match metadata.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

/// The registration an operator would make for this relying party, from its metadata.
fn new_client(
    entity_id: &str,
    metadata: &Map<String, Value>,
    organization: Option<&str>,
    allowed_scopes: &str,
) -> Result<NewClient, String> {
    let redirect_uris = strings(metadata, "redirect_uris")?
        .filter(|uris| !uris.is_empty())
        .ok_or("redirect_uris is required")?;
    if let Some(method) = string(metadata, "token_endpoint_auth_method")?
        && method != "private_key_jwt"
    {
        return Err("token_endpoint_auth_method must be private_key_jwt".into());
    }
    let jwks = metadata
        .get("jwks")
        .filter(|jwks| jwks.is_object())
        .ok_or("jwks is required (jwks_uri and signed_jwks_uri are not followed)")?
        .to_string();
    let allowed: Vec<&str> = allowed_scopes.split_whitespace().collect();
    let scopes: Vec<&str> = match string(metadata, "scope")? {
        Some(asked) => asked
            .split_whitespace()
            .filter(|scope| allowed.contains(scope))
            .collect(),
        None => allowed.clone(),
    };
    if !scopes.contains(&"openid") {
        return Err("scope must include openid".into());
    }
    // The code flow only: a federated client acts for citizens, never as itself.
    let grant_types: Vec<String> = strings(metadata, "grant_types")?
        .unwrap_or_else(|| vec!["authorization_code".into()])
        .into_iter()
        .filter(|grant| grant == "authorization_code" || grant == "refresh_token")
        .collect();
    if !grant_types
        .iter()
        .any(|grant| grant == "authorization_code")
    {
        return Err("grant_types must include authorization_code".into());
    }
    let name = string(metadata, "client_name")?
        .or(organization)
        .unwrap_or(entity_id)
        .chars()
        .take(200)
        .collect();
    // The assurance metadata (DPoP, request objects, encrypted and signed answers) by its
    // registration names; the rest of the metadata is read above.
    let security_names = [
        "dpop_bound_access_tokens",
        "request_object_signing_alg",
        "id_token_encrypted_response_alg",
        "id_token_encrypted_response_enc",
        "userinfo_signed_response_alg",
        "userinfo_encrypted_response_alg",
        "userinfo_encrypted_response_enc",
    ];
    let security_metadata: Map<String, Value> = metadata
        .iter()
        .filter(|(name, _)| security_names.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let mut security: SecurityMetadata = serde_json::from_value(Value::Object(security_metadata))
        .map_err(|e| format!("security metadata: {e}"))?;
    security.require_pushed_authorization_requests = true;
    Ok(NewClient {
        id: None,
        name,
        kind: ClientKind::Confidential,
        redirect_uris,
        scopes: scopes.join(" "),
        id_token_alg: string(metadata, "id_token_signed_response_alg")?
            .unwrap_or("RS256")
            .to_owned(),
        access_token_ttl_secs: None,
        post_logout_redirect_uris: strings(metadata, "post_logout_redirect_uris")?
            .unwrap_or_default(),
        backchannel_logout_uri: None,
        grant_types,
        subject_type: SubjectType::Pairwise,
        sector_identifier: Some(entity_id.to_owned()),
        jwks: Some(jwks),
        jwks_uri: None,
        first_party: false,
        token_endpoint_auth_method: Some("private_key_jwt".into()),
        token_endpoint_auth_signing_alg: string(metadata, "token_endpoint_auth_signing_alg")?
            .map(str::to_owned),
        // The issuer identifier alone: an assertion made for another server cannot
        // be replayed here.
        assertion_audience: AssertionAudience::Issuer,
        security,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn metadata(extra: Value) -> Map<String, Value> {
        let mut base = json!({
            "redirect_uris": ["https://portal.partner.example/cb"],
            "jwks": { "keys": [] },
            "client_name": "Partner portal",
        });
        if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        base.as_object().cloned().unwrap()
    }

    #[test]
    fn the_metadata_becomes_a_confidential_pushed_pairwise_code_flow_client() {
        let new = new_client(
            "https://portal.partner.example",
            &metadata(json!({
                "scope": "openid profile national_id",
                "grant_types": ["authorization_code", "client_credentials", "refresh_token"],
                "id_token_signed_response_alg": "ES256",
            })),
            None,
            "openid profile",
        )
        .unwrap();
        assert_eq!(new.scopes, "openid profile");
        assert_eq!(new.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(
            new.token_endpoint_auth_method.as_deref(),
            Some("private_key_jwt")
        );
        assert!(new.security.require_pushed_authorization_requests);
        assert_eq!(new.subject_type, SubjectType::Pairwise);
        assert_eq!(new.id_token_alg, "ES256");
        assert_eq!(new.name, "Partner portal");
    }

    #[test]
    fn metadata_that_cannot_be_registered_says_why() {
        let cases = [
            (json!({ "redirect_uris": [] }), "redirect_uris"),
            (
                json!({ "redirect_uris": "https://a.example/cb" }),
                "redirect_uris",
            ),
            (
                json!({ "token_endpoint_auth_method": "client_secret_basic" }),
                "private_key_jwt",
            ),
            (json!({ "jwks": null }), "jwks"),
            (json!({ "scope": "profile" }), "openid"),
            (
                json!({ "grant_types": ["client_credentials"] }),
                "authorization_code",
            ),
        ];
        for (extra, reason) in cases {
            let error = new_client(
                "https://p.example",
                &metadata(extra.clone()),
                None,
                "openid profile",
            )
            .unwrap_err();
            assert!(error.contains(reason), "{extra}: {error}");
        }
    }

    #[test]
    fn entity_ids_are_bounded_urls() {
        assert!(is_entity_id("https://portal.partner.example", false));
        assert!(!is_entity_id("http://portal.partner.example", false));
        assert!(is_entity_id("http://127.0.0.1:8080", true));
        assert!(!is_entity_id("portal-1", true));
        assert!(!is_entity_id("https://p.example/?a=b", false));
        let long = format!("https://{}.example", "a".repeat(MAX_ENTITY_ID_BYTES));
        assert!(!is_entity_id(&long, false));
    }
}
