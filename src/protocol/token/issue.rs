//! Issuing tokens for a citizen's authorization, whichever grant presented it: the
//! register is asked again, then the access token (RFC 9068), the ID token (OIDC Core
//! §2) and, where the grant allows, a refresh token of a new or the same family.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use super::invalid_grant;
use crate::audit;
use crate::domain::authn_facts::AuthnFacts;
use crate::domain::client::{Client, SubjectType};
use crate::domain::scope::ScopeSet;
use crate::protocol::Context;
use crate::protocol::encryption::Sealer;
use crate::protocol::error::OAuthError;
use crate::registry;
use crate::storage::refresh_tokens::RevokedAccessToken;
use crate::storage::{self, DbConnection, StorageError, accounts, audit_events, pairwise_subjects};
use crate::tokens::access_token::{self, AccessTokenClaims, Confirmation};
use crate::tokens::id_token::{IdTokenClaims, at_hash};
use crate::tokens::refresh::{self, RefreshGrant};
use crate::tokens::revocation;
use crate::tokens::subject::{self, PairwiseKey};
use crate::tokens::{jwt, random};

#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// What tokens are issued for: a login, through a code or a refresh token.
pub struct Authorization {
    pub facts: AuthnFacts,
    pub scope: ScopeSet,
    /// Only a code carries one (OIDC Core §3.1.3.6); a refresh does not repeat it.
    pub nonce: Option<String>,
    /// The thumbprint of the DPoP key the request proved, which the access token is
    /// bound to (RFC 9449 §6).
    pub jkt: Option<String>,
}

/// What a token response issued, for revoking it if its code is replayed.
pub struct Issued {
    pub jti: String,
    pub exp: i64,
    pub refresh_family: Option<String>,
}

/// Whether the response carries a refresh token, and of which family.
pub enum Refresh {
    None,
    /// A new family, bound to the DPoP key `jkt` if given (RFC 9449 §5: a public
    /// client's).
    NewFamily {
        jkt: Option<String>,
    },
    /// Rotation: a new token in the family, with the family's (original) scope and key.
    Rotate {
        family_id: String,
        scope: ScopeSet,
        jkt: Option<String>,
    },
}

/// The authorization a token response is for, as the database trip that issues the
/// tokens decided it: a redeemed code's is known before the trip, a refresh token is
/// spent within it.
pub enum Spent {
    Granted(Authorization, Refresh),
    Refused(Refusal),
}

/// A refused token request, and the access tokens the refusal revoked with a refresh
/// family (for the store's copy of the revocation list).
pub struct Refusal {
    pub error: OAuthError,
    pub revoked: Vec<RevokedAccessToken>,
}

impl From<OAuthError> for Refusal {
    fn from(error: OAuthError) -> Self {
        Refusal {
            error,
            revoked: Vec::new(),
        }
    }
}

/// What the database trip of a token response read and wrote.
struct Recorded {
    authorization: Authorization,
    sub: String,
    refresh_token: Option<String>,
    refresh_family: Option<String>,
}

/// What the database trip needs besides the connection: owned, since it runs on the
/// blocking pool.
struct Plan {
    client: Client,
    pairwise_key: PairwiseKey,
    /// The access token about to be signed, revoked with its refresh family if it
    /// comes to that.
    access_token: RevokedAccessToken,
    lifetimes: refresh::Lifetimes,
    at: NaiveDateTime,
    request_id: Option<String>,
}

/// Issues the tokens of the authorization `spend` yields. Spending, the register's
/// check and every write (a pairwise subject, the refresh token) are one transaction on
/// one pooled connection: one hand-off to the blocking pool, and a rotation that
/// commits both the spent token and its successor, or neither.
#[tracing::instrument(name = "issue_tokens", skip_all)]
pub async fn issue_tokens<F>(
    ctx: &Context<'_>,
    client: &Client,
    spend: F,
    sealer: Option<Sealer>,
    now: DateTime<Utc>,
    request_id: Option<String>,
) -> Result<(TokenResponse, Issued), OAuthError>
where
    F: FnOnce(&mut DbConnection) -> Result<Spent, StorageError> + Send + 'static,
{
    let tokens = &ctx.settings.tokens;
    let iat = now.timestamp();
    let (jti, exp) = (random::token(), iat + secs(access_token_ttl(ctx, client)));
    let plan = Plan {
        client: client.clone(),
        pairwise_key: ctx.pairwise_key.clone(),
        access_token: (
            jti.clone(),
            DateTime::<Utc>::from_timestamp(exp, 0)
                .unwrap_or(now)
                .naive_utc(),
        ),
        lifetimes: refresh::Lifetimes {
            token: chrono::Duration::seconds(secs(tokens.refresh_token_ttl_secs)),
            family: chrono::Duration::seconds(secs(tokens.refresh_family_max_secs)),
        },
        at: now.naive_utc(),
        request_id,
    };
    let recorded = ctx
        .db
        .run(move |conn| storage::transaction(conn, |conn| record(conn, spend, plan)))
        .await?;
    let Recorded {
        authorization: grant,
        sub,
        refresh_token,
        refresh_family,
    } = match recorded {
        Ok(recorded) => recorded,
        Err(refusal) => {
            revocation::remember(ctx.store, &refusal.revoked, now).await?;
            return Err(refusal.error);
        }
    };

    let access_claims = AccessTokenClaims {
        iss: ctx.issuer.to_owned(),
        sub: sub.clone(),
        aud: ctx.issuer.to_owned(),
        client_id: client.id.clone(),
        scope: grant.scope.to_string(),
        jti,
        exp,
        iat,
        auth_time: Some(grant.facts.auth_time),
        acr: Some(grant.facts.acr),
        cnf: grant.jkt.clone().map(|jkt| Confirmation { jkt }),
    };
    // One set for both tokens, so that they are signed by keys of the same generation.
    let keys = ctx.keys.current();
    let access_key = keys.signing_key(ctx.access_token_alg, now)?;
    let access_token = jwt::sign(access_key, access_token::TYP, &access_claims)?;

    let id_alg = client.id_token_alg;
    let id_claims = IdTokenClaims {
        iss: ctx.issuer.to_owned(),
        sub,
        aud: client.id.clone(),
        azp: client.id.clone(),
        exp: iat + secs(tokens.id_token_ttl_secs),
        iat,
        auth_time: grant.facts.auth_time,
        nonce: grant.nonce.clone(),
        at_hash: at_hash(&access_token),
        acr: grant.facts.acr,
        amr: grant.facts.amr.clone(),
        sid: Some(grant.facts.sid.clone()),
    };
    let id_token = jwt::sign(keys.signing_key(id_alg, now)?, "JWT", &id_claims)?;
    // OIDC Core §10.2: signed, then encrypted to the client's key if it registered one.
    let id_token = match &sealer {
        Some(sealer) => sealer.seal_jwt(&id_token)?,
        None => id_token,
    };

    let issued = Issued {
        jti: access_claims.jti.clone(),
        exp: access_claims.exp,
        refresh_family,
    };
    let response = TokenResponse {
        token_type: token_type(&access_claims),
        access_token,
        expires_in: access_token_ttl(ctx, client),
        id_token: Some(id_token),
        refresh_token,
        scope: grant.scope.to_string(),
    };
    Ok((response, issued))
}

/// The database trip of [`issue_tokens`], inside its transaction. A refusal is a
/// success here: the revocations it made must commit.
fn record<F>(
    conn: &mut DbConnection,
    spend: F,
    plan: Plan,
) -> Result<Result<Recorded, Refusal>, StorageError>
where
    F: FnOnce(&mut DbConnection) -> Result<Spent, StorageError>,
{
    let (mut grant, refresh) = match spend(conn)? {
        Spent::Granted(grant, refresh) => (grant, refresh),
        Spent::Refused(refusal) => return Ok(Err(refusal)),
    };
    // The register is asked again: a death or a suspension since the login ends it
    // here, and ends the refresh token's family with it.
    let identity = accounts::find_with_citizen(conn, &grant.facts.account_id)?;
    let verdict = identity
        .as_ref()
        .map(|(account, citizen)| registry::check_eligible(account, citizen));
    let (Some(Ok(())), Some((account, citizen))) = (verdict, identity) else {
        if let Some(Err(reason)) = verdict {
            tracing::info!(target: "security", %reason, "token refused by the register");
        }
        let revoked = match &refresh {
            Refresh::Rotate { family_id, .. } => refresh::revoke_family(conn, family_id, plan.at)?,
            Refresh::None | Refresh::NewFamily { .. } => Vec::new(),
        };
        return Ok(Err(Refusal {
            error: invalid_grant("the citizen can no longer sign in"),
            revoked,
        }));
    };
    // A refresh carries the login's acr; an officer may have lowered the account since.
    grant.facts.acr = grant.facts.acr.capped(account.assurance_level);

    let client = &plan.client;
    let sub = subject::for_client(&plan.pairwise_key, client, &account.id);
    if client.subject_type == SubjectType::Pairwise {
        pairwise_subjects::remember(conn, &sub, &account.id, &client.sector_identifier, plan.at)?;
    }

    let refresh_grant = match refresh {
        Refresh::None => None,
        Refresh::NewFamily { jkt } => Some(RefreshGrant {
            family_id: uuid::Uuid::new_v4().to_string(),
            client_id: client.id.clone(),
            scope: grant.scope.clone(),
            facts: grant.facts.clone(),
            dpop_jkt: jkt,
        }),
        Refresh::Rotate {
            family_id,
            scope,
            jkt,
        } => Some(RefreshGrant {
            family_id,
            client_id: client.id.clone(),
            scope,
            facts: grant.facts.clone(),
            dpop_jkt: jkt,
        }),
    };
    let refresh_family = refresh_grant.as_ref().map(|g| g.family_id.clone());
    let refresh_token = refresh_grant
        .map(|g| refresh::issue(conn, &g, plan.access_token, plan.lifetimes, plan.at))
        .transpose()?;
    // The ID token releases the citizen's subject and authentication facts (the
    // register's claims are released, and audited, at userinfo). Its audit row commits
    // with the rest, before any token is sent: durable at no extra trip.
    let event = audit::Event::new(audit::Kind::Disclosure, "id_token", plan.at)
        .citizen(citizen.national_id.clone())
        .client(&client.id)
        .claims(["sub", "auth_time", "acr", "amr"])
        .request_id(plan.request_id.as_deref());
    audit_events::append(conn, &[event.into_row()])?;
    Ok(Ok(Recorded {
        authorization: grant,
        sub,
        refresh_token,
        refresh_family,
    }))
}

/// RFC 9449 §5.1: `DPoP` for a bound token, `Bearer` otherwise.
pub fn token_type(claims: &AccessTokenClaims) -> &'static str {
    if claims.cnf.is_some() {
        "DPoP"
    } else {
        "Bearer"
    }
}

/// RFC 9068 tokens are short-lived: the configured lifetime, or the client's own.
pub fn access_token_ttl(ctx: &Context<'_>, client: &Client) -> u64 {
    client
        .access_token_ttl_secs
        .map_or(ctx.settings.tokens.access_token_ttl_secs, u64::from)
}

pub fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX / 4)
}
