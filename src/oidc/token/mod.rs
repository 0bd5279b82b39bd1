//! The token endpoint (RFC 6749 §3.2): authenticates the client, redeems the code, and
//! issues an ID token and a JWT access token.

pub mod assertion;
pub mod client_auth;
mod client_credentials;
pub mod client_keys;
pub mod request;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::audit;
use crate::domain::acr::capped_acr;
use crate::domain::client::{Client, GrantType, SubjectType};
use crate::domain::scope::ScopeSet;
use crate::domain::secret::AuthCode;
use crate::domain::signing_alg::SigningAlg;
use crate::http::access_log::request_id;
use crate::http::oauth_error::{ErrorCode, OAuthError};
use crate::registry;
use crate::state::AppState;
use crate::storage::pairwise_subjects;
use crate::tokens::access_token::{self, AccessTokenClaims};
use crate::tokens::code::{self, CodeGrant, SpentCode};
use crate::tokens::id_token::{IdTokenClaims, at_hash};
use crate::tokens::refresh::{self, RefreshError, RefreshGrant};
use crate::tokens::revocation;
use crate::tokens::{jwt, pkce, random, subject};
use request::{TokenForm, TokenRequest};

#[derive(Serialize)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: String,
}

/// What tokens are issued for: a login, through a code or a refresh token.
struct Authorization {
    account_id: String,
    sid: Option<String>,
    scope: String,
    nonce: Option<String>,
    auth_time: i64,
    acr: String,
    amr: Vec<String>,
}

/// What a token response issued, for revoking it if its code is replayed.
struct Issued {
    jti: String,
    exp: i64,
    refresh_family: Option<String>,
}

/// Whether the response carries a refresh token, and of which family.
enum Refresh {
    None,
    NewFamily,
    /// Rotation: a new token in the family, with the family's (original) scope.
    Rotate {
        family_id: String,
        scope: String,
    },
}

/// Reads an `application/x-www-form-urlencoded` body (RFC 6749 §3.2), as the token,
/// revocation and introspection endpoints require.
pub(crate) fn parse_form(
    req: &HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<TokenForm, OAuthError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let body = body.map_err(|_| {
        OAuthError::new(
            ErrorCode::InvalidRequest,
            "the body is too large or unreadable",
        )
    })?;
    TokenForm::from_body(&body)
}

/// Authenticates the calling client from the Authorization header or the form.
#[tracing::instrument(name = "client_authentication", skip_all)]
pub(crate) async fn authenticate_client(
    req: &HttpRequest,
    state: &AppState,
    form: &TokenForm,
) -> Result<Client, OAuthError> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("<non-ascii>"));
    let assertion = client_auth::AssertionParams {
        assertion_type: form.get("client_assertion_type"),
        assertion: form.get("client_assertion"),
    };
    let credentials = client_auth::credentials(
        authorization,
        form.get("client_id"),
        form.get("client_secret"),
        assertion,
    )?;
    let client = state
        .clients
        .find(&state.db, &credentials.client_id, state.clock.now())
        .await?
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidClient, "client authentication failed"))?;
    let verified = match &credentials.assertion {
        None => client_auth::authenticate(&client, &credentials),
        Some(jwt) => match client_auth::authenticate(&client, &credentials) {
            Ok(()) => assertion::verify(state, &client, jwt).await,
            Err(e) => Err(e),
        },
    };
    verified.inspect_err(|_| {
        tracing::info!(target: "security", "request with failed client authentication");
    })?;
    Ok(client)
}

// The span's fields are the client (a registered id, not personal data) and the grant
// type, recorded once known; never codes, tokens or secrets.
#[tracing::instrument(
    name = "token",
    skip_all,
    fields(client_id = tracing::field::Empty, grant_type = tracing::field::Empty)
)]
pub async fn token_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<HttpResponse, OAuthError> {
    let form = parse_form(&req, body)?;
    let client = authenticate_client(&req, &state, &form).await?;
    let span = tracing::Span::current();
    span.record("client_id", client.id.as_str());

    let now = state.clock.now();
    let grant = form.grant()?;
    let grant_type = grant.grant_type();
    span.record("grant_type", grant_type.as_str());
    // RFC 6749 §5.2: a grant type the client is not registered for.
    if !client.allows_grant(grant_type) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client is not registered for this grant type",
        ));
    }
    let response = match grant {
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::issue(&state, &client, scope.as_deref(), now)?
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let Some(grant) = code::redeem(state.store.as_ref(), &code, now).await? else {
                revoke_replayed_code(&state, &code, now).await?;
                return Err(invalid_grant(
                    "the code is invalid, expired or already used",
                ));
            };
            check_grant(&grant, &client, &redirect_uri, code_verifier.as_deref())?;
            // OIDC Core §11: offline access is granted through its scope, which the
            // authorization endpoint allows only to clients registered for it.
            let offline = ScopeSet::parse(&grant.scope).is_ok_and(|s| s.contains("offline_access"));
            let refresh = if offline && client.allows_grant(GrantType::RefreshToken) {
                Refresh::NewFamily
            } else {
                Refresh::None
            };
            let authorization = Authorization {
                account_id: grant.account_id,
                sid: Some(grant.sid),
                scope: grant.scope,
                nonce: grant.nonce,
                auth_time: grant.auth_time,
                acr: grant.acr,
                amr: grant.amr,
            };
            let (response, issued) = issue_tokens(
                &state,
                &client,
                authorization,
                refresh,
                now,
                request_id(&req),
            )
            .await?;
            let spent = SpentCode {
                access_token_jti: issued.jti,
                access_token_exp: issued.exp,
                refresh_family: issued.refresh_family,
            };
            let ttl = std::time::Duration::from_secs(access_token_ttl(&state, &client));
            code::mark_spent(state.store.as_ref(), &code, &spent, ttl).await?;
            response
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            let (client_id, registered) = (client.id.clone(), client.scopes.clone());
            let at = now.naive_utc();
            let redeemed = state
                .db
                .run(move |conn| {
                    refresh::redeem(
                        conn,
                        &refresh_token,
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
                    revocation::remember(state.store.as_ref(), &revoked, now).await?;
                    return Err(invalid_grant("the refresh token is invalid or expired"));
                }
                Err(RefreshError::Unregistered(revoked)) => {
                    tracing::info!(target: "security", "a refresh family ended: its client is no longer registered for offline access");
                    revocation::remember(state.store.as_ref(), &revoked, now).await?;
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
                account_id: grant.account_id,
                sid: grant.sid,
                scope,
                nonce: None,
                auth_time: grant.auth_time,
                acr: grant.acr,
                amr: grant.amr,
            };
            let refresh = Refresh::Rotate {
                family_id: grant.family_id,
                scope: grant.scope,
            };
            issue_tokens(
                &state,
                &client,
                authorization,
                refresh,
                now,
                request_id(&req),
            )
            .await?
            .0
        }
    };
    state.metrics.tokens_issued(
        grant_type.as_str(),
        response.id_token.is_some(),
        response.refresh_token.is_some(),
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}

/// RFC 6749 §4.1.2: a code presented again after it was redeemed revokes the tokens
/// it gave, since one of the two presenters is an attacker.
#[tracing::instrument(name = "revoke_replayed_code", skip_all)]
async fn revoke_replayed_code(
    state: &AppState,
    code: &AuthCode,
    now: DateTime<Utc>,
) -> Result<(), OAuthError> {
    let Some(spent) = code::take_spent(state.store.as_ref(), code).await? else {
        return Ok(());
    };
    tracing::warn!(target: "security", "an authorization code was replayed; its tokens are revoked");
    let expires_at = DateTime::<Utc>::from_timestamp(spent.access_token_exp, 0).unwrap_or(now);
    if expires_at > now {
        revocation::revoke(
            state.store.as_ref(),
            &state.db,
            &spent.access_token_jti,
            expires_at,
            now,
        )
        .await?;
    }
    if let Some(family) = spent.refresh_family {
        let at = now.naive_utc();
        let revoked = state
            .db
            .run(move |conn| refresh::revoke_family(conn, &family, at))
            .await?;
        revocation::remember(state.store.as_ref(), &revoked, now).await?;
    }
    Ok(())
}

fn invalid_grant(why: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, why)
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

#[tracing::instrument(name = "issue_tokens", skip_all)]
async fn issue_tokens(
    state: &AppState,
    client: &Client,
    grant: Authorization,
    refresh: Refresh,
    now: DateTime<Utc>,
    request_id: Option<String>,
) -> Result<(TokenResponse, Issued), OAuthError> {
    // The register is asked again: a death or a suspension since the login ends it
    // here, and ends the refresh token's family with it.
    let identity = registry::identity_by_account(&state.db, grant.account_id.clone()).await?;
    let eligible = identity
        .as_ref()
        .map(|(account, citizen)| registry::check_eligible(account, citizen));
    let Some(Ok(())) = eligible else {
        if let Some(Err(reason)) = eligible {
            tracing::info!(target: "security", %reason, "token refused by the register");
        }
        if let Refresh::Rotate { family_id, .. } = &refresh {
            let (family_id, at) = (family_id.clone(), now.naive_utc());
            let revoked = state
                .db
                .run(move |conn| refresh::revoke_family(conn, &family_id, at))
                .await?;
            revocation::remember(state.store.as_ref(), &revoked, now).await?;
        }
        return Err(invalid_grant("the citizen can no longer sign in"));
    };
    let Some((account, citizen)) = identity else {
        return Err(invalid_grant("the citizen can no longer sign in"));
    };
    // A refresh carries the login's acr; an officer may have lowered the account since.
    let mut grant = grant;
    grant.acr = capped_acr(&grant.acr, account.assurance_level).to_owned();

    let sub = subject::for_client(&state.pairwise_key, client, &account.id);
    if client.subject_type == SubjectType::Pairwise {
        let (sub, account_id, sector) = (
            sub.clone(),
            account.id.clone(),
            client.sector_identifier.clone(),
        );
        let at = now.naive_utc();
        state
            .db
            .run(move |conn| pairwise_subjects::remember(conn, &sub, &account_id, &sector, at))
            .await?;
    }

    let tokens = &state.settings.tokens;
    let iat = now.timestamp();
    let access_claims = AccessTokenClaims {
        iss: state.issuer.clone(),
        sub: sub.clone(),
        aud: state.issuer.clone(),
        client_id: client.id.clone(),
        scope: grant.scope.clone(),
        jti: random::token(),
        exp: iat + secs(access_token_ttl(state, client)),
        iat,
        auth_time: Some(grant.auth_time),
        acr: Some(grant.acr.clone()),
    };
    // One set for both tokens, so that they are signed by keys of the same generation.
    let keys = state.keys.current();
    let access_key = keys.signing_key(state.access_token_alg, now)?;
    let access_token = jwt::sign(access_key, access_token::TYP, &access_claims)?;

    let id_alg = SigningAlg::parse(&client.id_token_alg).unwrap_or(SigningAlg::Rs256);
    let id_claims = IdTokenClaims {
        iss: state.issuer.clone(),
        sub,
        aud: client.id.clone(),
        azp: client.id.clone(),
        exp: iat + secs(tokens.id_token_ttl_secs),
        iat,
        auth_time: grant.auth_time,
        nonce: grant.nonce.clone(),
        at_hash: at_hash(&access_token),
        acr: grant.acr.clone(),
        amr: grant.amr.clone(),
        sid: grant.sid.clone(),
    };
    let id_token = jwt::sign(keys.signing_key(id_alg, now)?, "JWT", &id_claims)?;
    // The ID token releases the citizen's subject and authentication facts; the
    // register's claims are released (and audited) at userinfo.
    let event = audit::Event::new(audit::Kind::Disclosure, "id_token", now.naive_utc())
        .citizen(citizen.national_id.clone())
        .client(&client.id)
        .claims(["sub", "auth_time", "acr", "amr"])
        .request_id(request_id.as_deref());
    state.audit.record(event).await;

    let refresh_grant = match refresh {
        Refresh::None => None,
        Refresh::NewFamily => Some(RefreshGrant {
            family_id: uuid::Uuid::new_v4().to_string(),
            account_id: account.id.clone(),
            client_id: client.id.clone(),
            scope: grant.scope.clone(),
            auth_time: grant.auth_time,
            acr: grant.acr.clone(),
            amr: grant.amr.clone(),
            sid: grant.sid.clone(),
        }),
        Refresh::Rotate { family_id, scope } => Some(RefreshGrant {
            family_id,
            account_id: account.id.clone(),
            client_id: client.id.clone(),
            scope,
            auth_time: grant.auth_time,
            acr: grant.acr.clone(),
            amr: grant.amr.clone(),
            sid: grant.sid.clone(),
        }),
    };
    let refresh_family = refresh_grant.as_ref().map(|g| g.family_id.clone());
    let refresh_token = match refresh_grant {
        None => None,
        Some(refresh_grant) => {
            let lifetimes = refresh::Lifetimes {
                token: chrono::Duration::seconds(secs(tokens.refresh_token_ttl_secs)),
                family: chrono::Duration::seconds(secs(tokens.refresh_family_max_secs)),
            };
            let access = (
                access_claims.jti.clone(),
                DateTime::<Utc>::from_timestamp(access_claims.exp, 0)
                    .unwrap_or(now)
                    .naive_utc(),
            );
            let at = now.naive_utc();
            Some(
                state
                    .db
                    .run(move |conn| refresh::issue(conn, &refresh_grant, access, lifetimes, at))
                    .await?,
            )
        }
    };
    let issued = Issued {
        jti: access_claims.jti.clone(),
        exp: access_claims.exp,
        refresh_family,
    };
    let response = TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: access_token_ttl(state, client),
        id_token: Some(id_token),
        refresh_token,
        scope: grant.scope,
    };
    Ok((response, issued))
}

/// RFC 9068 tokens are short-lived: the configured lifetime, or the client's own.
fn access_token_ttl(state: &AppState, client: &Client) -> u64 {
    client
        .access_token_ttl_secs
        .map_or(state.settings.tokens.access_token_ttl_secs, u64::from)
}

fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX / 4)
}
