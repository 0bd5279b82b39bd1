//! Token introspection (RFC 7662), for confidential clients. A token is `active` only
//! if it is ours, unexpired, unrevoked, issued to the caller, and its citizen may still
//! sign in; anything else, malformed input included, is just `{"active": false}`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::Context;
use super::dpop;
use super::error::{ErrorCode, OAuthError};
use super::token::token_type;
use crate::audit;
use crate::domain::client::{Client, ClientKind};
use crate::domain::national_id::NationalId;
use crate::domain::scope::ScopeSet;
use crate::registry;
use crate::tokens::access_token::Confirmation;
use crate::tokens::{refresh, revocation, subject};

/// The introspection response (RFC 7662 §2.2) for `token`, the request's `token`
/// parameter as `client` presented it. A missing token is refused only once the caller
/// is known to be one that may ask.
pub async fn introspect(
    ctx: &Context<'_>,
    client: &Client,
    token: Option<&str>,
    proof: &dpop::Request,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Value, OAuthError> {
    // RFC 7662 §2.1: the caller must authenticate, which public clients cannot.
    if client.kind == ClientKind::Public {
        return Err(OAuthError::new(
            ErrorCode::InvalidClient,
            "introspection requires a confidential client",
        ));
    }
    let token =
        token.ok_or_else(|| OAuthError::new(ErrorCode::InvalidRequest, "token is required"))?;
    dpop::verify_if_present(ctx, proof, None, now).await?;
    let answer = match access_token_answer(ctx, client, token, now).await? {
        Some(answer) => Some(answer),
        None => refresh_token_answer(ctx, client, token, now).await?,
    };
    Ok(match answer {
        Some((body, Some(citizen))) => {
            record(ctx, client, &body, citizen, request_id, now).await?;
            body
        }
        // A client's own token (client credentials) discloses nothing about a citizen.
        Some((body, None)) => body,
        None => json!({ "active": false }),
    })
}

/// Whether the citizen behind `subject` (as its client knows it) may still sign in;
/// their number, if so.
async fn eligible_citizen(
    ctx: &Context<'_>,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<Option<NationalId>, OAuthError> {
    let identity = ctx.identities.by_subject(ctx.db, subject, now).await?;
    Ok(identity
        .filter(|identity| registry::check_eligible(&identity.0, &identity.1).is_ok())
        .map(|identity| identity.1.national_id.clone()))
}

/// The part of a token's scope its client is still registered for: an operator who
/// removes a scope from a client cuts it off at the next call.
fn registered_part(scope: &str, client: &Client) -> String {
    ScopeSet::parse(scope)
        .unwrap_or_default()
        .intersection(&client.scopes)
        .to_string()
}

/// The answer, and the citizen it speaks of, if any.
type Answer = (Value, Option<NationalId>);

async fn access_token_answer(
    ctx: &Context<'_>,
    client: &Client,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Answer>, OAuthError> {
    let Ok(claims) =
        ctx.verified_tokens
            .verify(&ctx.keys.current(), token, ctx.issuer, now.timestamp())
    else {
        return Ok(None);
    };
    // A token of another client is not the caller's to see (its audience is not them).
    if claims.exp <= now.timestamp() || claims.client_id != client.id {
        return Ok(None);
    }
    if revocation::is_revoked(ctx.store, ctx.db, &claims.jti, now).await? {
        return Ok(None);
    }
    let citizen = if claims.has_citizen() {
        let Some(citizen) = eligible_citizen(ctx, &claims.sub, now).await? else {
            return Ok(None);
        };
        Some(citizen)
    } else {
        None
    };
    // RFC 9449 §6.2: a resource server learns that the token is bound, and to which key.
    let mut body = json!({
        "active": true,
        "token_type": token_type(&claims),
        "cnf": claims.cnf,
        "scope": registered_part(&claims.scope, client),
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
        "auth_time": claims.auth_time,
        "acr": claims.acr,
    });
    // A client's own token has no auth_time or acr: omit them rather than send null.
    if let Value::Object(members) = &mut body {
        members.retain(|_, value| !value.is_null());
    }
    Ok(Some((body, citizen)))
}

async fn refresh_token_answer(
    ctx: &Context<'_>,
    client: &Client,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Answer>, OAuthError> {
    if token.len() > 128 {
        return Ok(None);
    }
    let (presented, client_id, at) = (token.to_owned(), client.id.clone(), now.naive_utc());
    let Some(row) = ctx
        .db
        .run(move |conn| refresh::inspect(conn, &presented, &client_id, at))
        .await?
    else {
        return Ok(None);
    };
    let Some(citizen) = eligible_citizen(ctx, &row.account_id, now).await? else {
        return Ok(None);
    };
    let sub = subject::for_client(ctx.pairwise_key, client, &row.account_id);
    let mut body = json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": registered_part(&row.scope, client),
        "client_id": row.client_id,
        "sub": sub,
        "iss": ctx.issuer,
        "exp": row.expires_at.and_utc().timestamp(),
        "iat": row.issued_at.and_utc().timestamp(),
        "cnf": row.dpop_jkt.map(|jkt| Confirmation { jkt }),
    });
    if let Value::Object(members) = &mut body {
        members.retain(|_, value| !value.is_null());
    }
    Ok(Some((body, Some(citizen))))
}

/// Introspection releases facts about a citizen: audited like any disclosure, and not
/// answered until its row is committed.
async fn record(
    ctx: &Context<'_>,
    client: &Client,
    body: &Value,
    citizen: NationalId,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    let names: Vec<String> = body
        .as_object()
        .map(|o| o.keys().filter(|k| *k != "active").cloned().collect())
        .unwrap_or_default();
    let event = audit::Event::new(audit::Kind::Disclosure, "introspection", now.naive_utc())
        .citizen(citizen)
        .client(&client.id)
        .claims(names)
        .request_id(request_id);
    Ok(ctx.audit.commit(event).await?)
}
