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
use super::encryption::Sealer;
use super::error::{ErrorCode, OAuthError};
use crate::domain::client::Client;
use crate::domain::secret::CodeVerifier;
pub use issue::TokenResponse;
use request::TokenRequest;

/// Answers `client`'s token request, or the error RFC 6749 §5.2 names.
pub async fn exchange(
    ctx: &Context<'_>,
    client: &Client,
    request: TokenRequest,
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
    // The key an ID token is encrypted to is found before a code or refresh token is
    // spent: a client whose key cannot be had keeps its grant, to try again.
    let sealer = match &request {
        TokenRequest::ClientCredentials { .. } => None,
        _ => Sealer::for_id_tokens(ctx, client, now).await?,
    };
    match request {
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::issue(ctx, client, scope.as_deref(), now)
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
            authorization_code::exchange(ctx, client, presented, sealer, now, request_id).await
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            refresh_token::exchange(ctx, client, refresh_token, scope, sealer, now, request_id)
                .await
        }
    }
}

fn invalid_grant(why: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, why)
}
