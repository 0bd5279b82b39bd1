//! The client credentials grant (RFC 6749 §4.4): a back-office system calls an API as
//! itself. No citizen is involved, so there is no ID token and no refresh token, and the
//! access token's `sub` is the client's id (RFC 9068 §2.2).

use chrono::{DateTime, Utc};

use crate::domain::client::Client;
use crate::domain::scope::{self, ScopeSet};
use crate::protocol::Context;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::tokens::access_token::{self, AccessTokenClaims, Confirmation};
use crate::tokens::{jwt, random};

use super::issue::{TokenResponse, access_token_ttl, secs, token_type};

/// The scopes granted: those asked for, all of which the client must be registered
/// for, or by default every API scope it is registered for. Citizen scopes (openid,
/// profile, ...) make no sense without a citizen and are refused.
fn granted_scope(client: &Client, requested: Option<&str>) -> Result<ScopeSet, OAuthError> {
    let invalid_scope = |why| OAuthError::new(ErrorCode::InvalidScope, why);
    let registered_api = ScopeSet::from_iter(
        client
            .scopes
            .iter()
            .filter(|s| !scope::SUPPORTED.contains(s)),
    );
    let Some(requested) = requested else {
        if registered_api.is_empty() {
            return Err(invalid_scope("the client is registered for no API scope"));
        }
        return Ok(registered_api);
    };
    let requested = ScopeSet::parse(requested)
        .map_err(|_| invalid_scope("scope is not a list of scope tokens"))?;
    if requested.iter().any(|s| scope::SUPPORTED.contains(&s)) {
        return Err(invalid_scope(
            "citizen scopes cannot be granted without a citizen",
        ));
    }
    if !requested.is_subset(&registered_api) {
        return Err(invalid_scope(
            "the scope exceeds what the client is registered for",
        ));
    }
    Ok(requested)
}

#[tracing::instrument(name = "issue_client_credentials", skip_all)]
pub fn issue(
    ctx: &Context<'_>,
    client: &Client,
    requested_scope: Option<&str>,
    jkt: Option<String>,
    now: DateTime<Utc>,
) -> Result<TokenResponse, OAuthError> {
    let scope = granted_scope(client, requested_scope)?.to_string();
    let ttl = access_token_ttl(ctx, client);
    let iat = now.timestamp();
    let claims = AccessTokenClaims {
        iss: ctx.issuer.to_owned(),
        sub: client.id.clone(),
        aud: ctx.issuer.to_owned(),
        client_id: client.id.clone(),
        scope: scope.clone(),
        jti: random::token(),
        exp: iat + secs(ttl),
        iat,
        auth_time: None,
        acr: None,
        cnf: jkt.map(|jkt| Confirmation { jkt }),
    };
    let token_type = token_type(&claims);
    let keys = ctx.keys.current();
    let key = keys.signing_key(ctx.access_token_alg, now)?;
    let access_token = jwt::sign(key, access_token::TYP, &claims)?;
    tracing::info!(target: "security", client_id = %client.id, %scope, "client credentials token issued");
    Ok(TokenResponse {
        access_token,
        token_type,
        expires_in: ttl,
        id_token: None,
        refresh_token: None,
        scope,
    })
}
