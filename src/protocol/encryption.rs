//! Encrypted ID tokens and signed or encrypted userinfo answers (OIDC Core §10.2,
//! §5.3.2), to the key the client registered for encryption (`use: enc`, inline or at
//! its `jwks_uri`, through [`super::client_keys`]). Signed first, then encrypted: the
//! ID token is a nested JWT (`cty: JWT`), and so is a userinfo answer the client asked
//! to be both.
//!
//! A client whose key cannot be had (its `jwks_uri` is down, or serves no key for the
//! registered algorithm) gets an OAuth error, never a 500 and never the token in the
//! clear. The error is `invalid_request` (400), as Keycloak answers ("can not get
//! encryption KEK", after it fixed the 500 it gave on this path): the request cannot be
//! served as the client registered it, and the client, not this server, must act.
//! `invalid_client` (401) would tell it that its credentials failed, which they did
//! not, and `server_error` would invite blind retries of what only a fix of the
//! client's keys mends.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::Context;
use super::client_keys::KeysError;
use super::error::{ErrorCode, OAuthError};
use crate::domain::client::Client;
use crate::domain::client_security::Encryption;
use crate::tokens::jwe::{Content, Recipient};
use crate::tokens::jwt;

/// The client's key, loaded for its algorithms before anything is issued.
pub struct Sealer(Recipient);

impl Sealer {
    /// How `client`'s ID tokens are encrypted, if it registered that. The token
    /// endpoint asks before a code or refresh token is spent, so that a client whose
    /// key cannot be had keeps its grant and may try again once its keys are fixed.
    pub async fn for_id_tokens(
        ctx: &Context<'_>,
        client: &Client,
        now: DateTime<Utc>,
    ) -> Result<Option<Sealer>, OAuthError> {
        sealer(ctx, client, client.security.id_token_encryption, now).await
    }

    /// A signed ID token, encrypted: a nested JWT.
    pub fn seal_jwt(&self, signed: &str) -> Result<String, OAuthError> {
        self.seal(signed.as_bytes(), Content::Jwt)
    }

    fn seal(&self, payload: &[u8], content: Content) -> Result<String, OAuthError> {
        self.0
            .encrypt(payload, content)
            .map_err(|e| OAuthError::internal(&e, false))
    }
}

async fn sealer(
    ctx: &Context<'_>,
    client: &Client,
    encryption: Option<Encryption>,
    now: DateTime<Utc>,
) -> Result<Option<Sealer>, OAuthError> {
    let Some(encryption) = encryption else {
        return Ok(None);
    };
    let key = ctx
        .client_keys
        .encryption_key(ctx.outbound, client, encryption.alg, now)
        .await
        .map_err(|e| {
            tracing::warn!(client_id = %client.id, error = %e, "no encryption key for a client");
            match e {
                KeysError::Fetch(_) => OAuthError::new(
                    ErrorCode::InvalidRequest,
                    "the client's jwks_uri could not be fetched for its encryption key",
                ),
                KeysError::NoKeys | KeysError::Invalid(_) | KeysError::NoEncryptionKey(_) => {
                    unusable_key()
                }
            }
        })?;
    let recipient = Recipient::new(&key, encryption).map_err(|e| {
        tracing::warn!(client_id = %client.id, error = %e, "a client's encryption key is unusable");
        unusable_key()
    })?;
    Ok(Some(Sealer(recipient)))
}

fn unusable_key() -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidRequest,
        "the client has no usable key (use=enc) for its registered encryption algorithm",
    )
}

/// A userinfo answer: JSON, or a JWT (`application/jwt`) when the client registered
/// signing or encryption.
#[derive(Debug)]
pub enum UserinfoAnswer {
    Json(Map<String, Value>),
    Jwt(String),
}

/// `claims` as `client` registered its userinfo answers: JSON; a JWT signed with
/// `userinfo_signed_response_alg`, with `iss` and `aud` added (OIDC Core §5.3.2);
/// encrypted to its key, that JWT or else the JSON itself.
pub async fn userinfo_answer(
    ctx: &Context<'_>,
    client: &Client,
    mut claims: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<UserinfoAnswer, OAuthError> {
    let security = &client.security;
    if security.userinfo_signed_response_alg.is_none() && security.userinfo_encryption.is_none() {
        return Ok(UserinfoAnswer::Json(claims));
    }
    let sealer = sealer(ctx, client, security.userinfo_encryption, now).await?;
    let signed = match security.userinfo_signed_response_alg {
        None => None,
        Some(alg) => {
            claims.insert("iss".into(), Value::from(ctx.issuer));
            claims.insert("aud".into(), Value::from(client.id.as_str()));
            let keys = ctx.keys.current();
            Some(jwt::sign(keys.signing_key(alg, now)?, "JWT", &claims)?)
        }
    };
    let answer = match (sealer, signed) {
        (None, Some(signed)) => signed,
        (Some(sealer), Some(signed)) => sealer.seal(signed.as_bytes(), Content::Jwt)?,
        (Some(sealer), None) => {
            let json = serde_json::to_vec(&claims).map_err(|e| OAuthError::internal(&e, false))?;
            sealer.seal(&json, Content::Json)?
        }
        (None, None) => return Ok(UserinfoAnswer::Json(claims)),
    };
    Ok(UserinfoAnswer::Jwt(answer))
}
