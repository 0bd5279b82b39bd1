//! The pushed authorization request endpoint (RFC 9126). The client is authenticated
//! by the [`ClientRequest`] extractor, as at the token endpoint; `protocol::authorize::par`
//! checks and stores the request, and verifies the DPoP proof sent with it, whose key
//! then binds the code (RFC 9449 §10.1); the answer is 201 with its `request_uri`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::http::client_request::ClientRequest;
use crate::http::dpop;
use crate::protocol::authorize::par;
use crate::state::AppState;

#[tracing::instrument(name = "par", skip_all, fields(client_id = tracing::field::Empty))]
pub async fn par_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    ClientRequest { client, form, now }: ClientRequest,
) -> HttpResponse {
    tracing::Span::current().record("client_id", client.id.as_str());
    let answer = async {
        let proof = dpop::request(&req, &state.endpoints.pushed_authorization)?;
        par::push(&state.protocol(), &client, form.into_pairs(), &proof, now).await
    }
    .await;
    let response = match answer {
        Ok(pushed) => HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(pushed),
        Err(error) => error.error_response(),
    };
    dpop::with_nonce(&state, now, response)
}
