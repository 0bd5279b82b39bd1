//! The token endpoint (RFC 6749 §3.2). The client is authenticated by the
//! [`ClientRequest`] extractor; `protocol::token::exchange` does the grant, checking the
//! request's DPoP proof if it carries one (RFC 9449); this handler counts the tokens and
//! renders them.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::http::access_log::request_id;
use crate::http::client_request::ClientRequest;
use crate::http::dpop;
use crate::protocol;
use crate::protocol::error::OAuthError;
use crate::protocol::token::TokenResponse;
use crate::state::AppState;

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
    ClientRequest { client, form, now }: ClientRequest,
) -> HttpResponse {
    let span = tracing::Span::current();
    span.record("client_id", client.id.as_str());
    let answer = async {
        let grant = form.grant()?;
        let grant_type = grant.grant_type();
        span.record("grant_type", grant_type.as_str());
        let proof = dpop::request(&req, &state.endpoints.token)?;
        let response = protocol::token::exchange(
            &state.protocol(),
            &client,
            grant,
            &proof,
            now,
            request_id(&req),
        )
        .await?;
        state.metrics.tokens_issued(
            grant_type.as_str(),
            response.id_token.is_some(),
            response.refresh_token.is_some(),
        );
        Ok::<TokenResponse, OAuthError>(response)
    }
    .await;
    let response = match answer {
        Ok(response) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(response),
        Err(error) => error.error_response(),
    };
    dpop::with_nonce(&state, now, response)
}
