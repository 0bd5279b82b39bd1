//! The token endpoint (RFC 6749 §3.2). The handler parses the form, authenticates the
//! client (`client_auth`), checks that it is registered for the grant, and hands the
//! grant to its own module: `authorization_code`, `refresh_token` or
//! `client_credentials`. The first two have `issue` make the tokens for a citizen.

pub mod assertion;
mod authorization_code;
pub mod client_auth;
mod client_credentials;
pub mod client_keys;
mod issue;
mod refresh_token;
pub mod request;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::client::Client;
use crate::domain::secret::CodeVerifier;
use crate::http::access_log::request_id;
use crate::http::oauth_error::{ErrorCode, OAuthError};
use crate::state::AppState;
use request::{TokenForm, TokenRequest};

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
    let request_id = request_id(&req);
    let response = match grant {
        TokenRequest::ClientCredentials { scope } => {
            client_credentials::issue(&state, &client, scope.as_deref(), now)?
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
            authorization_code::exchange(&state, &client, presented, now, request_id).await?
        }
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => {
            refresh_token::exchange(&state, &client, refresh_token, scope, now, request_id).await?
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

fn invalid_grant(why: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, why)
}
