//! Client authentication at the token endpoint (RFC 6749 §2.3, OIDC Core §9):
//! `client_secret_basic`, `client_secret_post`, and `none` for public clients.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::domain::client::{Client, ClientKind};
use crate::domain::secret::ClientSecret;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::tokens::random;

/// Credentials as presented, not yet checked.
#[derive(Debug)]
pub struct UnverifiedClientCredentials {
    pub client_id: String,
    pub secret: Option<ClientSecret>,
}

fn invalid_client(why: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, why)
}

/// Reads the credentials from the Authorization header or the form, refusing more
/// than one method in the same request (RFC 6749 §2.3).
pub fn credentials(
    authorization: Option<&str>,
    form_client_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<UnverifiedClientCredentials, OAuthError> {
    match (authorization, form_secret) {
        (Some(_), Some(_)) => Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "use one client authentication method only",
        )),
        (Some(header), None) => {
            let basic =
                parse_basic(header).ok_or_else(|| invalid_client("malformed Basic credentials"))?;
            if form_client_id.is_some_and(|id| id != basic.client_id) {
                return Err(invalid_client("client_id does not match the credentials"));
            }
            Ok(basic)
        }
        (None, secret) => {
            let client_id = form_client_id
                .ok_or_else(|| invalid_client("client authentication is required"))?;
            Ok(UnverifiedClientCredentials {
                client_id: client_id.to_owned(),
                secret: secret.map(|s| ClientSecret::new(s.to_owned())),
            })
        }
    }
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn parse_basic(header: &str) -> Option<UnverifiedClientCredentials> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 1024 {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    let (client_id, secret) = (decode(id)?, decode(secret)?);
    if client_id.is_empty() || secret.is_empty() {
        return None;
    }
    Some(UnverifiedClientCredentials {
        client_id,
        secret: Some(ClientSecret::new(secret)),
    })
}

/// Checks the credentials against the registered client.
pub fn authenticate(
    client: &Client,
    credentials: &UnverifiedClientCredentials,
) -> Result<(), OAuthError> {
    match (client.kind, &credentials.secret, &client.secret_hash) {
        (ClientKind::Public, None, _) => Ok(()),
        (ClientKind::Public, Some(_), _) => Err(invalid_client(
            "public clients do not authenticate with a secret",
        )),
        (ClientKind::Confidential, None, _) => {
            Err(invalid_client("client authentication is required"))
        }
        (ClientKind::Confidential, Some(_), None) => {
            Err(invalid_client("the client has no secret"))
        }
        (ClientKind::Confidential, Some(secret), Some(expected)) => {
            // Client secrets are 256-bit random values, so a single SHA-256 is as strong
            // as a slow hash here, and keeps the token endpoint fast.
            let presented = random::sha256(secret.expose().as_bytes());
            if random::constant_time_eq(&presented, expected) {
                Ok(())
            } else {
                Err(invalid_client("client authentication failed"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_url_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20client:s%3Acret"));
        let creds = credentials(Some(&header), None, None).unwrap();
        assert_eq!(creds.client_id, "my client");
        assert_eq!(creds.secret.unwrap().expose(), "s:cret");
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let header = format!("Basic {}", STANDARD.encode("a:b"));
        let err = credentials(Some(&header), Some("a"), Some("b")).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn malformed_basic_headers_are_invalid_client() {
        for header in [
            "Basic !!!",
            "Bearer abc",
            "Basic",
            &format!("Basic {}", STANDARD.encode("nocolon")),
        ] {
            let err = credentials(Some(header), None, None).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidClient, "{header}");
        }
    }
}
