//! The revocation endpoint (RFC 7009). The client is authenticated by the
//! [`ClientRequest`] extractor; `protocol::revocation::revoke` does the rest.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::http::client_request::ClientRequest;
use crate::protocol;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::state::AppState;

pub async fn revoke_post(
    state: web::Data<AppState>,
    ClientRequest { client, form, now }: ClientRequest,
) -> Result<HttpResponse, OAuthError> {
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::new(ErrorCode::InvalidRequest, "token is required"))?;
    protocol::revocation::revoke(&state.protocol(), &client, token, now).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
