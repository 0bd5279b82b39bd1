//! The refresh token grant (RFC 6749 §6): rotation within a family, a replayed token
//! revoking the whole family (RFC 9700 §4.14.2), scopes never beyond the family's nor
//! beyond what the client is still registered for.

use chrono::{DateTime, Utc};

use super::invalid_grant;
use super::issue::{Authorization, Refresh, TokenResponse, issue_tokens};
use crate::domain::client::Client;
use crate::domain::secret::RefreshToken;

use crate::protocol::Context;
use crate::protocol::encryption::Sealer;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::tokens::refresh::{self, RefreshError};
use crate::tokens::revocation;

pub async fn exchange(
    ctx: &Context<'_>,
    client: &Client,
    refresh_token: RefreshToken,
    scope: Option<String>,
    sealer: Option<Sealer>,
    now: DateTime<Utc>,
    request_id: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let (client_id, registered) = (client.id.clone(), client.scopes.clone());
    let at = now.naive_utc();
    let redeemed = ctx
        .db
        .run(move |conn| {
            refresh::redeem(
                conn,
                refresh_token.expose(),
                &client_id,
                &registered,
                scope.as_deref(),
                at,
            )
        })
        .await;
    let (grant, scope) = match redeemed {
        Ok(redeemed) => redeemed,
        Err(RefreshError::Replayed(revoked)) => {
            tracing::warn!(target: "security", "a used refresh token was replayed; its family is revoked");
            revocation::remember(ctx.store, &revoked, now).await?;
            return Err(invalid_grant("the refresh token is invalid or expired"));
        }
        Err(RefreshError::Unregistered(revoked)) => {
            tracing::info!(target: "security", "a refresh family ended: its client is no longer registered for offline access");
            revocation::remember(ctx.store, &revoked, now).await?;
            return Err(invalid_grant("the refresh token is invalid or expired"));
        }
        Err(RefreshError::Invalid) => {
            return Err(invalid_grant("the refresh token is invalid or expired"));
        }
        Err(RefreshError::ScopeExceeded) => {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "the scope exceeds what was granted",
            ));
        }
        Err(RefreshError::Storage(e)) => return Err(e.into()),
    };
    let authorization = Authorization {
        facts: grant.facts,
        scope,
        nonce: None,
    };
    let refresh = Refresh::Rotate {
        family_id: grant.family_id,
        scope: grant.scope,
    };
    let (response, _) =
        issue_tokens(ctx, client, authorization, refresh, sealer, now, request_id).await?;
    Ok(response)
}
