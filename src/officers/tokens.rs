//! Officers' personal admin API tokens. A token is 256 random bits, shown once and kept
//! as its SHA-256; it names the officer and some of the officer's roles, and lives at
//! most `admin.officer_token_max_days`. At each use it acts with the roles it names
//! that the officer still holds, and not at all once the officer's account stops being
//! active: revoking a role, or the account, takes effect on the next request.

use chrono::{Duration, NaiveDateTime};

use super::{Officer, OfficerError};
use crate::audit::{Event, Kind};
use crate::domain::citizen::AccountStatus;
use crate::domain::officer::Roles;
use crate::storage::officers::{self as stored, NewToken, TokenRow};
use crate::storage::{self, DbConnection, StorageError, accounts, audit_events};
use crate::tokens::random;

/// Every token starts so, which lets secret scanners recognise a leaked one.
pub const PREFIX: &str = "cidp_officer_";
/// Longest label kept.
pub const MAX_LABEL: usize = 64;

/// A token just made: its secret is shown this once.
pub struct Issued {
    pub id: String,
    pub secret: String,
    pub roles: Roles,
    pub expires_at: NaiveDateTime,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What a new token should be.
pub struct Request<'a> {
    /// The roles it may use; empty for all the officer holds.
    pub roles: &'a Roles,
    pub label: &'a str,
    pub days: u32,
    pub max_days: u32,
}

/// Makes a token for the officer with account `account_id`.
pub fn create(
    conn: &mut DbConnection,
    account_id: &str,
    request: &Request<'_>,
    by: &str,
    now: NaiveDateTime,
) -> Result<Issued, OfficerError> {
    let label = request.label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL || label.chars().any(char::is_control)
    {
        return Err(OfficerError::Invalid(format!(
            "the label must be 1 to {MAX_LABEL} visible characters"
        )));
    }
    if request.days == 0 || request.days > request.max_days {
        return Err(OfficerError::Invalid(format!(
            "a token lives 1 to {} days",
            request.max_days
        )));
    }
    let secret = format!("{PREFIX}{}", random::token());
    // Letters first: an id that began with `-` would read as an option on the command
    // line (`officers token revoke ID`).
    let id = format!("ot{}", random::digits(16));
    let expires_at = now + Duration::days(i64::from(request.days));
    storage::transaction(conn, |conn| {
        let account = accounts::find(conn, account_id)?.ok_or(OfficerError::NoAccount)?;
        let held = stored::roles_of(conn, account_id)?;
        let roles = if request.roles.is_empty() {
            held.clone()
        } else {
            request.roles.clone()
        };
        if let Some(missing) = roles.iter().find(|r| !held.contains(*r)) {
            return Err(OfficerError::Forbidden(missing));
        }
        if roles.is_empty() {
            return Err(OfficerError::Invalid(
                "the account holds no officer role".into(),
            ));
        }
        stored::insert_token(
            conn,
            &NewToken {
                id: &id,
                account_id,
                digest: &random::sha256(secret.as_bytes()),
                roles: &roles,
                label,
                now,
                expires_at,
            },
        )?;
        let event = Event::new(Kind::Admin, "officer_token_created", now)
            .citizen(account.national_id.clone())
            .detail(format!(
                "token={id} roles={} expires={} by={by}",
                roles.to_words().replace(' ', ","),
                expires_at.format("%Y-%m-%dT%H:%M:%SZ")
            ));
        audit_events::append(conn, &[event.into_row()])?;
        Ok(Issued {
            id: id.clone(),
            secret: secret.clone(),
            roles,
            expires_at,
        })
    })
}

/// The officer's tokens (`Some`), or everyone's.
pub fn list(
    conn: &mut DbConnection,
    account_id: Option<&str>,
) -> Result<Vec<TokenRow>, StorageError> {
    stored::tokens(conn, account_id)
}

/// Revokes the live token `id` (of `account_id` only, when given); `false` if there is
/// no such live token.
pub fn revoke(
    conn: &mut DbConnection,
    id: &str,
    account_id: Option<&str>,
    by: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    storage::transaction(conn, |conn| {
        let Some(owner) = stored::token(conn, id)? else {
            return Ok(false);
        };
        if !stored::revoke_token(conn, id, account_id, now)? {
            return Ok(false);
        }
        let mut event = Event::new(Kind::Admin, "officer_token_revoked", now)
            .detail(format!("token={id} by={by}"));
        if let Some(account) = accounts::find(conn, &owner.account_id)? {
            event = event.citizen(account.national_id);
        }
        audit_events::append(conn, &[event.into_row()])?;
        Ok(true)
    })
}

/// The officer a presented token stands for, with the roles it may use now; `None`
/// for a token that is unknown, expired, revoked, of an account that is not active,
/// or left with no role.
pub fn authenticate(
    conn: &mut DbConnection,
    presented: &str,
    now: NaiveDateTime,
) -> Result<Option<Officer>, StorageError> {
    if !presented.starts_with(PREFIX) {
        return Ok(None);
    }
    let Some(token) = stored::use_token(conn, &random::sha256(presented.as_bytes()), now)? else {
        return Ok(None);
    };
    let active =
        accounts::find(conn, &token.account_id)?.is_some_and(|a| a.status == AccountStatus::Active);
    let named = Roles::parse(&token.roles).unwrap_or_default();
    let roles = named.intersection(&stored::roles_of(conn, &token.account_id)?);
    Ok((active && !roles.is_empty()).then_some(Officer {
        account_id: token.account_id,
        roles,
    }))
}
