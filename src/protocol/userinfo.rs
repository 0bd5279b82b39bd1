//! The userinfo endpoint's answer (OIDC Core §5.3): the claims the access token's scopes
//! allow, read from the population register at the time of the call (or, if the
//! operator turned the cache on, at most `database.register_cache_ms` before it). The
//! web layer reads the token from the request (RFC 6750 §2) and renders the errors as
//! a Bearer challenge.

use chrono::{DateTime, Utc};

use super::Context;
use super::dpop::{self, ResourceError, Scheme};
use super::encryption::{self, UserinfoAnswer};
use super::error::{ErrorCode, OAuthError};
use crate::audit;
use crate::domain::scope::ScopeSet;
use crate::registry::{self, claims};
use crate::tokens::access_token::AccessTokenClaims;
use crate::tokens::revocation;

fn invalid_token(why: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, why)
}

/// An access token as the request presented it.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub scheme: Scheme,
    pub token: &'a str,
}

/// The claims the presented token may see, as JSON or as the JWT its client registered
/// (OIDC Core §5.3.2), or why it may see none (RFC 6750 §3.1, RFC 9449 §7.1), with the
/// challenge of the scheme that applies.
pub async fn userinfo(
    ctx: &Context<'_>,
    presented: Presented<'_>,
    proof: &dpop::Request,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<UserinfoAnswer, ResourceError> {
    let Presented { scheme, token } = presented;
    let challenge = |error| ResourceError {
        error,
        challenge: scheme,
    };
    let token_claims = ctx
        .verified_tokens
        .verify(&ctx.keys.current(), token, ctx.issuer, now.timestamp())
        .map_err(|_| challenge(invalid_token("the access token is invalid")))?;
    if token_claims.exp <= now.timestamp() {
        return Err(challenge(invalid_token("the access token has expired")));
    }
    if revocation::is_revoked(ctx.store, ctx.db, &token_claims.jti, now)
        .await
        .map_err(|e| challenge(e.into()))?
    {
        return Err(challenge(invalid_token(
            "the access token has been revoked",
        )));
    }
    // The binding before anything about the citizen is read: a stolen bound token
    // learns nothing.
    dpop::check_resource(ctx, scheme, token, token_claims.jkt(), proof, now).await?;
    release(ctx, &token_claims, request_id, now)
        .await
        .map_err(challenge)
}

/// The claims a token that passed every check may see.
async fn release(
    ctx: &Context<'_>,
    token_claims: &AccessTokenClaims,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<UserinfoAnswer, OAuthError> {
    if !token_claims.has_citizen() {
        return Err(invalid_token("the access token speaks for no citizen"));
    }
    // Only what the client is still registered for: an operator who removes a scope
    // from a client (or the client) cuts it off at the next call.
    let client = ctx
        .client(&token_claims.client_id, now)
        .await?
        .ok_or_else(|| invalid_token("the access token's client is no longer registered"))?;
    let scopes = ScopeSet::parse(&token_claims.scope)
        .map_err(|_| invalid_token("the access token is invalid"))?
        .intersection(&client.scopes);
    if !scopes.contains("openid") {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the openid scope is required",
        ));
    }
    // Read now, not at login: a correction or a death in the register shows at once (or
    // within `database.register_cache_ms`, if the operator turned the cache on).
    let identity = ctx
        .identities
        .by_subject(ctx.db, &token_claims.sub, now)
        .await?
        .ok_or_else(|| invalid_token("the access token is invalid"))?;
    let (account, citizen) = identity.as_ref();
    registry::check_eligible(account, citizen)
        .map_err(|_| invalid_token("the citizen can no longer sign in"))?;
    let released = claims::for_scopes(&token_claims.sub, citizen, &scopes);
    let names: Vec<String> = released.keys().cloned().collect();
    // Signed or encrypted before the audit: an answer that cannot be encrypted
    // discloses nothing.
    let answer = encryption::userinfo_answer(ctx, &client, released, now).await?;
    let event = audit::Event::new(audit::Kind::Disclosure, "userinfo", now.naive_utc())
        .citizen(citizen.national_id.clone())
        .client(&token_claims.client_id)
        .claims(names)
        .request_id(request_id);
    ctx.audit.commit(event).await?;
    Ok(answer)
}
