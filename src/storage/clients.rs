//! The `clients` table: registered relying parties.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::per_backend;
use super::schema::{clients, disabled_clients};
use super::{DbConnection, StorageError};
use crate::domain::client::{
    AssertionAudience, Client, ClientKind, GrantType, SubjectType, TokenEndpointAuthMethod,
    sector_of,
};
use crate::domain::client_keys;
use crate::domain::client_security::{ClientSecurity, SecurityMetadata};
use crate::domain::scope::ScopeSet;
use crate::domain::signing_alg::SigningAlg;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
struct ClientRow {
    client_id: String,
    name: String,
    kind: String,
    secret_hash: Option<Vec<u8>>,
    redirect_uris: String,
    scopes: String,
    id_token_alg: String,
    auth_method: String,
    created_at: NaiveDateTime,
    access_token_ttl_secs: Option<i32>,
    post_logout_redirect_uris: String,
    backchannel_logout_uri: Option<String>,
    grant_types: String,
    subject_type: String,
    sector_identifier: Option<String>,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    updated_at: Option<NaiveDateTime>,
    first_party: bool,
    token_endpoint_auth_signing_alg: Option<String>,
    assertion_audience: String,
    security: String,
}

impl ClientRow {
    fn redirect_uris_first(&self) -> String {
        serde_json::from_str::<Vec<String>>(&self.redirect_uris)
            .ok()
            .and_then(|uris| uris.into_iter().next())
            .unwrap_or_default()
    }
}

impl TryFrom<ClientRow> for Client {
    type Error = StorageError;

    fn try_from(row: ClientRow) -> Result<Self, StorageError> {
        let corrupt = |what: &str| StorageError::Corrupt(format!("clients.{what}"));
        // Clients registered before sectors were recorded: the host of their first
        // redirect URI, as OIDC Core §8.1 prescribes.
        let sector_identifier = match &row.sector_identifier {
            Some(sector) => sector.clone(),
            None => sector_of(&row.redirect_uris_first()).unwrap_or_else(|| row.client_id.clone()),
        };
        Ok(Client {
            kind: ClientKind::parse(&row.kind).ok_or_else(|| corrupt("kind"))?,
            redirect_uris: serde_json::from_str(&row.redirect_uris)
                .map_err(|_| corrupt("redirect_uris"))?,
            scopes: ScopeSet::parse(&row.scopes).map_err(|_| corrupt("scopes"))?,
            auth_method: TokenEndpointAuthMethod::parse(&row.auth_method)
                .ok_or_else(|| corrupt("auth_method"))?,
            post_logout_redirect_uris: serde_json::from_str(&row.post_logout_redirect_uris)
                .map_err(|_| corrupt("post_logout_redirect_uris"))?,
            backchannel_logout_uri: row.backchannel_logout_uri,
            grant_types: row
                .grant_types
                .split(' ')
                .map(|g| GrantType::parse(g).ok_or_else(|| corrupt("grant_types")))
                .collect::<Result<_, _>>()?,
            subject_type: SubjectType::parse(&row.subject_type)
                .ok_or_else(|| corrupt("subject_type"))?,
            sector_identifier,
            jwks: row.jwks,
            jwks_uri: row.jwks_uri,
            token_endpoint_auth_signing_alg: row
                .token_endpoint_auth_signing_alg
                .map(|alg| {
                    client_keys::assertion_alg(&alg)
                        .ok_or_else(|| corrupt("token_endpoint_auth_signing_alg"))
                })
                .transpose()?,
            assertion_audience: AssertionAudience::parse(&row.assertion_audience)
                .ok_or_else(|| corrupt("assertion_audience"))?,
            first_party: row.first_party,
            security: serde_json::from_str::<SecurityMetadata>(&row.security)
                .ok()
                .and_then(|meta| ClientSecurity::try_from(&meta).ok())
                .ok_or_else(|| corrupt("security"))?,
            id: row.client_id,
            name: row.name,
            secret_hash: row.secret_hash,
            access_token_ttl_secs: row
                .access_token_ttl_secs
                .map(|ttl| u32::try_from(ttl).map_err(|_| corrupt("access_token_ttl_secs")))
                .transpose()?,
            // Registration admits only the algorithms we sign with; a row from before
            // that check signs as the default did then.
            id_token_alg: SigningAlg::parse(&row.id_token_alg).unwrap_or(SigningAlg::Rs256),
        })
    }
}

/// The client `client_id` if it is registered and not disabled: what every protocol
/// endpoint may deal with. A disabled client is unknown to them.
pub fn find(conn: &mut DbConnection, client_id: &str) -> Result<Option<Client>, StorageError> {
    clients::table
        .find(client_id)
        .filter(diesel::dsl::not(diesel::dsl::exists(
            disabled_clients::table.filter(disabled_clients::client_id.eq(clients::client_id)),
        )))
        .select(ClientRow::as_select())
        .get_result(conn)
        .optional()?
        .map(Client::try_from)
        .transpose()
}

/// The client `client_id`, disabled or not: for its administration.
pub fn find_registered(
    conn: &mut DbConnection,
    client_id: &str,
) -> Result<Option<Client>, StorageError> {
    clients::table
        .find(client_id)
        .select(ClientRow::as_select())
        .get_result(conn)
        .optional()?
        .map(Client::try_from)
        .transpose()
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<Client>, StorageError> {
    clients::table
        .order(clients::created_at.asc())
        .select(ClientRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Client::try_from)
        .collect()
}

pub fn insert(
    conn: &mut DbConnection,
    client: &Client,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    let redirect_uris = serde_json::to_string(&client.redirect_uris)
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let post_logout_redirect_uris = serde_json::to_string(&client.post_logout_redirect_uris)
        .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let row = ClientRow {
        client_id: client.id.clone(),
        name: client.name.clone(),
        kind: client.kind.as_str().to_owned(),
        secret_hash: client.secret_hash.clone(),
        redirect_uris,
        scopes: client.scopes.to_string(),
        id_token_alg: client.id_token_alg.as_str().to_owned(),
        auth_method: client.auth_method.as_str().to_owned(),
        created_at: now,
        access_token_ttl_secs: client
            .access_token_ttl_secs
            .and_then(|ttl| i32::try_from(ttl).ok()),
        post_logout_redirect_uris,
        backchannel_logout_uri: client.backchannel_logout_uri.clone(),
        grant_types: grant_types_text(&client.grant_types),
        subject_type: client.subject_type.as_str().to_owned(),
        sector_identifier: Some(client.sector_identifier.clone()),
        jwks: client.jwks.clone(),
        jwks_uri: client.jwks_uri.clone(),
        updated_at: None,
        first_party: client.first_party,
        token_endpoint_auth_signing_alg: signing_alg_text(client),
        assertion_audience: client.assertion_audience.as_str().to_owned(),
        security: security_text(client)?,
    };
    diesel::insert_into(clients::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}

/// Replaces every setting of an existing client (all but its id, kind and creation
/// time); returns whether it existed.
pub fn update(
    conn: &mut DbConnection,
    client: &Client,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let corrupt = |e: serde_json::Error| StorageError::Corrupt(e.to_string());
    let updated = diesel::update(clients::table.find(&client.id))
        .set((
            clients::name.eq(&client.name),
            clients::secret_hash.eq(&client.secret_hash),
            clients::redirect_uris
                .eq(serde_json::to_string(&client.redirect_uris).map_err(corrupt)?),
            clients::scopes.eq(client.scopes.to_string()),
            clients::id_token_alg.eq(client.id_token_alg.as_str()),
            clients::auth_method.eq(client.auth_method.as_str()),
            clients::access_token_ttl_secs.eq(client
                .access_token_ttl_secs
                .and_then(|t| i32::try_from(t).ok())),
            clients::post_logout_redirect_uris
                .eq(serde_json::to_string(&client.post_logout_redirect_uris).map_err(corrupt)?),
            clients::backchannel_logout_uri.eq(&client.backchannel_logout_uri),
            clients::grant_types.eq(grant_types_text(&client.grant_types)),
            clients::subject_type.eq(client.subject_type.as_str()),
            clients::sector_identifier.eq(&client.sector_identifier),
            clients::jwks.eq(&client.jwks),
            clients::jwks_uri.eq(&client.jwks_uri),
            clients::updated_at.eq(now),
            clients::first_party.eq(client.first_party),
            clients::token_endpoint_auth_signing_alg.eq(signing_alg_text(client)),
            clients::assertion_audience.eq(client.assertion_audience.as_str()),
            clients::security.eq(security_text(client)?),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

fn security_text(client: &Client) -> Result<String, StorageError> {
    serde_json::to_string(&SecurityMetadata::from(&client.security))
        .map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// Deletes a client and the refresh tokens it holds; returns whether it existed.
pub fn delete(conn: &mut DbConnection, client_id: &str) -> Result<bool, StorageError> {
    use super::schema::refresh_tokens;
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::client_id.eq(client_id)))
        .execute(conn)?;
    Ok(diesel::delete(clients::table.find(client_id)).execute(conn)? == 1)
}

/// Replaces the redirect URIs and secret hash of an existing client.
pub fn update_credentials(
    conn: &mut DbConnection,
    client_id: &str,
    redirect_uris: &[String],
    secret_hash: Option<Vec<u8>>,
) -> Result<usize, StorageError> {
    let redirect_uris =
        serde_json::to_string(redirect_uris).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    Ok(diesel::update(clients::table.find(client_id))
        .set((
            clients::redirect_uris.eq(redirect_uris),
            clients::secret_hash.eq(secret_hash),
        ))
        .execute(conn)?)
}

fn grant_types_text(grants: &[GrantType]) -> String {
    grants
        .iter()
        .map(|g| g.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn signing_alg_text(client: &Client) -> Option<String> {
    client
        .token_endpoint_auth_signing_alg
        .map(client_keys::alg_name)
}

/// Disables a registered client; `false` if it was already disabled.
pub fn disable(
    conn: &mut DbConnection,
    client_id: &str,
    by: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let inserted = per_backend!(conn, |c| diesel::insert_into(disabled_clients::table)
        .values((
            disabled_clients::client_id.eq(client_id),
            disabled_clients::disabled_at.eq(now),
            disabled_clients::disabled_by.eq(by),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Enables a disabled client again; `false` if it was not disabled.
pub fn enable(conn: &mut DbConnection, client_id: &str) -> Result<bool, StorageError> {
    Ok(diesel::delete(disabled_clients::table.find(client_id)).execute(conn)? == 1)
}

/// The ids of every disabled client (when and by whom are in the table and the
/// audit trail).
pub fn disabled(conn: &mut DbConnection) -> Result<Vec<String>, StorageError> {
    Ok(disabled_clients::table
        .select(disabled_clients::client_id)
        .load(conn)?)
}
