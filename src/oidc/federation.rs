//! The OpenID Federation 1.0 endpoints: the entity configuration (§9), fetch (§8.1),
//! list (§8.2) and resolve (§8.3). Errors are the JSON of §8.9.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use crate::federation::entity::{Issuer, RESOLVE_RESPONSE_MEDIA_TYPE};
use crate::federation::resolve::ResolveError;
use crate::federation::statement::MEDIA_TYPE;
use crate::federation::subordinates;
use crate::http::params;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::state::AppState;

/// The parameters a federation endpoint knows; any other is refused, as the
/// specification asks of the list endpoint's filters this server does not offer.
fn query(
    req: &HttpRequest,
    known: &[&'static str],
) -> Result<Vec<(&'static str, String)>, OAuthError> {
    let pairs = params::from_query(req).ok_or_else(|| {
        OAuthError::new(ErrorCode::InvalidRequest, "the query string is malformed")
    })?;
    let mut found: Vec<(&'static str, String)> = Vec::new();
    for (name, value) in pairs {
        let Some(&known) = known.iter().find(|k| **k == name) else {
            return Err(OAuthError::with_description(
                ErrorCode::UnsupportedParameter,
                format!("the parameter {name:?} is not supported"),
            ));
        };
        if found.iter().any(|(n, _)| *n == known) {
            return Err(OAuthError::with_description(
                ErrorCode::InvalidRequest,
                format!("the parameter {known} is repeated"),
            ));
        }
        found.push((known, value));
    }
    Ok(found)
}

fn param<'a>(found: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
    found
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

/// What `sign` makes as this server, with its current federation key, now.
fn signed(
    state: &AppState,
    sign: impl FnOnce(&Issuer<'_>) -> Result<String, crate::tokens::TokenError>,
) -> Result<String, OAuthError> {
    let keys = state.federation_keys.current();
    let issuer = Issuer {
        entity_id: &state.issuer,
        keys: &keys,
        settings: &state.settings.federation,
        now: state.clock.now(),
    };
    Ok(sign(&issuer)?)
}

fn off() -> OAuthError {
    OAuthError::new(ErrorCode::NotFound, "federation is off on this server")
}

fn statement_response(media_type: &'static str, jwt: String, max_age: u64) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, format!("public, max-age={max_age}")))
        .content_type(media_type)
        .body(jwt)
}

/// `/.well-known/openid-federation`: this server's entity configuration.
pub async fn configuration_get(state: web::Data<AppState>) -> Result<HttpResponse, OAuthError> {
    if !state.settings.federation.enabled {
        return Err(off());
    }
    let discovery: Value =
        serde_json::from_str(&state.discovery_json).map_err(|e| OAuthError::internal(&e, false))?;
    let jwt = signed(&state, |issuer| issuer.configuration(&discovery))?;
    // A superior may re-read it at any time: a short cache keeps key rotations and
    // new authority hints visible within a reload interval.
    Ok(statement_response(
        MEDIA_TYPE,
        jwt,
        state.settings.keys.reload_interval_secs,
    ))
}

/// `GET /federation/fetch?sub=…`: the subordinate statement about `sub`.
pub async fn fetch_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    if !state.settings.federation.enabled {
        return Err(off());
    }
    let found = query(&req, &["sub", "iss"])?;
    let sub = param(&found, "sub").ok_or_else(|| {
        OAuthError::new(ErrorCode::InvalidRequest, "the sub parameter is required")
    })?;
    if param(&found, "iss").is_some_and(|iss| iss != state.issuer) {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "iss must be this server's entity identifier",
        ));
    }
    if sub == state.issuer {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "this server's own statement is its entity configuration",
        ));
    }
    let row = subordinates::find(&state.db, sub)
        .await?
        .ok_or_else(|| OAuthError::new(ErrorCode::NotFound, "not a subordinate of this server"))?;
    let jwt = signed(&state, |issuer| issuer.subordinate_statement(&row))?;
    Ok(statement_response(
        MEDIA_TYPE,
        jwt,
        state.settings.keys.reload_interval_secs,
    ))
}

/// `GET /federation/list`: the entity identifiers of the subordinates.
pub async fn list_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    if !state.settings.federation.enabled {
        return Err(off());
    }
    query(&req, &[])?;
    let ids: Vec<String> = subordinates::list(&state.db)
        .await?
        .into_iter()
        .map(|row| row.entity_id)
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ids))
}

/// `GET /federation/resolve?sub=…&trust_anchor=…[&entity_type=…]`: the subject's
/// metadata resolved through a trust chain to the trust anchor, signed, with the chain.
pub async fn resolve_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    if !state.settings.federation.enabled {
        return Err(off());
    }
    let found = query(&req, &["sub", "trust_anchor", "entity_type"])?;
    let (Some(sub), Some(anchor)) = (param(&found, "sub"), param(&found, "trust_anchor")) else {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "sub and trust_anchor are required",
        ));
    };
    let resolved = state
        .federation
        .resolve(&state.http, sub, anchor, state.clock.now().timestamp())
        .await
        .map_err(|e| match e {
            ResolveError::UnknownTrustAnchor { .. } => {
                OAuthError::with_description(ErrorCode::InvalidTrustAnchor, e.to_string())
            }
            e => {
                tracing::info!(error = %e, "a trust chain did not resolve");
                OAuthError::with_description(ErrorCode::InvalidTrustChain, e.to_string())
            }
        })?;
    let entity_type = param(&found, "entity_type");
    let jwt = signed(&state, |issuer| {
        issuer.resolve_response(&resolved, entity_type)
    })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(RESOLVE_RESPONSE_MEDIA_TYPE)
        .body(jwt))
}
