//! Token revocation (RFC 7009): a client revokes one of its access tokens (added to the
//! revocation list until it would have expired) or refresh tokens (the whole family).

use chrono::{DateTime, Utc};

use super::Context;
use super::dpop;
use super::error::OAuthError;
use crate::domain::client::Client;
use crate::tokens::access_token::{self, AccessTokenClaims};
use crate::tokens::{jwt, refresh, revocation};

/// Revokes `token` if it is one of `client`'s. RFC 7009 §2.2: the answer is the same
/// whether or not the token was valid, so that it reveals nothing about tokens of other
/// clients; only an internal failure is an error.
pub async fn revoke(
    ctx: &Context<'_>,
    client: &Client,
    token: &str,
    proof: &dpop::Request,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    // The client's own request may be DPoP-signed; a bad proof is refused like a bad
    // client credential, before anything is revoked.
    dpop::verify_if_present(ctx, proof, None, now).await?;
    // RFC 7009 §2.1: `token_type_hint` only speeds the search; both kinds are tried.
    match jwt::verify::<AccessTokenClaims>(
        &ctx.keys.current(),
        token,
        access_token::TYP,
        ctx.issuer,
    ) {
        Ok(claims) => {
            let expires_at = DateTime::<Utc>::from_timestamp(claims.exp, 0).unwrap_or(now);
            if claims.client_id == client.id && expires_at > now {
                revocation::revoke(ctx.store, ctx.db, &claims.jti, expires_at, now).await?;
                tracing::info!(target: "security", "access token revoked");
            }
        }
        Err(_) => {
            let (presented, client_id, at) = (token.to_owned(), client.id.clone(), now.naive_utc());
            let revoked = ctx
                .db
                .run(move |conn| refresh::revoke_presented(conn, &presented, &client_id, at))
                .await?;
            if let Some(access_tokens) = revoked {
                revocation::remember(ctx.store, &access_tokens, now).await?;
                tracing::info!(target: "security", "refresh token family revoked");
            }
        }
    }
    Ok(())
}
