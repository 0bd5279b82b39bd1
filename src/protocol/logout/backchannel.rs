//! Back-channel logout (OIDC Back-Channel Logout 1.0 §2.5): which relying parties of an
//! ended session get a logout token, and sending one.
//!
//! Nothing is sent from a citizen's request: [`queue`] writes one outbox row per
//! relying party (one database insert) and wakes this server's worker
//! (`oidc::logout::outbox`), which signs and POSTs each token after the citizen has been
//! answered, so a relying party that is slow or down never holds up a logout. A token
//! says who the relying party knew (`sub`, pairwise where the client is) and which
//! session ended (`sid`); it is signed with the client's ID token algorithm when it is
//! sent, with the keys current then.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::authn_facts::AuthnFacts;
use crate::domain::national_id::NationalId;
use crate::domain::signing_alg::SigningAlg;
use crate::storage::StorageError;
use crate::storage::logout_outbox::{self, Delivery, NewDelivery};
use crate::tokens::logout_token::{self, LogoutTokenClaims};
use crate::tokens::{jwt, random, subject};

use super::super::Context;

/// The outbox rows for the clients of the ended session `session` that registered a
/// back-channel logout URI. Clients come from the instance's short-lived cache.
pub async fn deliveries(
    ctx: &Context<'_>,
    session: &AuthnFacts,
    client_ids: &[String],
    citizen: Option<&NationalId>,
    now: DateTime<Utc>,
) -> Result<Vec<NewDelivery>, StorageError> {
    let mut deliveries = Vec::new();
    for client_id in client_ids {
        let Some(client) = ctx.clients.find(ctx.db, client_id, now).await? else {
            continue;
        };
        let Some(uri) = client.backchannel_logout_uri.clone() else {
            continue;
        };
        deliveries.push(NewDelivery {
            sub: subject::for_client(ctx.pairwise_key, &client, &session.account_id),
            alg: client.id_token_alg.as_str().to_owned(),
            client_id: client.id,
            uri,
            sid: session.sid.clone(),
            national_id: citizen.map(|id| id.expose().to_owned()),
        });
    }
    Ok(deliveries)
}

/// Queues a logout token for each of `client_ids` that registered for one, and wakes
/// the worker; returns how many were queued. Nothing is sent here.
pub async fn queue(
    ctx: &Context<'_>,
    session: &AuthnFacts,
    client_ids: &[String],
    citizen: Option<&NationalId>,
    now: DateTime<Utc>,
) -> Result<usize, StorageError> {
    let deliveries = deliveries(ctx, session, client_ids, citizen, now).await?;
    if deliveries.is_empty() {
        return Ok(0);
    }
    let at = now.naive_utc();
    let queued = ctx
        .db
        .run(move |conn| logout_outbox::enqueue(conn, &deliveries, at))
        .await?;
    ctx.logout_wakeup.notify_one();
    Ok(queued)
}

/// The signed logout token of `delivery`, with a fresh `jti`.
pub fn sign(ctx: &Context<'_>, delivery: &Delivery, now: DateTime<Utc>) -> Result<String, String> {
    let claims = LogoutTokenClaims::new(
        ctx.issuer,
        &delivery.sub,
        &delivery.client_id,
        &delivery.sid,
        random::token(),
        now.timestamp(),
    );
    let alg = SigningAlg::parse(&delivery.alg).unwrap_or(SigningAlg::Rs256);
    let keys = ctx.keys.current();
    keys.signing_key(alg, now)
        .and_then(|key| jwt::sign(key, logout_token::TYP, &claims))
        .map_err(|e| format!("signing: {e}"))
}

/// What one POST of a logout token got.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// 2xx.
    Delivered,
    /// 4xx: the token was refused, and sending the same request again cannot help.
    Refused(u16),
    /// 5xx, a timeout or a network error: worth another attempt. The reason never
    /// holds the URL: it is the relying party's, but errors can be verbose.
    Retry(String),
    /// The outbound policy forbids the address (see `outbound`): nothing was sent,
    /// and nothing will be while the URL names or resolves to an internal address.
    Forbidden(String),
}

/// POSTs `token` to `uri` once, within `logout.backchannel_timeout_ms`.
pub async fn post(ctx: &Context<'_>, uri: &str, token: &str) -> Attempt {
    let timeout = Duration::from_millis(ctx.settings.logout.backchannel_timeout_ms);
    let request = match ctx.outbound.request(reqwest::Method::POST, uri) {
        Ok(request) => request,
        Err(refused) => return Attempt::Forbidden(format!("address not allowed: {refused}")),
    };
    let sent = request
        .form(&[("logout_token", token)])
        .timeout(timeout)
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => Attempt::Delivered,
        Ok(response) if response.status().is_client_error() => {
            Attempt::Refused(response.status().as_u16())
        }
        Ok(response) => Attempt::Retry(format!("status {}", response.status().as_u16())),
        Err(e) if e.is_timeout() => Attempt::Retry("timeout".into()),
        Err(e) => match crate::outbound::refusal(&e) {
            Some(refused) => Attempt::Forbidden(format!("address not allowed: {refused}")),
            None if e.is_connect() => Attempt::Retry("connection failed".into()),
            None => Attempt::Retry("request failed".into()),
        },
    }
}
