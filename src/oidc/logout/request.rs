//! Parsing an RP-initiated logout request (RP-Initiated Logout 1.0 §2).

use crate::pages::PageError;
use crate::state::AppState;
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
    /// `None` when a parameter is repeated or oversized: such a request is malformed.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Option<Self> {
        let mut request = LogoutRequest::default();
        for (name, value) in pairs {
            if value.len() > MAX_VALUE_LEN {
                return None;
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
            if slot.is_some() {
                return None;
            }
            // An empty value counts as absent.
            *slot = Some(value).filter(|v| !v.is_empty());
        }
        Some(request)
    }

    /// The ID token hint, if any, verified as one of ours. An expired one is accepted,
    /// as §2 asks: relying parties log out long after their ID token expired.
    pub fn verified_hint(&self, state: &AppState) -> Result<Option<IdTokenClaims>, PageError> {
        let Some(hint) = &self.id_token_hint else {
            return Ok(None);
        };
        jwt::verify::<IdTokenClaims>(&state.keys.current(), hint, "JWT", &state.issuer)
            .map(Some)
            .map_err(|_| PageError::bad_logout_hint())
    }
}
