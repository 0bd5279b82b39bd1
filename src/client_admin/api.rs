//! The admin API: the client administration of [`registration::admin`] over HTTP, for
//! operators' tools. It answers only with a bearer token equal to `admin.token`
//! (compared in constant time) and is absent (404) when none is configured. The field
//! names follow the client metadata of OAuth Dynamic Client Registration (RFC 7591 §2).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::client::{AssertionAudience, Client, ClientKind, SubjectType};
use crate::domain::client_keys;
use crate::domain::client_security::SecurityMetadata;
use crate::domain::officer::Role;
use crate::http::oauth_error::AdminApiError;
use crate::officers::{Officer, tokens};
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::registration::admin::{self, Actor, AdminError};
use crate::registration::{self, NewClient, RegistrationError};
use crate::state::AppState;
use crate::tokens::random;

/// The admin API's answers to the client administration's refusals (RFC 7591 §3.2.2
/// for invalid metadata); a storage error is logged and hidden (`protocol::error`).
impl From<AdminError> for OAuthError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NotFound => not_found(),
            AdminError::Exists | AdminError::NoSecret(_) => {
                OAuthError::with_description(ErrorCode::Conflict, e.to_string())
            }
            AdminError::Invalid(reason) => reason.into(),
            AdminError::Storage(e) => e.into(),
        }
    }
}

impl From<RegistrationError> for OAuthError {
    fn from(reason: RegistrationError) -> Self {
        OAuthError::with_description(ErrorCode::InvalidClientMetadata, reason.to_string())
    }
}

/// No such resource, or the admin API is off.
pub(super) fn not_found() -> OAuthError {
    OAuthError::new(ErrorCode::NotFound, "no such resource")
}

/// The bearer token of an `Authorization` header, trimmed; empty when there is none.
/// Public so that the fuzz targets (`fuzz/`) run untrusted headers through it.
pub fn presented_token(authorization: Option<&HeaderValue>) -> &str {
    authorization
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map_or("", str::trim)
}

/// Who called the admin API: the shared bootstrap token, or an officer's personal token
/// (with the roles it may use now).
pub(super) enum Caller {
    Bootstrap,
    Officer(Officer),
}

impl Caller {
    /// How the audit trail names the caller.
    pub(super) fn actor(&self) -> String {
        match self {
            Caller::Bootstrap => "api".to_owned(),
            Caller::Officer(officer) => officer.actor(),
        }
    }
}

/// Lets the request through with the bootstrap token (which may do everything), or an
/// officer's live personal token that carries `role`. `None` is an operator's task
/// (a signing key), for the bootstrap token only. The API is absent (404) when neither
/// kind of token is on.
pub(super) async fn authorize(
    req: &HttpRequest,
    state: &AppState,
    role: Option<Role>,
) -> Result<Caller, AdminApiError> {
    let bootstrap = &state.settings.admin.token;
    let officers_on = state.settings.admin.officer_tokens;
    if bootstrap.is_empty() && !officers_on {
        return Err(not_found().into());
    }
    let presented = presented_token(req.headers().get(header::AUTHORIZATION)).to_owned();
    // Digests first, so that the comparison takes the same time whatever the length.
    if !bootstrap.is_empty()
        && random::constant_time_eq(
            &random::sha256(presented.as_bytes()),
            &random::sha256(bootstrap.as_bytes()),
        )
    {
        return Ok(Caller::Bootstrap);
    }
    let now = state.clock.now().naive_utc();
    let officer = if officers_on && presented.starts_with(tokens::PREFIX) {
        state
            .db
            .run(move |conn| tokens::authenticate(conn, &presented, now))
            .await
            .map_err(OAuthError::from)?
    } else {
        None
    };
    let Some(officer) = officer else {
        tracing::warn!(target: "security", "admin API request with a wrong token");
        return Err(OAuthError::new(
            ErrorCode::InvalidToken,
            "the admin token is missing, wrong, expired or revoked",
        )
        .into());
    };
    match role {
        Some(role) if officer.may(role) => Ok(Caller::Officer(officer)),
        Some(role) => Err(forbidden(&format!("this operation needs the {role} role"))),
        None => Err(forbidden(
            "this operation needs the operator's bootstrap token",
        )),
    }
}

fn forbidden(description: &str) -> AdminApiError {
    tracing::warn!(target: "security", "admin API request beyond the caller's roles");
    OAuthError::with_description(ErrorCode::InsufficientScope, description.to_owned()).into()
}

/// A client's settings as sent by the operator (create, or full replacement).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientMetadata {
    client_id: Option<String>,
    client_name: String,
    /// `confidential` (the default) or `public`; fixed once created.
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    #[serde(default)]
    grant_types: Vec<String>,
    scope: Option<String>,
    id_token_signed_response_alg: Option<String>,
    access_token_ttl_secs: Option<u32>,
    subject_type: Option<String>,
    sector_identifier: Option<String>,
    jwks: Option<Value>,
    jwks_uri: Option<String>,
    /// One of the state's own services: its citizens are not asked for consent.
    #[serde(default)]
    first_party: bool,
    token_endpoint_auth_method: Option<String>,
    token_endpoint_auth_signing_alg: Option<String>,
    /// `issuer` (the default) or `oidc`: see `AssertionAudience`.
    assertion_audience: Option<String>,
    profile: Option<String>,
    #[serde(default)]
    require_pushed_authorization_requests: bool,
    #[serde(default)]
    dpop_bound_access_tokens: bool,
    request_object_signing_alg: Option<String>,
    id_token_encrypted_response_alg: Option<String>,
    id_token_encrypted_response_enc: Option<String>,
    userinfo_signed_response_alg: Option<String>,
    userinfo_encrypted_response_alg: Option<String>,
    userinfo_encrypted_response_enc: Option<String>,
}

fn is_control_text(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// Whether any string or member name in `value` holds a control character. No client
/// setting may: PostgreSQL refuses a NUL in text, a name is shown on the consent page,
/// and URL parsers drop a tab or a line break from a URI silently, so that what was
/// registered is not what is matched.
fn holds_control(value: &Value) -> bool {
    match value {
        Value::String(s) => is_control_text(s),
        Value::Array(items) => items.iter().any(holds_control),
        Value::Object(members) => members
            .iter()
            .any(|(k, v)| is_control_text(k) || holds_control(v)),
        _ => false,
    }
}

/// The client id of the URL. No client id holds a control character (PostgreSQL
/// refuses a NUL in a lookup), so such an id names no client.
fn path_client_id(path: web::Path<String>) -> Result<String, OAuthError> {
    let client_id = path.into_inner();
    if is_control_text(&client_id) {
        return Err(not_found());
    }
    Ok(client_id)
}

fn invalid(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

impl ClientMetadata {
    fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let not_metadata = |e: serde_json::Error| {
            OAuthError::with_description(
                ErrorCode::InvalidRequest,
                format!("the body is not valid client metadata: {e}"),
            )
        };
        let value: Value = serde_json::from_slice(body).map_err(not_metadata)?;
        // PostgreSQL refuses a NUL in text: without this check it would be a 500.
        if holds_control(&value) {
            return Err(invalid("a value contains a control character"));
        }
        serde_json::from_value(value).map_err(not_metadata)
    }

    fn into_new_client(self, base: NewClient) -> Result<NewClient, OAuthError> {
        let kind = match self.kind.as_deref() {
            None => base.kind,
            Some(kind) => ClientKind::parse(kind)
                .ok_or_else(|| invalid("kind must be confidential or public"))?,
        };
        let subject_type = match self.subject_type.as_deref() {
            None => SubjectType::Pairwise,
            Some(s) => SubjectType::parse(s)
                .ok_or_else(|| invalid("subject_type must be pairwise or public"))?,
        };
        let assertion_audience = match self.assertion_audience.as_deref() {
            None => base.assertion_audience,
            Some(a) => AssertionAudience::parse(a)
                .ok_or_else(|| invalid("assertion_audience must be issuer or oidc"))?,
        };
        Ok(NewClient {
            id: self.client_id.or(base.id),
            name: self.client_name,
            kind,
            redirect_uris: self.redirect_uris,
            scopes: self.scope.unwrap_or_else(|| "openid profile".into()),
            id_token_alg: self
                .id_token_signed_response_alg
                .unwrap_or_else(|| "RS256".into()),
            access_token_ttl_secs: self.access_token_ttl_secs,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            backchannel_logout_uri: self.backchannel_logout_uri,
            grant_types: self.grant_types,
            subject_type,
            sector_identifier: self.sector_identifier,
            jwks: self.jwks.map(|set| set.to_string()),
            jwks_uri: self.jwks_uri,
            first_party: self.first_party,
            token_endpoint_auth_method: self.token_endpoint_auth_method,
            token_endpoint_auth_signing_alg: self.token_endpoint_auth_signing_alg,
            assertion_audience,
            security: SecurityMetadata {
                profile: self.profile,
                require_pushed_authorization_requests: self.require_pushed_authorization_requests,
                dpop_bound_access_tokens: self.dpop_bound_access_tokens,
                request_object_signing_alg: self.request_object_signing_alg,
                id_token_encrypted_response_alg: self.id_token_encrypted_response_alg,
                id_token_encrypted_response_enc: self.id_token_encrypted_response_enc,
                userinfo_signed_response_alg: self.userinfo_signed_response_alg,
                userinfo_encrypted_response_alg: self.userinfo_encrypted_response_alg,
                userinfo_encrypted_response_enc: self.userinfo_encrypted_response_enc,
            },
        })
    }
}

/// A client as the API shows it; the secret appears only when just made.
#[derive(Serialize)]
struct ClientView {
    client_id: String,
    client_name: String,
    kind: &'static str,
    token_endpoint_auth_method: &'static str,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    grant_types: Vec<&'static str>,
    scope: String,
    id_token_signed_response_alg: String,
    access_token_ttl_secs: Option<u32>,
    subject_type: &'static str,
    sector_identifier: String,
    jwks: Option<Value>,
    jwks_uri: Option<String>,
    first_party: bool,
    token_endpoint_auth_signing_alg: Option<String>,
    assertion_audience: &'static str,
    /// Always names the profile, unlike the stored metadata, which leaves the default out.
    profile: &'static str,
    #[serde(flatten)]
    security: SecurityMetadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

impl ClientView {
    fn of(client: Client, secret: Option<String>) -> Self {
        ClientView {
            kind: client.kind.as_str(),
            token_endpoint_auth_method: client.auth_method.as_str(),
            grant_types: client.grant_types.iter().map(|g| g.as_str()).collect(),
            scope: client.scopes.to_string(),
            subject_type: client.subject_type.as_str(),
            jwks: client.jwks.and_then(|j| serde_json::from_str(&j).ok()),
            token_endpoint_auth_signing_alg: client
                .token_endpoint_auth_signing_alg
                .map(client_keys::alg_name),
            assertion_audience: client.assertion_audience.as_str(),
            profile: client.security.profile.as_str(),
            security: SecurityMetadata {
                profile: None,
                ..SecurityMetadata::from(&client.security)
            },
            client_id: client.id,
            client_name: client.name,
            redirect_uris: client.redirect_uris,
            post_logout_redirect_uris: client.post_logout_redirect_uris,
            backchannel_logout_uri: client.backchannel_logout_uri,
            id_token_signed_response_alg: client.id_token_alg.as_str().to_owned(),
            access_token_ttl_secs: client.access_token_ttl_secs,
            sector_identifier: client.sector_identifier,
            jwks_uri: client.jwks_uri,
            first_party: client.first_party,
            client_secret: secret,
        }
    }
}

pub(super) fn json(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

pub(super) fn body_bytes(
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<web::Bytes, AdminApiError> {
    body.map_err(|_| {
        AdminApiError::with_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            OAuthError::new(
                ErrorCode::InvalidRequest,
                "the body is too large or unreadable",
            ),
        )
    })
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminApiError> {
    authorize(&req, &state, Some(Role::ClientAdmin)).await?;
    let list = state.db.run(admin::list).await?;
    let views: Vec<ClientView> = list.into_iter().map(|c| ClientView::of(c, None)).collect();
    Ok(json(StatusCode::OK, &json!({ "clients": views })))
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, AdminApiError> {
    let actor = authorize(&req, &state, Some(Role::ClientAdmin))
        .await?
        .actor();
    let metadata = ClientMetadata::parse(&body_bytes(body)?)?;
    let new = metadata.into_new_client(NewClient::default())?;
    registration::check_outbound(&new, state.http.policy()).await?;
    let now = state.clock.now().naive_utc();
    let (client, secret) = state
        .db
        .run(move |conn| admin::create(conn, new, Actor(&actor), now))
        .await?;
    state.clients.invalidate(&client.id);
    let secret = secret.map(|s| s.expose().to_owned());
    Ok(json(StatusCode::CREATED, &ClientView::of(client, secret)))
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    authorize(&req, &state, Some(Role::ClientAdmin)).await?;
    let client_id = path_client_id(path)?;
    let client = state
        .db
        .run(move |conn| admin::find(conn, &client_id))
        .await?
        .ok_or_else(not_found)?;
    Ok(json(StatusCode::OK, &ClientView::of(client, None)))
}

/// PUT replaces every setting (RFC 7592 §2.2 semantics): omitted fields take their
/// defaults. The id and kind stay; so does the secret.
pub async fn replace(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, AdminApiError> {
    let actor = authorize(&req, &state, Some(Role::ClientAdmin))
        .await?
        .actor();
    let client_id = path_client_id(path)?;
    let metadata = ClientMetadata::parse(&body_bytes(body)?)?;
    if metadata
        .client_id
        .as_deref()
        .is_some_and(|id| id != client_id)
    {
        return Err(invalid("client_id differs from the URL").into());
    }
    if metadata.kind.is_some() {
        return Err(invalid("kind cannot change; delete and create instead").into());
    }
    // The id and kind come from the stored client (see `admin::update`).
    let wanted = metadata.into_new_client(NewClient::default())?;
    registration::check_outbound(&wanted, state.http.policy()).await?;
    let now = state.clock.now().naive_utc();
    let (client, secret) = state
        .db
        .run(move |conn| admin::update(conn, &client_id, |_| wanted, Actor(&actor), now))
        .await?;
    // This instance sees the change at once; others within the cache's TTL.
    state.clients.invalidate(&client.id);
    let secret = secret.map(|s| s.expose().to_owned());
    Ok(json(StatusCode::OK, &ClientView::of(client, secret)))
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let actor = authorize(&req, &state, Some(Role::ClientAdmin))
        .await?
        .actor();
    let client_id = path_client_id(path)?;
    let now = state.clock.now().naive_utc();
    let id = client_id.clone();
    state
        .db
        .run(move |conn| admin::delete(conn, &id, Actor(&actor), now))
        .await?;
    state.clients.invalidate(&client_id);
    Ok(HttpResponse::NoContent().finish())
}

pub async fn rotate_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    let actor = authorize(&req, &state, Some(Role::ClientAdmin))
        .await?
        .actor();
    let client_id = path_client_id(path)?;
    let now = state.clock.now().naive_utc();
    let id = client_id.clone();
    let secret = state
        .db
        .run(move |conn| admin::rotate_secret(conn, &id, Actor(&actor), now))
        .await?;
    state.clients.invalidate(&client_id);
    Ok(json(
        StatusCode::OK,
        &json!({ "client_secret": secret.expose() }),
    ))
}

/// `POST /admin/clients/{client_id}/disable` and `/enable`: `disabled` says the state
/// after the call, which is idempotent.
pub async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    switch(req, state, path, true).await
}

pub async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminApiError> {
    switch(req, state, path, false).await
}

async fn switch(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    disable: bool,
) -> Result<HttpResponse, AdminApiError> {
    let actor = authorize(&req, &state, Some(Role::ClientAdmin))
        .await?
        .actor();
    let client_id = path_client_id(path)?;
    let now = state.clock.now().naive_utc();
    let id = client_id.clone();
    state
        .db
        .run(move |conn| admin::set_disabled(conn, &id, disable, Actor(&actor), now))
        .await?;
    state.clients.invalidate(&client_id);
    Ok(json(
        StatusCode::OK,
        &json!({ "client_id": client_id, "disabled": disable }),
    ))
}
