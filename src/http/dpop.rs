//! DPoP over HTTP (RFC 9449): the `DPoP` header of a request, read into a
//! `protocol::dpop::Request` for the endpoint's own URL, and the server nonce given
//! back in a `DPoP-Nonce` header.

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use chrono::{DateTime, Utc};

use crate::protocol::dpop::{self, MAX_PROOF_BYTES};
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::state::AppState;

const DPOP: HeaderName = HeaderName::from_static("dpop");
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

fn invalid(why: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, why)
}

/// The request's proof, for the endpoint at `endpoint_url` (its URL as this server
/// names it from the issuer, never as the `Host` header says). RFC 9449 §4.3: at most
/// one `DPoP` header.
pub fn request(req: &HttpRequest, endpoint_url: &str) -> Result<dpop::Request, OAuthError> {
    let mut values = req.headers().get_all(DPOP);
    let proof = match (values.next(), values.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => return Err(invalid("more than one DPoP header")),
        (Some(value), None) => {
            if value.len() > MAX_PROOF_BYTES {
                return Err(invalid("the DPoP proof is too large"));
            }
            let proof = value
                .to_str()
                .map_err(|_| invalid("the DPoP proof is malformed"))?;
            Some(proof.trim().to_owned())
        }
    };
    Ok(dpop::Request {
        proof,
        method: req.method().as_str().to_owned(),
        url: endpoint_url.to_owned(),
    })
}

/// `response` with the current server nonce, when the server requires nonces (RFC 9449
/// §8.2: on errors, so that the client can retry, and on successes, so that it never
/// has to fail first once a nonce rotates).
pub fn with_nonce(
    state: &AppState,
    now: DateTime<Utc>,
    mut response: HttpResponse,
) -> HttpResponse {
    if state.settings.dpop.nonce_required
        && let Ok(nonce) = HeaderValue::from_str(&state.dpop_nonces.current(now.timestamp()))
    {
        response.headers_mut().insert(DPOP_NONCE, nonce);
    }
    response
}
