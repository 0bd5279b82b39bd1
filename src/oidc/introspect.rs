//! The introspection endpoint (RFC 7662). The client is authenticated by the
//! [`ClientRequest`] extractor; `protocol::introspection::introspect` answers.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::access_log::request_id;
use crate::http::client_request::ClientRequest;
use crate::protocol;
use crate::protocol::error::OAuthError;
use crate::state::AppState;

pub async fn introspect_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientRequest { client, form, now }: ClientRequest,
) -> Result<HttpResponse, OAuthError> {
    let answer = protocol::introspection::introspect(
        &state.protocol(),
        &client,
        form.get("token"),
        request_id(&req).as_deref(),
        now,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}
