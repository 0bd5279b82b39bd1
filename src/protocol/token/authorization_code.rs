//! The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.6): a code is redeemed
//! once, by the client it was issued to, at the redirect URI it was sent to, with the
//! PKCE verifier of its challenge, and with a DPoP proof of the key named by the
//! authorization request's `dpop_jkt` if it named one (RFC 9449 §10).

use chrono::{DateTime, Utc};

use super::invalid_grant;
use super::issue::{Authorization, Refresh, Spent, TokenResponse, access_token_ttl, issue_tokens};
use crate::domain::client::{Client, ClientKind, GrantType};
use crate::domain::secret::AuthCode;
use crate::protocol::Context;
use crate::protocol::dpop;
use crate::protocol::encryption::Sealer;
use crate::protocol::error::OAuthError;
use crate::storage::DbConnection;
use crate::tokens::code::{self, CodeGrant, SpentCode};
use crate::tokens::{pkce, refresh, revocation};

/// What the client presented with its code.
pub struct Presented<'a> {
    pub code: &'a AuthCode,
    pub redirect_uri: &'a str,
    pub code_verifier: Option<&'a str>,
}

pub async fn exchange(
    ctx: &Context<'_>,
    client: &Client,
    presented: Presented<'_>,
    jkt: Option<String>,
    sealer: Option<Sealer>,
    now: DateTime<Utc>,
    request_id: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let Presented {
        code,
        redirect_uri,
        code_verifier,
    } = presented;

    let Some(grant) = code::redeem(ctx.store, code, now).await? else {
        revoke_replayed_code(ctx, code, now).await?;
        return Err(invalid_grant(
            "the code is invalid, expired or already used",
        ));
    };
    check_grant(&grant, client, redirect_uri, code_verifier)?;
    check_binding(&grant, jkt.as_deref())?;
    // OIDC Core §11: offline access is granted through its scope, which the
    // authorization endpoint allows only to clients registered for it.
    let offline = grant.scope.contains("offline_access");
    let refresh = if offline && client.allows_grant(GrantType::RefreshToken) {
        // RFC 9449 §5: a public client's refresh token is bound to its key, since it has
        // no other credential; a confidential client's is bound by its authentication.
        Refresh::NewFamily {
            jkt: jkt.clone().filter(|_| client.kind == ClientKind::Public),
        }
    } else {
        Refresh::None
    };
    let authorization = Authorization {
        facts: grant.facts,
        scope: grant.scope,
        nonce: grant.nonce,
        jkt,
    };
    let granted = move |_: &mut DbConnection| Ok(Spent::Granted(authorization, refresh));
    let (response, issued) = issue_tokens(ctx, client, granted, sealer, now, request_id).await?;
    let spent = SpentCode {
        access_token_jti: issued.jti,
        access_token_exp: issued.exp,
        refresh_family: issued.refresh_family,
    };
    let ttl = std::time::Duration::from_secs(access_token_ttl(ctx, client));
    code::mark_spent(ctx.store, code, &spent, ttl).await?;
    Ok(response)
}

/// RFC 6749 §4.1.2: a code presented again after it was redeemed revokes the tokens
/// it gave, since one of the two presenters is an attacker.
#[tracing::instrument(name = "revoke_replayed_code", skip_all)]
async fn revoke_replayed_code(
    ctx: &Context<'_>,
    code: &AuthCode,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    let Some(spent) = code::take_spent(ctx.store, code).await? else {
        return Ok(());
    };
    tracing::warn!(target: "security", "an authorization code was replayed; its tokens are revoked");
    let expires_at = DateTime::<Utc>::from_timestamp(spent.access_token_exp, 0).unwrap_or(now);
    if expires_at > now {
        revocation::revoke(ctx.store, ctx.db, &spent.access_token_jti, expires_at, now).await?;
    }
    if let Some(family) = spent.refresh_family {
        let at = now.naive_utc();
        let revoked = ctx
            .db
            .run(move |conn| refresh::revoke_family(conn, &family, at))
            .await?;
        revocation::remember(ctx.store, &revoked, now).await?;
    }
    Ok(())
}

/// RFC 6749 §4.1.3 and RFC 7636 §4.6.
fn check_grant(
    grant: &CodeGrant,
    client: &Client,
    redirect_uri: &str,
    code_verifier: Option<&str>,
) -> Result<(), OAuthError> {
    if grant.client_id != client.id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if grant.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    match (&grant.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) if pkce::verify_s256(challenge, verifier) => Ok(()),
        (Some(_), Some(_)) => Err(invalid_grant(
            "code_verifier does not match the code_challenge",
        )),
        (Some(_), None) => Err(invalid_grant("code_verifier is required")),
        // RFC 9700 §2.1.1: a verifier without a challenge would allow a PKCE downgrade.
        (None, Some(_)) => Err(invalid_grant(
            "code_verifier sent but no code_challenge was",
        )),
        (None, None) => Ok(()),
    }
}

/// RFC 9449 §10: a code whose request named `dpop_jkt` is redeemed only with a proof of
/// that key.
fn check_binding(grant: &CodeGrant, jkt: Option<&str>) -> Result<(), OAuthError> {
    match (grant.dpop_jkt.as_deref(), jkt) {
        (None, _) => Ok(()),
        (Some(_), None) => Err(dpop::proof_required()),
        (Some(bound), Some(jkt)) if bound == jkt => Ok(()),
        (Some(_), Some(_)) => {
            tracing::warn!(target: "security", "a code bound to a DPoP key was presented with another");
            Err(invalid_grant("the code is bound to another DPoP key"))
        }
    }
}
