//! Parsing an RP-initiated logout request (RP-Initiated Logout 1.0 §2).

use super::super::Context;
use super::end_session::Refused;
use crate::domain::parameter;
use crate::tokens::id_token::IdTokenClaims;
use crate::tokens::jwt;

#[derive(Debug, Default)]
pub struct LogoutRequest {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub ui_locales: Option<String>,
}

const MAX_VALUE_LEN: usize = 4096;

impl LogoutRequest {
    /// `None` when a parameter is repeated, oversized or holds a control character: such
    /// a request is malformed.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Option<Self> {
        let mut request = LogoutRequest::default();
        for (name, value) in pairs {
            if value.len() > MAX_VALUE_LEN {
                return None;
            }
            // RFC 6749 §3.1: a parameter without a value is as if omitted, so it neither
            // counts as a repetition nor takes the place of a later value (as in the
            // authorization request; the order of the pairs must not matter).
            if value.is_empty() {
                continue;
            }
            let slot = match name.as_str() {
                "id_token_hint" => &mut request.id_token_hint,
                "client_id" => &mut request.client_id,
                "post_logout_redirect_uri" => &mut request.post_logout_redirect_uri,
                "state" => &mut request.state,
                "ui_locales" => &mut request.ui_locales,
                // Unknown parameters (logout_hint, lang, ...) are ignored.
                _ => continue,
            };
            // A control character makes the request malformed before anything reads it
            // (a NUL in `client_id` would fail the lookup on PostgreSQL; `state` would
            // go back to the relying party).
            if slot.is_some() || parameter::holds_control(&value) {
                return None;
            }
            *slot = Some(value);
        }
        Some(request)
    }

    /// The ID token hint, if any, verified as one of ours. An expired one is accepted,
    /// as §2 asks: relying parties log out long after their ID token expired.
    pub fn verified_hint(&self, ctx: &Context<'_>) -> Result<Option<IdTokenClaims>, Refused> {
        let Some(hint) = &self.id_token_hint else {
            return Ok(None);
        };
        jwt::verify::<IdTokenClaims>(&ctx.keys.current(), hint, "JWT", ctx.issuer)
            .map(Some)
            .map_err(|_| Refused::BadHint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Decoded as the web layer decodes a query or a form body (`http::params::parse`).
    fn parse(query: &[u8]) -> Option<LogoutRequest> {
        serde_urlencoded::from_bytes(query)
            .ok()
            .and_then(LogoutRequest::from_pairs)
    }

    #[test]
    fn an_empty_value_is_absent_whichever_order_it_comes_in() {
        for query in [
            &b"client_id=&client_id=portal&state="[..],
            b"client_id=portal&client_id=&state=",
        ] {
            let request = parse(query).expect("accepted");
            assert_eq!(request.client_id.as_deref(), Some("portal"));
            assert_eq!(request.state, None);
        }
        assert!(parse(b"client_id=a&client_id=b").is_none());
    }

    /// fuzz/regressions/end_session_request: `client_id` twice, both empty.
    #[test]
    fn fuzz_regression_repeated_empty_client_id_is_absent() {
        let input = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/regressions/end_session_request/crash-a7893b7b483dc16980458f8bd062de2a876097d1"
        ));
        let request = parse(input).expect("accepted");
        assert_eq!(request.client_id, None);
    }
}
