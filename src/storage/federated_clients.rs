//! The `federated_clients` table: which rows of `clients` were registered
//! automatically through an OpenID Federation trust chain, to which trust anchor, and
//! until when they are trusted without resolving the chain again.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{disabled_clients, federated_clients};
use super::{DbConnection, StorageError};
use crate::domain::client::Client;

/// What is known of a client id before registering it automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// No client has this id.
    Unknown,
    /// Registered through the federation before.
    Federated,
    /// Registered through the federation, and disabled by an operator since.
    Disabled,
    /// Registered by an operator: the federation never replaces it.
    Operator,
}

pub fn standing(conn: &mut DbConnection, client_id: &str) -> Result<Standing, StorageError> {
    if super::clients::find_registered(conn, client_id)?.is_none() {
        return Ok(Standing::Unknown);
    }
    let federated = diesel::select(diesel::dsl::exists(
        federated_clients::table.filter(federated_clients::client_id.eq(client_id)),
    ))
    .get_result::<bool>(conn)?;
    if !federated {
        return Ok(Standing::Operator);
    }
    let disabled = diesel::select(diesel::dsl::exists(
        disabled_clients::table.filter(disabled_clients::client_id.eq(client_id)),
    ))
    .get_result::<bool>(conn)?;
    Ok(if disabled {
        Standing::Disabled
    } else {
        Standing::Federated
    })
}

/// How a registration through the federation changed what was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    New,
    /// The resolved metadata differs from the last registration's.
    Changed,
    /// The same metadata, trusted for longer.
    Renewed,
}

/// What a trust chain said about a client, for [`save`].
pub struct Resolution<'a> {
    pub trust_anchor: &'a str,
    pub expires_at: NaiveDateTime,
    pub metadata_sha256: &'a str,
    pub organization: &'a str,
}

/// Stores `client` as registered through a trust chain: a new row of `clients`, or
/// the settings of the one registered before replaced. Run it in a transaction, after
/// [`standing`] said `Unknown` or `Federated`.
pub fn save(
    conn: &mut DbConnection,
    client: &Client,
    chain: &Resolution<'_>,
    now: NaiveDateTime,
) -> Result<Saved, StorageError> {
    let before: Option<String> = federated_clients::table
        .find(&client.id)
        .select(federated_clients::metadata_sha256)
        .get_result(conn)
        .optional()?;
    if before.as_deref() == Some(chain.metadata_sha256) {
        diesel::update(federated_clients::table.find(&client.id))
            .set((
                federated_clients::trust_anchor.eq(chain.trust_anchor),
                federated_clients::resolved_at.eq(now),
                federated_clients::expires_at.eq(chain.expires_at),
            ))
            .execute(conn)?;
        return Ok(Saved::Renewed);
    }
    if !super::clients::update(conn, client, now)? {
        super::clients::insert(conn, client, now)?;
    }
    let values = (
        federated_clients::trust_anchor.eq(chain.trust_anchor),
        federated_clients::resolved_at.eq(now),
        federated_clients::expires_at.eq(chain.expires_at),
        federated_clients::metadata_sha256.eq(chain.metadata_sha256),
        federated_clients::organization.eq(chain.organization),
    );
    if before.is_some() {
        diesel::update(federated_clients::table.find(&client.id))
            .set(values)
            .execute(conn)?;
        return Ok(Saved::Changed);
    }
    diesel::insert_into(federated_clients::table)
        .values((federated_clients::client_id.eq(&client.id), values))
        .execute(conn)?;
    Ok(Saved::New)
}

/// The organisation behind each of `client_ids` that was registered through the
/// federation (the others are left out).
pub fn organizations(
    conn: &mut DbConnection,
    client_ids: &[String],
) -> Result<Vec<(String, String)>, StorageError> {
    Ok(federated_clients::table
        .filter(federated_clients::client_id.eq_any(client_ids))
        .select((
            federated_clients::client_id,
            federated_clients::organization,
        ))
        .load(conn)?)
}
