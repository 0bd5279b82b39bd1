//! The entities this server vouches for when it is a trust anchor or an intermediate
//! for the country's services: each with its federation keys, and the metadata policy
//! and metadata this server imposes on it, and the constraints on the chain below it. Operators keep the register with
//! `citizen-idp federation subordinate ...`; the fetch endpoint signs from it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::policy;
use crate::audit::{Event, Kind};
use crate::domain::client_keys;
use crate::storage::federation_subordinates::{self, SubordinateRow};
use crate::storage::{self, Db, StorageError, audit_events};

/// Largest policy or metadata document accepted, in bytes of JSON.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SubordinateError {
    #[error("the entity identifier must be an https URL with no query or fragment")]
    EntityId,
    #[error("the keys: {0}")]
    Keys(String),
    #[error("the metadata policy: {0}")]
    Policy(String),
    #[error("the metadata: {0}")]
    Metadata(String),
    #[error("the constraints: {0}")]
    Constraints(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What an operator says about a subordinate.
#[derive(Debug, Clone)]
pub struct Subordinate {
    pub entity_id: String,
    pub jwks: String,
    pub metadata_policy: Option<String>,
    pub metadata: Option<String>,
    pub constraints: Option<String>,
}

/// Checks an entity identifier: https (http only where private networks are allowed,
/// in development), with a host, no query and no fragment (§1.2).
pub fn valid_entity_id(id: &str, allow_http: bool) -> bool {
    url::Url::parse(id).is_ok_and(|url| {
        (url.scheme() == "https" || (allow_http && url.scheme() == "http"))
            && url.host().is_some()
            && url.query().is_none()
            && url.fragment().is_none()
    })
}

/// A JSON object of entity types, each an object, as policies and metadata are.
fn by_entity_type(json: &str) -> Result<Map<String, Value>, String> {
    if json.len() > MAX_DOCUMENT_BYTES {
        return Err(format!("larger than {MAX_DOCUMENT_BYTES} bytes"));
    }
    let document: Map<String, Value> =
        serde_json::from_str(json).map_err(|e| format!("not a JSON object: {e}"))?;
    if let Some((kind, _)) = document.iter().find(|(_, v)| !v.is_object()) {
        return Err(format!("{kind:?} is not an object"));
    }
    Ok(document)
}

/// Checks `subordinate` and keeps it, audited; returns whether it is new.
pub async fn save(
    db: &Db,
    subordinate: Subordinate,
    allow_http: bool,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool, SubordinateError> {
    if !valid_entity_id(&subordinate.entity_id, allow_http) {
        return Err(SubordinateError::EntityId);
    }
    client_keys::parse_jwks(subordinate.jwks.as_bytes())
        .map_err(|e| SubordinateError::Keys(e.to_string()))?;
    if let Some(json) = &subordinate.metadata_policy {
        for (kind, rules) in by_entity_type(json).map_err(SubordinateError::Policy)? {
            // Merging with nothing runs every check a chain would: unknown operators,
            // wrong types, contradictions within a parameter.
            let rules = rules.as_object().cloned().unwrap_or_default();
            policy::merge(&Map::new(), &rules)
                .map_err(|e| SubordinateError::Policy(format!("{kind}: {e}")))?;
        }
    }
    if let Some(json) = &subordinate.metadata {
        by_entity_type(json).map_err(SubordinateError::Metadata)?;
    }
    if let Some(json) = &subordinate.constraints {
        if json.len() > MAX_DOCUMENT_BYTES {
            return Err(SubordinateError::Constraints(format!(
                "larger than {MAX_DOCUMENT_BYTES} bytes"
            )));
        }
        serde_json::from_str::<super::statement::Constraints>(json)
            .map_err(|e| SubordinateError::Constraints(e.to_string()))?;
    }
    let at = now.naive_utc();
    let row = SubordinateRow {
        entity_id: subordinate.entity_id,
        jwks: subordinate.jwks,
        metadata_policy: subordinate.metadata_policy,
        metadata: subordinate.metadata,
        constraints: subordinate.constraints,
        created_at: at,
        updated_at: at,
    };
    let by = by.to_owned();
    Ok(db
        .run(move |conn| {
            storage::transaction(conn, |conn| {
                let new = federation_subordinates::upsert(conn, &row)?;
                let event = Event::new(Kind::Admin, "federation_subordinate_saved", at)
                    .detail(format!("entity={} new={new} by={by}", row.entity_id));
                audit_events::append(conn, &[event.into_row()])?;
                Ok::<_, StorageError>(new)
            })
        })
        .await?)
}

/// Stops vouching for an entity, audited; returns whether it was there.
pub async fn remove(
    db: &Db,
    entity_id: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let (entity_id, by, at) = (entity_id.to_owned(), by.to_owned(), now.naive_utc());
    db.run(move |conn| {
        storage::transaction(conn, |conn| {
            let removed = federation_subordinates::delete(conn, &entity_id)?;
            if removed {
                let event = Event::new(Kind::Admin, "federation_subordinate_removed", at)
                    .detail(format!("entity={entity_id} by={by}"));
                audit_events::append(conn, &[event.into_row()])?;
            }
            Ok(removed)
        })
    })
    .await
}

pub async fn list(db: &Db) -> Result<Vec<SubordinateRow>, StorageError> {
    db.run(federation_subordinates::list).await
}

pub async fn find(db: &Db, entity_id: &str) -> Result<Option<SubordinateRow>, StorageError> {
    let entity_id = entity_id.to_owned();
    db.run(move |conn| federation_subordinates::find(conn, &entity_id))
        .await
}
