//! The revocation endpoint (RFC 7009). The client is authenticated by the
//! [`ClientRequest`] extractor; `protocol::revocation::revoke` does the rest, checking
//! the request's DPoP proof if it carries one.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::http::client_request::ClientRequest;
use crate::http::dpop;
use crate::protocol;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::state::AppState;

pub async fn revoke_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientRequest { client, form, now }: ClientRequest,
) -> HttpResponse {
    let answer = async {
        let token = form
            .get("token")
            .ok_or_else(|| OAuthError::new(ErrorCode::InvalidRequest, "token is required"))?;
        let proof = dpop::request(&req, &state.endpoints.revocation)?;
        protocol::revocation::revoke(&state.protocol(), &client, token, &proof, now).await
    }
    .await;
    let response = match answer {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(error) => error.error_response(),
    };
    dpop::with_nonce(&state, now, response)
}
