//! Administering registered relying parties, for the CLI and the admin API alike:
//! every change is validated by [`super::register`], stored, and audited in one
//! transaction.
//!
//! A secret is generated only when a client first needs one (created, or switched from
//! keys to a secret) or on rotation, and is returned once; only its hash is kept.

use chrono::NaiveDateTime;

use super::{NewClient, RegistrationError};
use crate::audit::{Event, Kind};
use crate::domain::client::Client;
use crate::domain::secret::ClientSecret;
use crate::storage::{self, DbConnection, StorageError, audit_events, clients};
use crate::tokens::random;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no client with this id")]
    NotFound,
    #[error("a client with this id exists already")]
    Exists,
    #[error("{0}")]
    Invalid(#[from] RegistrationError),
    #[error("the client has no secret: it authenticates with {0}")]
    NoSecret(&'static str),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Who made the change, for the audit trail ("cli", "api").
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a>(pub &'a str);

fn audit(
    conn: &mut DbConnection,
    outcome: &'static str,
    client_id: &str,
    actor: Actor<'_>,
    now: NaiveDateTime,
) -> Result<(), StorageError> {
    let event = Event::new(Kind::Admin, outcome, now)
        .client(client_id)
        .detail(format!("by={}", actor.0));
    audit_events::append(conn, &[event.into_row()]).map(|_| ())
}

pub fn create(
    conn: &mut DbConnection,
    new: NewClient,
    actor: Actor<'_>,
    now: NaiveDateTime,
) -> Result<(Client, Option<ClientSecret>), AdminError> {
    let (client, secret) = super::register(new)?;
    storage::transaction(conn, |conn| {
        if clients::find_registered(conn, &client.id)?.is_some() {
            return Err(AdminError::Exists);
        }
        clients::insert(conn, &client, now)?;
        audit(conn, "client_created", &client.id, actor, now)?;
        Ok(())
    })?;
    Ok((client, secret))
}

/// Replaces a client's settings with `change(current settings)`. Its id, kind and
/// secret stay; a secret is made only if the client now needs one and had none.
pub fn update(
    conn: &mut DbConnection,
    client_id: &str,
    change: impl FnOnce(NewClient) -> NewClient,
    actor: Actor<'_>,
    now: NaiveDateTime,
) -> Result<(Client, Option<ClientSecret>), AdminError> {
    storage::transaction(conn, |conn| {
        let current = clients::find_registered(conn, client_id)?.ok_or(AdminError::NotFound)?;
        let mut wanted = change(NewClient::from(&current));
        wanted.id = Some(current.id.clone());
        wanted.kind = current.kind;
        let (mut client, fresh_secret) = super::register(wanted)?;
        let secret = match (&client.secret_hash, &current.secret_hash) {
            (Some(_), Some(kept)) => {
                client.secret_hash = Some(kept.clone());
                None
            }
            _ => fresh_secret,
        };
        clients::update(conn, &client, now)?;
        audit(conn, "client_updated", &client.id, actor, now)?;
        Ok((client, secret))
    })
}

/// Deletes a client; its refresh tokens go with it.
pub fn delete(
    conn: &mut DbConnection,
    client_id: &str,
    actor: Actor<'_>,
    now: NaiveDateTime,
) -> Result<(), AdminError> {
    storage::transaction(conn, |conn| {
        if !clients::delete(conn, client_id)? {
            return Err(AdminError::NotFound);
        }
        audit(conn, "client_deleted", client_id, actor, now)?;
        Ok(())
    })
}

/// Gives a secret-holding client a new secret; the old one stops working at once.
pub fn rotate_secret(
    conn: &mut DbConnection,
    client_id: &str,
    actor: Actor<'_>,
    now: NaiveDateTime,
) -> Result<ClientSecret, AdminError> {
    storage::transaction(conn, |conn| {
        let mut client = clients::find_registered(conn, client_id)?.ok_or(AdminError::NotFound)?;
        if client.secret_hash.is_none() {
            return Err(AdminError::NoSecret(client.auth_method.as_str()));
        }
        let secret = ClientSecret::new(random::token());
        client.secret_hash = Some(random::sha256(secret.expose().as_bytes()));
        clients::update(conn, &client, now)?;
        audit(conn, "client_secret_rotated", &client.id, actor, now)?;
        Ok(secret)
    })
}

/// The client with this id, if there is one, disabled or not.
pub fn find(conn: &mut DbConnection, client_id: &str) -> Result<Option<Client>, StorageError> {
    clients::find_registered(conn, client_id)
}

/// Disables a client without deleting it (`disabled`), or enables it again: a disabled
/// client is unknown to every endpoint, and keeps its registration, consents and
/// trail. Returns whether the state changed (the call is idempotent).
pub fn set_disabled(
    conn: &mut DbConnection,
    client_id: &str,
    disabled: bool,
    actor: Actor<'_>,
    now: NaiveDateTime,
) -> Result<bool, AdminError> {
    storage::transaction(conn, |conn| {
        if clients::find_registered(conn, client_id)?.is_none() {
            return Err(AdminError::NotFound);
        }
        let (changed, outcome) = if disabled {
            (
                clients::disable(conn, client_id, actor.0, now)?,
                "client_disabled",
            )
        } else {
            (clients::enable(conn, client_id)?, "client_enabled")
        };
        if changed {
            audit(conn, outcome, client_id, actor, now)?;
        }
        Ok(changed)
    })
}

/// Every registered client, with the ids of those disabled: one database trip for a
/// listing.
pub fn list_with_disabled(
    conn: &mut DbConnection,
) -> Result<(Vec<Client>, Vec<String>), StorageError> {
    Ok((clients::list(conn)?, clients::disabled(conn)?))
}

/// Every registered client.
pub fn list(conn: &mut DbConnection) -> Result<Vec<Client>, StorageError> {
    clients::list(conn)
}
