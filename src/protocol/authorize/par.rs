//! Pushed authorization requests (RFC 9126). A client posts its authorization request
//! to `/par`, authenticated as at the token endpoint; the request is checked exactly as
//! the authorization endpoint would check it (`super::checked_request`, the same code),
//! and stored for at most [`MAX_LIFETIME_SECS`] under a random `request_uri`. The
//! browser then brings only `client_id` and that `request_uri` to `/authorize`, which
//! takes the stored request once ([`take`]): the store's `take` is atomic, so of two
//! requests racing with the same `request_uri`, on one instance or several sharing
//! Redis, one wins. The request goes on in the login flow (`super::start_flow`), so
//! the login pages never need the `request_uri` again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::request::{AuthorizationRequest, AuthorizeError, AuthorizeParams};
use super::{Refused, checked_request};
use crate::domain::client::Client;
use crate::protocol::Context;
use crate::protocol::dpop;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::store::keys;
use crate::tokens::random;

/// RFC 9126 §2.2: the `request_uri` of a pushed request. Only ours are accepted at
/// `/authorize`; any other `request_uri` is never fetched.
pub const URN_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// The longest a pushed request lives. RFC 9126 wants it short (and single-use): the
/// browser is sent on at once, and a request that waits is only a target. Settings may
/// lower it (`par.lifetime_secs`).
pub const MAX_LIFETIME_SECS: u64 = 60;
/// What a pushed request's form may carry besides the request: the client's
/// credentials, read by client authentication and no part of the request.
const CLIENT_AUTHENTICATION: [&str; 3] =
    ["client_secret", "client_assertion", "client_assertion_type"];

/// RFC 9126 §2.2: the answer, with 201.
#[derive(Debug, Serialize)]
pub struct PushedRequest {
    pub request_uri: String,
    pub expires_in: u64,
}

/// What the store keeps under a `request_uri`.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// The client that pushed it: only that client's `/authorize` may use it.
    client_id: String,
    expires_at: i64,
    request: AuthorizationRequest,
}

/// Checks and stores the authorization request `pairs` (the form, authenticated as
/// `client`). A DPoP proof sent with it (`proof`, RFC 9449 §10.1) is verified, and its
/// key then binds the code.
pub async fn push(
    ctx: &Context<'_>,
    client: &Client,
    pairs: Vec<(String, String)>,
    proof: &dpop::Request,
    now: DateTime<Utc>,
) -> Result<PushedRequest, OAuthError> {
    let dpop_jkt = dpop::verify_for_client(ctx, client, proof, now)
        .await?
        .map(|proof| proof.jkt);
    // RFC 9126 §2.1: a pushed request never points at another one.
    if pairs.iter().any(|(name, _)| name == "request_uri") {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "request_uri cannot be pushed",
        ));
    }
    let pairs = pairs
        .into_iter()
        .filter(|(name, _)| !CLIENT_AUTHENTICATION.contains(&name.as_str()))
        .collect();
    // There is no redirect at /par: every refusal is the JSON error (RFC 9126 §2.3).
    let mut request = checked_request(ctx, client, AuthorizeParams::from_pairs(pairs), now)
        .await
        .map_err(as_json)?;
    record_dpop_jkt(&mut request, dpop_jkt)?;

    let id = random::token();
    let lifetime = ctx.settings.par.lifetime_secs.clamp(1, MAX_LIFETIME_SECS);
    let stored = Stored {
        client_id: client.id.clone(),
        expires_at: now.timestamp() + i64::try_from(lifetime).unwrap_or(1),
        request,
    };
    let value = serde_json::to_vec(&stored).map_err(|e| OAuthError::internal(&e, false))?;
    ctx.store
        .put(
            &keys::pushed_request(&id),
            value,
            Duration::from_secs(lifetime),
        )
        .await?;
    Ok(PushedRequest {
        request_uri: format!("{URN_PREFIX}{id}"),
        expires_in: lifetime,
    })
}

/// The one place a pushed request takes the DPoP key its proof showed.
///
/// RFC 9449 §10.1: a DPoP proof sent with the pushed request binds the code to its key,
/// as `dpop_jkt` at `/authorize` does; a `dpop_jkt` parameter naming another key than
/// the proof's is refused.
fn record_dpop_jkt(
    request: &mut AuthorizationRequest,
    jkt: Option<String>,
) -> Result<(), OAuthError> {
    let Some(jkt) = jkt else {
        return Ok(());
    };
    if request.dpop_jkt.as_ref().is_some_and(|named| *named != jkt) {
        return Err(OAuthError::new(
            ErrorCode::InvalidDpopProof,
            "dpop_jkt names another key than the DPoP proof's",
        ));
    }
    request.dpop_jkt = Some(jkt);
    Ok(())
}

/// An authorization error as `/par` answers it: there is no redirect, and no page.
fn as_json(error: AuthorizeError) -> OAuthError {
    match error {
        AuthorizeError::Redirect { error, .. } => error,
        AuthorizeError::Page(Refused::Internal(error) | Refused::Request(error)) => error,
        AuthorizeError::Page(Refused::BadRedirectUri) => OAuthError::new(
            ErrorCode::InvalidRequest,
            "redirect_uri is missing or is not registered for the client",
        ),
        AuthorizeError::Page(_) => {
            OAuthError::new(ErrorCode::InvalidRequest, "the request is malformed")
        }
    }
}

/// Takes, once, the request `request_uri` names for `client` at `/authorize`. Refused
/// with a page, never a redirect (the pushed redirect URI is unknown, and the query's is
/// not to be trusted): a `request_uri` that is unknown, spent, expired, or another
/// client's. One that is not ours is refused before (`super::authorize`), and never
/// fetched.
pub async fn take(
    ctx: &Context<'_>,
    client: &Client,
    request_uri: &str,
    now: DateTime<Utc>,
) -> Result<AuthorizationRequest, Refused> {
    let Some(id) = request_uri.strip_prefix(URN_PREFIX) else {
        return Err(Refused::Request(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "only request_uri values from the pushed authorization endpoint are accepted",
        )));
    };
    // Spent at the first presentation, whoever presents it: a `request_uri` shown by
    // another client, or after its expiry, has leaked, and is no use to anyone after.
    let stored = ctx
        .store
        .take(&keys::pushed_request(id))
        .await?
        .and_then(|bytes| serde_json::from_slice::<Stored>(&bytes).ok());
    let Some(stored) = stored else {
        tracing::info!(target: "security", client_id = %client.id, "an unknown, spent or expired request_uri");
        return Err(Refused::RequestUri);
    };
    if stored.client_id != client.id {
        tracing::warn!(target: "security", client_id = %client.id, "a request_uri pushed by another client");
        return Err(Refused::RequestUri);
    }
    if stored.expires_at <= now.timestamp() {
        return Err(Refused::RequestUri);
    }
    Ok(stored.request)
}
