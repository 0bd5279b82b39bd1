//! OpenID Provider metadata (OIDC Discovery 1.0 §3), listing exactly what is supported.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::domain::acr::AssuranceLevel;
use crate::domain::client::{GrantType, SubjectType, TokenEndpointAuthMethod};
use crate::domain::client_security::{ContentEncryptionAlg, FAPI2_ALGS, KeyManagementAlg, Profile};
use crate::domain::signing_alg::SigningAlg;
use crate::domain::{client_keys, scope};
use crate::protocol::authorize::grant::ResponseMode;
use crate::state::{AppState, Endpoints};

/// Claims that userinfo can release, by the scopes listed in `scope::SUPPORTED`.
pub const CLAIMS_SUPPORTED: [&str; 23] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "name",
    "family_name",
    "middle_name",
    "given_name",
    "birthdate",
    "gender",
    "nationalities",
    "place_of_origin",
    "updated_at",
    "address",
    "national_id",
    "id_card",
];

pub fn document(issuer: &str, endpoints: &Endpoints, settings: &Settings) -> Value {
    // Under the server-wide FAPI 2.0 profile every client pushes, and signs with its
    // algorithms only.
    let fapi2 = settings.server.profile == Profile::Fapi2;
    let request_object_algs: Vec<String> = if fapi2 {
        FAPI2_ALGS
            .iter()
            .map(|&alg| client_keys::alg_name(alg))
            .collect()
    } else {
        client_keys::assertion_alg_names()
    };
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": endpoints.authorization,
        "token_endpoint": endpoints.token,
        "userinfo_endpoint": endpoints.userinfo,
        "jwks_uri": endpoints.jwks,
        "revocation_endpoint": endpoints.revocation,
        "revocation_endpoint_auth_methods_supported": TokenEndpointAuthMethod::SUPPORTED,
        "introspection_endpoint": endpoints.introspection,
        "end_session_endpoint": endpoints.end_session,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "scopes_supported": scope::SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ResponseMode::SUPPORTED,
        "grant_types_supported": GrantType::ALL.map(GrantType::as_str),
        "subject_types_supported": SubjectType::SUPPORTED,
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": TokenEndpointAuthMethod::SUPPORTED,
        "token_endpoint_auth_signing_alg_values_supported": client_keys::assertion_alg_names(),
        "revocation_endpoint_auth_signing_alg_values_supported": client_keys::assertion_alg_names(),
        "introspection_endpoint_auth_signing_alg_values_supported": client_keys::assertion_alg_names(),
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": AssuranceLevel::ALL.iter().map(|l| l.acr()).collect::<Vec<_>>(),
        "claims_supported": CLAIMS_SUPPORTED,
        "claims_parameter_supported": true,
        "pushed_authorization_request_endpoint": endpoints.pushed_authorization,
        "require_pushed_authorization_requests": settings.par.required || fapi2,
        // Signed only (RFC 9101): never `none`, never HS*.
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": request_object_algs,
        // A request_uri from /par needs no such support (RFC 9126 §5), and no other is
        // ever fetched. Said explicitly: OIDC Discovery's default is true.
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["vi", "en"],
        "claim_types_supported": ["normal"],
        // RFC 9449 §5.1.
        "dpop_signing_alg_values_supported": settings.dpop.allowed_algs,
    });
    // OIDC Discovery §3: what ID tokens and userinfo answers can be encrypted with, and
    // signed with for userinfo (whose default is JSON, unsigned).
    let key_algs = KeyManagementAlg::ALL.map(KeyManagementAlg::as_str);
    let content_algs = ContentEncryptionAlg::ALL.map(ContentEncryptionAlg::as_str);
    for (name, value) in [
        ("id_token_encryption_alg_values_supported", json!(key_algs)),
        (
            "id_token_encryption_enc_values_supported",
            json!(content_algs),
        ),
        ("userinfo_signing_alg_values_supported", json!(algs)),
        ("userinfo_encryption_alg_values_supported", json!(key_algs)),
        (
            "userinfo_encryption_enc_values_supported",
            json!(content_algs),
        ),
    ] {
        document[name] = value;
    }
    document
}

pub async fn discovery_get(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .content_type("application/json")
        .body(state.discovery_json.clone())
}

pub async fn jwks_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let keys = state.keys.current();
    // max-age is one reload interval: this instance's answer changes no faster, and
    // `keys.prepublish_secs` (at least two intervals) lets a new key reach every cache
    // before it signs. A longer max-age would only delay that.
    let cache = format!(
        "public, max-age={}",
        state.settings.keys.reload_interval_secs
    );
    // RFC 9110 §13.1.2: a client that has this set already gets 304 and no body.
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == keys.etag() || tag.trim() == "*")
        });
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, keys.etag().to_owned()));
    if unchanged {
        return response.finish();
    }
    response
        .content_type("application/jwk-set+json")
        .body(keys.jwks_json().to_owned())
}
