//! The introspection endpoint (RFC 7662). The client is authenticated by the
//! [`ClientRequest`] extractor; `protocol::introspection::introspect` answers, checking
//! the request's DPoP proof if it carries one.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::http::access_log::request_id;
use crate::http::client_request::ClientRequest;
use crate::http::dpop;
use crate::protocol;
use crate::state::AppState;

pub async fn introspect_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientRequest { client, form, now }: ClientRequest,
) -> HttpResponse {
    let answer = async {
        let proof = dpop::request(&req, &state.endpoints.introspection)?;
        protocol::introspection::introspect(
            &state.protocol(),
            &client,
            form.get("token"),
            &proof,
            request_id(&req).as_deref(),
            now,
        )
        .await
    }
    .await;
    let response = match answer {
        Ok(answer) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(answer),
        Err(error) => error.error_response(),
    };
    dpop::with_nonce(&state, now, response)
}
