//! Parsing the token request form (RFC 6749 §4.1.3) into a typed request.

use crate::domain::client::GrantType;
use crate::domain::secret::{AuthCode, CodeVerifier, RefreshToken};
use crate::protocol::error::{ErrorCode, OAuthError};

/// A token request, by grant type.
#[derive(Debug)]
pub enum TokenRequest {
    AuthorizationCode {
        code: AuthCode,
        redirect_uri: String,
        code_verifier: Option<CodeVerifier>,
    },
    /// RFC 6749 §6.
    RefreshToken {
        refresh_token: RefreshToken,
        /// A narrower scope for the new access token, if asked.
        scope: Option<String>,
    },
    /// RFC 6749 §4.4: a back-office system asking for a token as itself.
    ClientCredentials { scope: Option<String> },
}

impl TokenRequest {
    pub fn grant_type(&self) -> GrantType {
        match self {
            TokenRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            TokenRequest::RefreshToken { .. } => GrantType::RefreshToken,
            TokenRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
        }
    }
}

/// The form after its shape is checked: client credentials are read first, so that
/// an unauthenticated caller learns nothing about its grant.
pub struct TokenForm {
    pairs: Vec<(String, String)>,
}

/// The parameters' names only: their values include secrets, codes and tokens.
impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenForm")
            .field(
                "parameters",
                &self.pairs.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

const MAX_VALUE_LEN: usize = 4096;

fn invalid(why: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, why)
}

impl TokenForm {
    /// Decodes and checks a form body. Public, like [`Self::parse`], so that the fuzz
    /// targets (`fuzz/`) feed untrusted bytes through the endpoint's own decoding.
    pub fn from_body(body: &[u8]) -> Result<Self, OAuthError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| invalid("the body is not a valid form"))?;
        Self::parse(pairs)
    }

    pub fn parse(pairs: Vec<(String, String)>) -> Result<Self, OAuthError> {
        let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        // RFC 6749 §3.2: parameters must not be repeated.
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid("a parameter is repeated"));
        }
        if pairs.iter().any(|(_, v)| v.len() > MAX_VALUE_LEN) {
            return Err(invalid("a parameter is too long"));
        }
        // No identifier or token holds a NUL, and PostgreSQL refuses it in text: a
        // lookup with one would fail as a server error instead of a refusal.
        if pairs
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(invalid("a parameter contains a NUL character"));
        }
        Ok(TokenForm { pairs })
    }

    /// Every parameter, for an endpoint that reads the form as another request (`/par`
    /// reads an authorization request).
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.pairs
    }

    /// A parameter's value; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn grant(&self) -> Result<TokenRequest, OAuthError> {
        let required = |name: &'static str, why: &'static str| {
            self.get(name)
                .map(str::to_owned)
                .ok_or_else(|| invalid(why))
        };
        match self.get("grant_type") {
            None => Err(invalid("grant_type is required")),
            Some("authorization_code") => Ok(TokenRequest::AuthorizationCode {
                code: AuthCode::new(required("code", "code is required")?),
                redirect_uri: required("redirect_uri", "redirect_uri is required")?,
                code_verifier: self
                    .get("code_verifier")
                    .map(|v| CodeVerifier::new(v.to_owned())),
            }),
            Some("refresh_token") => Ok(TokenRequest::RefreshToken {
                refresh_token: RefreshToken::new(required(
                    "refresh_token",
                    "refresh_token is required",
                )?),
                scope: self.get("scope").map(str::to_owned),
            }),
            Some("client_credentials") => Ok(TokenRequest::ClientCredentials {
                scope: self.get("scope").map(str::to_owned),
            }),
            Some(_) => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "supported grant types: authorization_code, refresh_token, client_credentials",
            )),
        }
    }
}
