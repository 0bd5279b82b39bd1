//! The refresh token grant (RFC 6749 §6): rotation within a family, a replayed token
//! revoking the whole family (RFC 9700 §4.14.2), scopes never beyond the family's nor
//! beyond what the client is still registered for.

use chrono::{DateTime, Utc};

use super::invalid_grant;
use super::issue::{Authorization, Refresh, Refusal, Spent, TokenResponse, issue_tokens};
use crate::domain::client::Client;
use crate::domain::secret::RefreshToken;
use crate::protocol::Context;
use crate::protocol::dpop;
use crate::protocol::encryption::Sealer;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::storage::{DbConnection, StorageError};
use crate::tokens::refresh::{self, RefreshError};

/// What the client presented.
pub struct Presented {
    pub refresh_token: RefreshToken,
    /// A narrower scope for the new access token, if asked.
    pub scope: Option<String>,
    /// The thumbprint of the request's DPoP proof: a bound family's key must be it, and
    /// the new access token is bound to it.
    pub jkt: Option<String>,
}

pub async fn exchange(
    ctx: &Context<'_>,
    client: &Client,
    presented: Presented,
    sealer: Option<Sealer>,
    now: DateTime<Utc>,
    request_id: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let Presented {
        refresh_token,
        scope,
        jkt,
    } = presented;
    let (client_id, registered) = (client.id.clone(), client.scopes.clone());
    let at = now.naive_utc();
    // Spent in the same transaction that issues its successor (`issue_tokens`).
    let spend = move |conn: &mut DbConnection| {
        let redeemed = refresh::redeem(
            conn,
            refresh_token.expose(),
            &client_id,
            &registered,
            scope.as_deref(),
            jkt.as_deref(),
            at,
        );
        let (grant, scope) = match redeemed {
            Ok(redeemed) => redeemed,
            Err(refused) => return refusal(refused).map(Spent::Refused),
        };
        let authorization = Authorization {
            facts: grant.facts,
            scope,
            nonce: None,
            jkt,
        };
        let refresh = Refresh::Rotate {
            family_id: grant.family_id,
            scope: grant.scope,
            jkt: grant.dpop_jkt,
        };
        Ok(Spent::Granted(authorization, refresh))
    };
    let (response, _) = issue_tokens(ctx, client, spend, sealer, now, request_id).await?;
    Ok(response)
}

/// The answer to a refresh token that could not be spent; a storage failure is not an
/// answer but the trip's own error.
fn refusal(error: RefreshError) -> Result<Refusal, StorageError> {
    let invalid = || invalid_grant("the refresh token is invalid or expired");
    Ok(match error {
        RefreshError::Replayed(revoked) => {
            tracing::warn!(target: "security", "a used refresh token was replayed; its family is revoked");
            Refusal {
                error: invalid(),
                revoked,
            }
        }
        RefreshError::Unregistered(revoked) => {
            tracing::info!(target: "security", "a refresh family ended: its client is no longer registered for offline access");
            Refusal {
                error: invalid(),
                revoked,
            }
        }
        RefreshError::Invalid => invalid().into(),
        RefreshError::ScopeExceeded => OAuthError::new(
            ErrorCode::InvalidScope,
            "the scope exceeds what was granted",
        )
        .into(),
        RefreshError::WrongKey { proved: false } => dpop::proof_required().into(),
        RefreshError::WrongKey { proved: true } => {
            tracing::warn!(target: "security", "a DPoP-bound refresh token was presented with another key");
            invalid_grant("the refresh token is bound to another DPoP key").into()
        }
        RefreshError::Storage(e) => return Err(e),
    })
}
