//! The pushed authorization request endpoint (RFC 9126). The client is authenticated
//! by the [`ClientRequest`] extractor, as at the token endpoint; `protocol::authorize::par`
//! checks and stores the request; the answer is 201 with its `request_uri`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::http::client_request::ClientRequest;
use crate::protocol::authorize::par;
use crate::protocol::error::OAuthError;
use crate::state::AppState;

#[tracing::instrument(name = "par", skip_all, fields(client_id = tracing::field::Empty))]
pub async fn par_post(
    state: web::Data<AppState>,
    ClientRequest { client, form, now }: ClientRequest,
) -> Result<HttpResponse, OAuthError> {
    tracing::Span::current().record("client_id", client.id.as_str());
    // RFC 9449 §10: the thumbprint of a `DPoP` proof sent with the request goes here,
    // once the DPoP proof is verified at this endpoint.
    let dpop_jkt = None;
    let pushed = par::push(&state.protocol(), &client, form.into_pairs(), dpop_jkt, now).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(pushed))
}
