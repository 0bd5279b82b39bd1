//! Parsing the token request form (RFC 6749 §4.1.3) into a typed request.

use crate::domain::secret::AuthCode;
use crate::oidc::error::{ErrorCode, OAuthError};

/// A token request, by grant type.
#[derive(Debug)]
pub enum TokenRequest {
    AuthorizationCode {
        code: AuthCode,
        redirect_uri: String,
        code_verifier: Option<String>,
    },
}

/// The form, with client credentials separated from the grant.
#[derive(Debug)]
pub struct ParsedForm {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub request: TokenRequest,
}

const MAX_VALUE_LEN: usize = 4096;

fn invalid(why: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, why)
}

pub fn parse(pairs: Vec<(String, String)>) -> Result<ParsedForm, OAuthError> {
    let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    // RFC 6749 §3.2: parameters must not be repeated.
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(invalid("a parameter is repeated"));
    }
    if pairs.iter().any(|(_, v)| v.len() > MAX_VALUE_LEN) {
        return Err(invalid("a parameter is too long"));
    }
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let request = match get("grant_type").as_deref() {
        None => return Err(invalid("grant_type is required")),
        Some("authorization_code") => TokenRequest::AuthorizationCode {
            code: AuthCode::new(get("code").ok_or_else(|| invalid("code is required"))?),
            redirect_uri: get("redirect_uri").ok_or_else(|| invalid("redirect_uri is required"))?,
            code_verifier: get("code_verifier"),
        },
        Some(_) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "only authorization_code is supported",
            ));
        }
    };
    Ok(ParsedForm {
        client_id: get("client_id"),
        client_secret: get("client_secret"),
        request,
    })
}
