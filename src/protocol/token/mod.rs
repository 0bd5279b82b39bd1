//! What the token endpoint does (RFC 6749 §3.2) once the client is authenticated: one
//! module per grant (`authorization_code`, `refresh_token`, `client_credentials`), and
//! `issue` for the tokens a citizen's authorization gives, whichever grant presented it.
//! A new grant is a module here, a variant of [`request::TokenRequest`] and an arm in
//! [`exchange`].

mod authorization_code;
mod client_credentials;
mod issue;
mod refresh_token;
pub mod request;

use chrono::{DateTime, Utc};

use super::Context;
use super::dpop;
use super::encryption::Sealer;
use super::error::{ErrorCode, OAuthError};
use crate::domain::client::Client;
use crate::domain::secret::CodeVerifier;
pub use issue::{TokenResponse, token_type};
use request::TokenRequest;

/// Answers `client`'s token request, or the error RFC 6749 §5.2 names. A DPoP proof
/// (RFC 9449 §5), when the request carries one, binds the access token to its key, and
/// a public client's refresh token too.
pub async fn exchange(
    ctx: &Context<'_>,
    client: &Client,
    request: TokenRequest,
    proof: &dpop::Request,
    now: DateTime<Utc>,
    request_id: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    // RFC 6749 §5.2: a grant type the client is not registered for.
    if !client.allows_grant(request.grant_type()) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client is not registered for this grant type",
        ));
    }
    let proved = dpop::verify_for_client(ctx, client, proof, now).await?;
    // RFC 9449 §5.2 (`dpop_bound_access_tokens`), and FAPI 2.0 §5.3.2.2 for its profile.
    if proved.is_none() && client.requires_dpop(ctx.settings.server.profile) {
        return Err(dpop::proof_required());
    }
    let jkt = proved.map(|proof| proof.jkt);
    // The key an ID token is encrypted to is found before a code or refresh token is
    // spent: a client whose key cannot be had keeps its grant, to try again.
    let sealer = match &request {
        TokenRequest::ClientCredentials { .. } => None,
        _ => Sealer::for_id_tokens(ctx, client, now).await?,
    };
    match request {
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::issue(ctx, client, scope.as_deref(), jkt, now)
        }
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let presented = authorization_code::Presented {
                code: &code,
                redirect_uri: &redirect_uri,
                code_verifier: code_verifier.as_ref().map(CodeVerifier::expose),
            };
            authorization_code::exchange(ctx, client, presented, jkt, sealer, now, request_id).await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            let presented = refresh_token::Presented {
                refresh_token,
                scope,
                jkt,
            };
            refresh_token::exchange(ctx, client, presented, sealer, now, request_id).await
        }
    }
}

fn invalid_grant(why: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, why)
}
