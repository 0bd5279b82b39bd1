//! Refresh tokens (RFC 6749 §6) with rotation: every use returns a new token and spends
//! the old one. The tokens descending from one login form a family; replaying a spent
//! token revokes the whole family (RFC 9700 §4.14), since either the client or an
//! attacker holds a stolen copy.

use chrono::{Duration, NaiveDateTime};

use super::random;
use crate::domain::acr::{Acr, Amr};
use crate::domain::authn_facts::AuthnFacts;
use crate::domain::scope::ScopeSet;
use crate::storage::refresh_tokens::{self, RefreshTokenRow, RevokedAccessToken};
use crate::storage::{self, DbConnection, StorageError};

/// What a refresh token stands for.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub family_id: String,
    pub client_id: String,
    pub scope: ScopeSet,
    /// The login the family came from, carried into every ID token it yields.
    pub facts: AuthnFacts,
    /// The thumbprint of the DPoP key every token of the family is bound to (RFC 9449
    /// §5: a public client's), if any.
    pub dpop_jkt: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired, revoked, or issued to another client.
    #[error("the refresh token is invalid")]
    Invalid,
    /// RFC 6749 §6: the request asked for more than the token grants. The token is
    /// left unspent.
    #[error("the requested scope exceeds the grant")]
    ScopeExceeded,
    /// A spent token came back: the family is now revoked, with the access tokens it
    /// yielded.
    #[error("a used refresh token was replayed; its family is revoked")]
    Replayed(Vec<RevokedAccessToken>),
    /// The client is no longer registered for offline access: the family is revoked,
    /// with the access tokens it yielded.
    #[error("the client is no longer registered for offline access; the family is revoked")]
    Unregistered(Vec<RevokedAccessToken>),
    /// The token is bound to a DPoP key (RFC 9449 §5) and the request proved another
    /// (`proved: true`) or none. The token is left unspent: its holder may still use it.
    #[error("the refresh token is bound to another DPoP key")]
    WrongKey { proved: bool },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// How long the tokens of a family live.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Each token, from its issue.
    pub token: Duration,
    /// The whole family, from the login that began it (`auth_time`): rotation never
    /// extends it.
    pub family: Duration,
}

impl Lifetimes {
    /// When a token of `grant`'s family issued at `now` expires.
    fn expiry(self, grant: &RefreshGrant, now: NaiveDateTime) -> NaiveDateTime {
        let started = chrono::DateTime::from_timestamp(grant.facts.auth_time, 0)
            .map_or(now, |t| t.naive_utc());
        (now + self.token).min(started + self.family)
    }
}

/// Issues a new token of `grant`'s family, valid for `lifetimes` from `now`.
/// `access_token` is the one issued with it, revoked with the family if it comes to that.
pub fn issue(
    conn: &mut DbConnection,
    grant: &RefreshGrant,
    access_token: RevokedAccessToken,
    lifetimes: Lifetimes,
    now: NaiveDateTime,
) -> Result<String, StorageError> {
    let token = random::token();
    refresh_tokens::insert(
        conn,
        &RefreshTokenRow {
            token_hash: random::sha256_b64(&token),
            family_id: grant.family_id.clone(),
            account_id: grant.facts.account_id.clone(),
            client_id: grant.client_id.clone(),
            scope: grant.scope.to_string(),
            auth_time: grant.facts.auth_time,
            acr: grant.facts.acr.to_string(),
            amr: grant.facts.amr.to_words(),
            issued_at: now,
            expires_at: lifetimes.expiry(grant, now),
            used_at: None,
            revoked_at: None,
            sid: Some(grant.facts.sid.clone()),
            access_token_jti: Some(access_token.0),
            access_token_expires_at: Some(access_token.1),
            dpop_jkt: grant.dpop_jkt.clone(),
        },
    )?;
    Ok(token)
}

enum Outcome {
    Granted(RefreshGrant, ScopeSet),
    Invalid,
    ScopeExceeded,
    Replayed(Vec<RevokedAccessToken>),
    Unregistered(Vec<RevokedAccessToken>),
    WrongKey { proved: bool },
}

/// The scope of the new access token: the grant's, or a narrower one that still
/// includes `openid`.
fn access_scope(granted: &ScopeSet, requested: Option<&str>) -> Option<ScopeSet> {
    let Some(requested) = requested else {
        return Some(granted.clone());
    };
    let requested = ScopeSet::parse(requested).ok()?;
    (requested.contains("openid") && requested.is_subset(granted)).then_some(requested)
}

/// Spends `presented` and returns what it granted, with the scope of the new access
/// token (`requested`, if narrower). A replay revokes the family, and that revocation
/// is committed even though the caller gets an error. `proved_jkt` is the thumbprint of
/// the request's DPoP proof, which a bound token's must equal; a token presented with
/// another key (or none) is not spent, so a thief cannot burn it for its holder.
///
/// `registered` is the client's registration as it is now: the family keeps only the
/// scopes still in it, so an operator who removes a scope from a client cuts it off at
/// the next refresh; a client no longer registered for `offline_access` (or `openid`)
/// loses the family.
pub fn redeem(
    conn: &mut DbConnection,
    presented: &str,
    client_id: &str,
    registered: &ScopeSet,
    requested_scope: Option<&str>,
    proved_jkt: Option<&str>,
    now: NaiveDateTime,
) -> Result<(RefreshGrant, ScopeSet), RefreshError> {
    let token_hash = random::sha256_b64(presented);
    let outcome = storage::transaction(conn, |conn| {
        let Some(row) = refresh_tokens::find(conn, &token_hash)? else {
            return Ok(Outcome::Invalid);
        };
        if row.client_id != client_id || row.revoked_at.is_some() || row.expires_at <= now {
            return Ok(Outcome::Invalid);
        }
        // Every family names its login session; a row without one could only come from
        // before sessions had ids, and no login fact of its ID tokens could be vouched
        // for: its citizen logs in again.
        let Some(sid) = row.sid.clone() else {
            return Ok(Outcome::Invalid);
        };
        // Written by `issue` from the types they are read back into; a row that does not
        // read back vouches for nothing.
        let (Some(acr), Some(amr)) = (Acr::parse(&row.acr), Amr::from_words(&row.amr)) else {
            return Ok(Outcome::Invalid);
        };
        let family_scope = ScopeSet::parse(&row.scope)
            .unwrap_or_default()
            .intersection(registered);
        if !family_scope.contains("offline_access") || !family_scope.contains("openid") {
            let revoked = refresh_tokens::revoke_family(conn, &row.family_id, now)?;
            return Ok(Outcome::Unregistered(revoked));
        }
        let Some(scope) = access_scope(&family_scope, requested_scope) else {
            return Ok(Outcome::ScopeExceeded);
        };
        if let Some(bound) = row.dpop_jkt.as_deref()
            && !proved_jkt
                .is_some_and(|jkt| random::constant_time_eq(jkt.as_bytes(), bound.as_bytes()))
        {
            return Ok(Outcome::WrongKey {
                proved: proved_jkt.is_some(),
            });
        }
        // A spent token, or losing the race to spend it: someone else holds a copy.
        if row.used_at.is_some() || !refresh_tokens::mark_used(conn, &token_hash, now)? {
            let revoked = refresh_tokens::revoke_family(conn, &row.family_id, now)?;
            return Ok(Outcome::Replayed(revoked));
        }
        Ok::<_, StorageError>(Outcome::Granted(
            RefreshGrant {
                facts: AuthnFacts {
                    amr,
                    sid,
                    account_id: row.account_id,
                    auth_time: row.auth_time,
                    acr,
                },
                family_id: row.family_id,
                client_id: row.client_id,
                scope: family_scope,
                dpop_jkt: row.dpop_jkt,
            },
            scope,
        ))
    })?;
    match outcome {
        Outcome::Granted(grant, scope) => Ok((grant, scope)),
        Outcome::Invalid => Err(RefreshError::Invalid),
        Outcome::ScopeExceeded => Err(RefreshError::ScopeExceeded),
        Outcome::Replayed(revoked) => Err(RefreshError::Replayed(revoked)),
        Outcome::Unregistered(revoked) => Err(RefreshError::Unregistered(revoked)),
        Outcome::WrongKey { proved } => Err(RefreshError::WrongKey { proved }),
    }
}

/// Revokes a family, e.g. when the register no longer allows its citizen to sign in;
/// returns the access tokens revoked with it.
pub fn revoke_family(
    conn: &mut DbConnection,
    family_id: &str,
    now: NaiveDateTime,
) -> Result<Vec<RevokedAccessToken>, StorageError> {
    storage::transaction(conn, |conn| {
        refresh_tokens::revoke_family(conn, family_id, now)
    })
}

/// The token `presented`, if it is live (unspent, unrevoked, unexpired) and was issued
/// to `client_id`; for introspection.
pub fn inspect(
    conn: &mut DbConnection,
    presented: &str,
    client_id: &str,
    now: NaiveDateTime,
) -> Result<Option<RefreshTokenRow>, StorageError> {
    let row = refresh_tokens::find(conn, &random::sha256_b64(presented))?;
    Ok(row.filter(|row| {
        row.client_id == client_id
            && row.used_at.is_none()
            && row.revoked_at.is_none()
            && row.expires_at > now
    }))
}

/// Revokes the family of `presented` if it was issued to `client_id` (RFC 7009: a
/// client may revoke only its own tokens); returns the access tokens revoked with it,
/// or `None` if there was nothing to revoke.
pub fn revoke_presented(
    conn: &mut DbConnection,
    presented: &str,
    client_id: &str,
    now: NaiveDateTime,
) -> Result<Option<Vec<RevokedAccessToken>>, StorageError> {
    match refresh_tokens::find(conn, &random::sha256_b64(presented))? {
        Some(row) if row.client_id == client_id => {
            revoke_family(conn, &row.family_id, now).map(Some)
        }
        _ => Ok(None),
    }
}
