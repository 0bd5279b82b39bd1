//! Registering relying parties: validation of what an operator asks for, and the
//! client id and secret that result. The secret is shown once; only its hash is kept.

use crate::domain::client::{Client, ClientKind, TokenEndpointAuthMethod, validate_redirect_uri};
use crate::domain::scope::{self, ScopeSet};
use crate::domain::secret::ClientSecret;
use crate::tokens::keys::SigningAlg;
use crate::tokens::random;

#[derive(Debug, Clone)]
pub struct NewClient {
    /// A chosen id, or `None` for a random one.
    pub id: Option<String>,
    pub name: String,
    pub kind: ClientKind,
    pub redirect_uris: Vec<String>,
    pub scopes: String,
    pub id_token_alg: String,
    /// An access-token lifetime for this client (60 to 3600 seconds), or the default.
    pub access_token_ttl_secs: Option<u32>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistrationError {
    #[error("name must be 1 to 200 characters")]
    Name,
    #[error("client id must be 3 to 64 characters of letters, digits, '-', '_' or '.'")]
    ClientId,
    #[error("at least one redirect URI is required")]
    NoRedirectUri,
    #[error("redirect URI {uri}: {reason}")]
    RedirectUri { uri: String, reason: String },
    #[error("scope must include openid and only supported scopes ({supported})")]
    Scope { supported: String },
    #[error("id_token_alg must be RS256 or ES256")]
    Alg,
    #[error("the access-token lifetime must be between 60 and 3600 seconds")]
    AccessTokenTtl,
}

/// Validates the request and builds the client, with its secret for confidential ones.
/// The longest access-token lifetime a client may have; signing keys stay published at
/// least this long after they retire.
pub const MAX_ACCESS_TOKEN_TTL_SECS: u32 = 3600;

pub fn register(new: NewClient) -> Result<(Client, Option<ClientSecret>), RegistrationError> {
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(RegistrationError::Name);
    }
    let id = match new.id {
        Some(id) => {
            let valid = (3..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !valid {
                return Err(RegistrationError::ClientId);
            }
            id
        }
        None => random::token()[..22].to_owned(),
    };
    if new.redirect_uris.is_empty() {
        return Err(RegistrationError::NoRedirectUri);
    }
    for uri in &new.redirect_uris {
        validate_redirect_uri(uri).map_err(|e| RegistrationError::RedirectUri {
            uri: uri.clone(),
            reason: e.to_string(),
        })?;
    }
    let scopes = ScopeSet::parse(&new.scopes).map_err(|_| scope_error())?;
    if !scopes.contains("openid") || scopes.supported_only() != scopes {
        return Err(scope_error());
    }
    SigningAlg::parse(&new.id_token_alg).ok_or(RegistrationError::Alg)?;
    // Short enough that a revoked or stolen token dies soon; long enough to be useful.
    if new
        .access_token_ttl_secs
        .is_some_and(|ttl| !(60..=MAX_ACCESS_TOKEN_TTL_SECS).contains(&ttl))
    {
        return Err(RegistrationError::AccessTokenTtl);
    }
    let (secret, secret_hash, auth_method) = match new.kind {
        ClientKind::Public => (None, None, TokenEndpointAuthMethod::None),
        ClientKind::Confidential => {
            let secret = ClientSecret::new(random::token());
            let hash = random::sha256(secret.expose().as_bytes());
            (
                Some(secret),
                Some(hash),
                TokenEndpointAuthMethod::ClientSecretBasic,
            )
        }
    };
    let client = Client {
        id,
        name,
        kind: new.kind,
        secret_hash,
        redirect_uris: new.redirect_uris,
        scopes,
        id_token_alg: new.id_token_alg,
        auth_method,
        access_token_ttl_secs: new.access_token_ttl_secs,
    };
    Ok((client, secret))
}

fn scope_error() -> RegistrationError {
    RegistrationError::Scope {
        supported: scope::SUPPORTED.join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn portal() -> NewClient {
        NewClient {
            id: None,
            name: "Cổng dịch vụ công".into(),
            kind: ClientKind::Confidential,
            redirect_uris: vec!["https://dichvucong.gov.vn/callback".into()],
            scopes: "openid profile".into(),
            id_token_alg: "RS256".into(),
            access_token_ttl_secs: None,
        }
    }

    #[test]
    fn a_confidential_client_gets_a_secret_and_only_its_hash_is_kept() {
        let (client, secret) = register(portal()).unwrap();
        let secret = secret.unwrap();
        assert_eq!(
            client.secret_hash.unwrap(),
            random::sha256(secret.expose().as_bytes())
        );
    }

    #[test]
    fn bad_registrations_are_refused_with_a_reason() {
        let mut bad = portal();
        bad.redirect_uris = vec!["http://portal.gov.vn/cb".into()];
        assert!(matches!(
            register(bad),
            Err(RegistrationError::RedirectUri { .. })
        ));
        let mut bad = portal();
        bad.scopes = "profile".into();
        assert!(matches!(
            register(bad),
            Err(RegistrationError::Scope { .. })
        ));
        let mut bad = portal();
        bad.id_token_alg = "none".into();
        assert_eq!(register(bad).unwrap_err(), RegistrationError::Alg);
    }
}
