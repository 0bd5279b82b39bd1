//! The revocation list of access tokens (RFC 7009): each revoked `jti` is written to the
//! database (durable) and to the store (fast), until the token would have expired.
//!
//! If the store loses its data (a Redis restart without persistence), the list is
//! rebuilt from the database before any answer relies on it, so a revoked token never
//! becomes valid again. A sentinel key says the store's copy is complete; it is read
//! with the token's own key at one instant (one `MGET`), so a flush is always noticed.
//!
//! On a Redis Cluster every key of the list carries the hash tag `{revoked}`, so the
//! list and its sentinel live in one slot, on one master: a master lost with its data
//! takes the sentinel with the entries, and the loss is noticed. (Spread over slots, a
//! lost master would drop some entries while the sentinel, elsewhere, still vouched for
//! the list.)

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::storage::refresh_tokens::RevokedAccessToken;
use crate::storage::{Db, StorageError, revoked_tokens};
use crate::store::{Store, StoreError};

const LOADED: &str = "{revoked}:loaded";
/// How long the store's copy is trusted before it is reloaded anyway.
const LOADED_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn ttl_until(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (expires_at - now)
        .to_std()
        .unwrap_or_default()
        .max(Duration::from_secs(1))
}

/// Revokes the token `jti`, which expires at `expires_at`.
pub async fn revoke(
    store: &dyn Store,
    db: &Db,
    jti: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), RevocationError> {
    let owned = jti.to_owned();
    db.run(move |conn| {
        revoked_tokens::insert(conn, &owned, expires_at.naive_utc(), now.naive_utc())
    })
    .await?;
    store
        .put(
            &crate::store::keys::revoked_token(jti),
            b"1".to_vec(),
            ttl_until(expires_at, now),
        )
        .await?;
    Ok(())
}

/// Adds access tokens already written to the database's list (with a refresh-token
/// family, or when rebuilding) to the store's copy.
pub async fn remember(
    store: &dyn Store,
    revoked: &[RevokedAccessToken],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for (jti, expires_at) in revoked {
        store
            .put(
                &crate::store::keys::revoked_token(jti),
                b"1".to_vec(),
                ttl_until(expires_at.and_utc(), now),
            )
            .await?;
    }
    Ok(())
}

pub async fn is_revoked(
    store: &dyn Store,
    db: &Db,
    jti: &str,
    now: DateTime<Utc>,
) -> Result<bool, RevocationError> {
    // The entry and the sentinel in one read (one round trip, one instant): a flush
    // cannot fall between them. Both carry the `{revoked}` tag, so a cluster serves
    // them from one slot.
    let key = crate::store::keys::revoked_token(jti);
    match store.get_many(&[&key, LOADED]).await?.as_slice() {
        [Some(_), _] => return Ok(true),
        [None, Some(_)] => return Ok(false),
        _ => {}
    }
    rebuild(store, db, now).await?;
    Ok(store.get(&key).await?.is_some())
}

/// Copies every live revocation from the database into the store, then marks the
/// store's copy complete.
pub async fn rebuild(
    store: &dyn Store,
    db: &Db,
    now: DateTime<Utc>,
) -> Result<usize, RevocationError> {
    let at = now.naive_utc();
    let live = db.run(move |conn| revoked_tokens::live(conn, at)).await?;
    remember(store, &live, now).await?;
    store.put(LOADED, b"1".to_vec(), LOADED_TTL).await?;
    tracing::info!(target: "security", revoked = live.len(), "revocation list rebuilt in the store");
    Ok(live.len())
}
