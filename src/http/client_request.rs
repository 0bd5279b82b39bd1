//! `ClientRequest`: a form post to the token, introspection or revocation endpoint (RFC
//! 6749 §3.2) and the client that sent it, authenticated by `protocol::client_auth`
//! before the handler runs, so that no handler can read a parameter of an
//! unauthenticated caller.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::{DateTime, Utc};

use crate::domain::client::Client;
use crate::protocol::client_auth;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::protocol::token::request::TokenForm;
use crate::state::AppState;

pub struct ClientRequest {
    pub client: Client,
    pub form: TokenForm,
    /// The request's time, read once: the handler uses this one too.
    pub now: DateTime<Utc>,
}

impl FromRequest for ClientRequest {
    type Error = OAuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Bounded by the application's PayloadConfig (`server.max_body_bytes`).
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let form = parse_form(&req, body.await)?;
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| OAuthError::internal(&"no application state", false))?;
            let authorization = req
                .headers()
                .get(header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap_or("<non-ascii>"));
            let now = state.clock.now();
            let client =
                client_auth::authenticate_client(&state.protocol(), authorization, &form, now)
                    .await?;
            Ok(ClientRequest { client, form, now })
        })
    }
}

/// Reads an `application/x-www-form-urlencoded` body (RFC 6749 §3.2), as the token,
/// revocation and introspection endpoints require.
fn parse_form(
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
