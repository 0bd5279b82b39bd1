//! Registering relying parties: validation of what an operator asks for, and the
//! client id and secret that result. The secret is shown once; only its hash is kept.
//! [`admin`] stores, changes and deletes registered clients.

pub mod admin;

use crate::domain::client::MAX_ACCESS_TOKEN_TTL_SECS;
use crate::domain::client::{
    AssertionAudience, Client, ClientKind, GrantType, SubjectType, TokenEndpointAuthMethod,
    sector_of, validate_redirect_uri,
};
use crate::domain::client_keys;
use crate::domain::client_security::{
    ClientSecurity, ContentEncryptionAlg, Encryption, KeyManagementAlg, Profile, SecurityError,
    SecurityMetadata,
};
use crate::domain::scope::{self, ScopeSet};
use crate::domain::secret::ClientSecret;
use crate::domain::signing_alg::SigningAlg;
use crate::outbound;
use crate::tokens::{jwe, random};

/// What an operator asks for. `Default` gives a confidential portal using the code flow
/// with pairwise subjects, so callers name only what differs.
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
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Grant type names; empty means the code flow (with refresh for offline access).
    pub grant_types: Vec<String>,
    pub subject_type: SubjectType,
    /// The sector for pairwise subjects, asserted by the operator (a host, or a URL
    /// whose host is taken), when the redirect URIs span several hosts.
    pub sector_identifier: Option<String>,
    /// A JWK Set document of the client's public keys, for private_key_jwt.
    pub jwks: Option<String>,
    /// Or the URL where the client publishes it.
    pub jwks_uri: Option<String>,
    /// One of the state's own services: no consent page (operators decide this).
    pub first_party: bool,
    /// `client_secret_basic` (the default with a secret), `client_secret_post`,
    /// `private_key_jwt` (the only one with keys) or `none` (the only one for public
    /// clients); `None` takes the default.
    pub token_endpoint_auth_method: Option<String>,
    /// The one algorithm the client's assertions may use (RFC 7591), keys only.
    pub token_endpoint_auth_signing_alg: Option<String>,
    pub assertion_audience: AssertionAudience,
    /// The profile, PAR, DPoP, request-object and encryption metadata, by their names.
    pub security: SecurityMetadata,
}

impl Default for NewClient {
    fn default() -> Self {
        NewClient {
            id: None,
            name: String::new(),
            kind: ClientKind::Confidential,
            redirect_uris: Vec::new(),
            scopes: "openid".into(),
            id_token_alg: "RS256".into(),
            access_token_ttl_secs: None,
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            grant_types: Vec::new(),
            subject_type: SubjectType::Pairwise,
            sector_identifier: None,
            jwks: None,
            jwks_uri: None,
            first_party: false,
            token_endpoint_auth_method: None,
            token_endpoint_auth_signing_alg: None,
            // New clients accept only the issuer as an assertion's audience.
            assertion_audience: AssertionAudience::Issuer,
            security: SecurityMetadata::default(),
        }
    }
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
    #[error(
        "scope must include openid and only supported scopes ({supported}); \
         other (API) scopes only for client_credentials clients"
    )]
    Scope { supported: String },
    #[error("unknown grant type {0} (authorization_code, refresh_token, client_credentials)")]
    GrantType(String),
    #[error("a public client cannot use client_credentials: it has no credentials")]
    PublicClientCredentials,
    #[error("post-logout redirect URI {uri}: {reason}")]
    PostLogoutRedirectUri { uri: String, reason: String },
    #[error(
        "back-channel logout URI {uri}: must be an absolute https URL without fragment (http only on loopback)"
    )]
    BackchannelLogoutUri { uri: String },
    #[error("pairwise subjects need all redirect URIs on one host, or a sector identifier")]
    MixedSectors,
    #[error("the sector identifier must be a host name or an https URL")]
    SectorIdentifier,
    #[error("give either inline keys (jwks) or a jwks_uri, not both")]
    KeysTwice,
    #[error("jwks: {0}")]
    Jwks(String),
    #[error("jwks_uri must be an https URL (http only on loopback)")]
    JwksUri,
    #[error("a public client has no keys: it cannot keep a private key")]
    PublicClientKeys,
    #[error("id_token_alg must be RS256 or ES256")]
    Alg,
    #[error("the access-token lifetime must be between 60 and 3600 seconds")]
    AccessTokenTtl,
    #[error("{field} {uri}: {reason}")]
    Outbound {
        field: &'static str,
        uri: String,
        reason: outbound::Refused,
    },
    #[error(
        "token_endpoint_auth_method must be none for a public client, private_key_jwt for a \
         client with keys, client_secret_basic or client_secret_post otherwise"
    )]
    AuthMethod,
    #[error("token_endpoint_auth_signing_alg must be one of {supported}, for a client with keys")]
    SigningAlg { supported: String },
    #[error("{0}")]
    Security(#[from] SecurityError),
    #[error("encrypted responses need the client's keys (jwks or jwks_uri)")]
    EncryptionWithoutKeys,
    #[error(
        "jwks holds no usable public key marked use=enc for {0} (EC P-256 for \
         ECDH-ES+A256KW, RSA of 2048 bits or more for RSA-OAEP-256, and no other alg declared)"
    )]
    EncryptionKey(&'static str),
    #[error("the fapi2 profile {0}")]
    Fapi2(&'static str),
}

impl From<&Client> for NewClient {
    /// What would register `client` again: the starting point of an update.
    fn from(client: &Client) -> Self {
        NewClient {
            id: Some(client.id.clone()),
            name: client.name.clone(),
            kind: client.kind,
            redirect_uris: client.redirect_uris.clone(),
            scopes: client.scopes.to_string(),
            id_token_alg: client.id_token_alg.as_str().to_owned(),
            access_token_ttl_secs: client.access_token_ttl_secs,
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            backchannel_logout_uri: client.backchannel_logout_uri.clone(),
            grant_types: client
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            subject_type: client.subject_type,
            sector_identifier: Some(client.sector_identifier.clone()).filter(|s| !s.is_empty()),
            jwks: client.jwks.clone(),
            jwks_uri: client.jwks_uri.clone(),
            first_party: client.first_party,
            token_endpoint_auth_method: Some(client.auth_method.as_str().to_owned()),
            token_endpoint_auth_signing_alg: client
                .token_endpoint_auth_signing_alg
                .map(client_keys::alg_name),
            assertion_audience: client.assertion_audience,
            security: SecurityMetadata::from(&client.security),
        }
    }
}

/// Validates the request and builds the client, with its secret for confidential ones.
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
        // Never a leading '-': an id must read as an argument on the command line.
        None => format!("c{}", &random::token()[..21]),
    };
    let grant_types = grant_types(&new.grant_types, new.kind)?;
    let code_flow = grant_types.contains(&GrantType::AuthorizationCode);
    if code_flow && new.redirect_uris.is_empty() {
        return Err(RegistrationError::NoRedirectUri);
    }
    for uri in &new.redirect_uris {
        validate_redirect_uri(uri).map_err(|e| RegistrationError::RedirectUri {
            uri: uri.clone(),
            reason: e.to_string(),
        })?;
    }
    for uri in &new.post_logout_redirect_uris {
        validate_redirect_uri(uri).map_err(|e| RegistrationError::PostLogoutRedirectUri {
            uri: uri.clone(),
            reason: e.to_string(),
        })?;
    }
    if let Some(uri) = &new.backchannel_logout_uri {
        // The provider itself calls this URL, so a private-use scheme makes no sense.
        let web = uri.starts_with("https://") || uri.starts_with("http://");
        if !web || validate_redirect_uri(uri).is_err() {
            return Err(RegistrationError::BackchannelLogoutUri { uri: uri.clone() });
        }
    }
    let scopes = ScopeSet::parse(&new.scopes).map_err(|_| scope_error())?;
    let oidc_ok = scopes.contains("openid") || !code_flow;
    // API scopes (anything this provider does not define) are for back-office systems
    // acting as themselves; citizen logins release only the scopes defined here.
    let api_ok =
        scopes.supported_only() == scopes || grant_types.contains(&GrantType::ClientCredentials);
    if !oidc_ok || !api_ok || scopes.is_empty() {
        return Err(scope_error());
    }
    let sector_identifier = match &new.sector_identifier {
        // Kept as it was given at creation (an update starts from the stored client).
        Some(given) if *given == own_sector(&id) => given.clone(),
        Some(given) => sector_of(given)
            .filter(|_| given.contains("://"))
            .or_else(|| valid_host(given).then(|| given.to_ascii_lowercase()))
            .ok_or(RegistrationError::SectorIdentifier)?,
        None if new.kind == ClientKind::Public && names_no_host(&new.redirect_uris) => {
            own_sector(&id)
        }
        None => sector(&new.redirect_uris, new.subject_type)?,
    };
    let id_token_alg = SigningAlg::parse(&new.id_token_alg).ok_or(RegistrationError::Alg)?;
    // Short enough that a revoked or stolen token dies soon; long enough to be useful.
    if new
        .access_token_ttl_secs
        .is_some_and(|ttl| !(60..=MAX_ACCESS_TOKEN_TTL_SECS).contains(&ttl))
    {
        return Err(RegistrationError::AccessTokenTtl);
    }
    let keys = client_keys(new.jwks.as_deref(), new.jwks_uri.as_deref())?;
    let mut security = ClientSecurity::try_from(&new.security)?;
    if security.profile == Profile::Fapi2 && security.id_token_encryption.is_none() {
        security.id_token_encryption = keys.inline_encryption.as_deref().and_then(fapi2_encryption);
    }
    let auth_method = auth_method(
        new.kind,
        &keys,
        security.encrypts(),
        new.token_endpoint_auth_method.as_deref(),
    )?;
    let signing_alg = new
        .token_endpoint_auth_signing_alg
        .as_deref()
        .map(|name| {
            client_keys::assertion_alg(name)
                .filter(|_| auth_method == TokenEndpointAuthMethod::PrivateKeyJwt)
                .ok_or_else(|| RegistrationError::SigningAlg {
                    supported: client_keys::assertion_alg_names().join(" "),
                })
        })
        .transpose()?;
    let (secret, secret_hash) = match auth_method {
        TokenEndpointAuthMethod::ClientSecretBasic | TokenEndpointAuthMethod::ClientSecretPost => {
            let secret = ClientSecret::new(random::token());
            let hash = random::sha256(secret.expose().as_bytes());
            (Some(secret), Some(hash))
        }
        // A client with keys authenticates with them, and has no secret to leak.
        TokenEndpointAuthMethod::PrivateKeyJwt | TokenEndpointAuthMethod::None => (None, None),
    };
    if security.encrypts() && !keys.any {
        return Err(RegistrationError::EncryptionWithoutKeys);
    }
    encryption_keys_fit(&keys, &security)?;
    let client = Client {
        id,
        name,
        kind: new.kind,
        secret_hash,
        redirect_uris: new.redirect_uris,
        scopes,
        id_token_alg,
        auth_method,
        access_token_ttl_secs: new.access_token_ttl_secs,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        backchannel_logout_uri: new.backchannel_logout_uri,
        grant_types,
        subject_type: new.subject_type,
        sector_identifier,
        jwks: new.jwks,
        jwks_uri: new.jwks_uri,
        token_endpoint_auth_signing_alg: signing_alg,
        assertion_audience: new.assertion_audience,
        first_party: new.first_party,
        security,
    };
    if client.security.profile == Profile::Fapi2 {
        client.fits_fapi2().map_err(RegistrationError::Fapi2)?;
    }
    Ok((client, secret))
}

/// Checks the URLs this server will itself call (`jwks_uri`, `backchannel_logout_uri`)
/// against the outbound policy, resolving their names. Async and apart from
/// [`register`], so that callers run it before a transaction opens.
pub async fn check_outbound(
    new: &NewClient,
    policy: outbound::Policy,
) -> Result<(), RegistrationError> {
    let urls = [
        ("jwks_uri", &new.jwks_uri),
        ("backchannel_logout_uri", &new.backchannel_logout_uri),
    ];
    for (field, uri) in urls {
        let Some(uri) = uri.as_deref().filter(|u| !u.is_empty()) else {
            continue;
        };
        outbound::vet(uri, policy)
            .await
            .map_err(|reason| RegistrationError::Outbound {
                field,
                uri: uri.to_owned(),
                reason,
            })?;
    }
    Ok(())
}

/// The authentication method: the one asked for if it fits the client, else its default.
fn auth_method(
    kind: ClientKind,
    keys: &Keys,
    encrypts: bool,
    requested: Option<&str>,
) -> Result<TokenEndpointAuthMethod, RegistrationError> {
    use TokenEndpointAuthMethod::{ClientSecretBasic, ClientSecretPost, None, PrivateKeyJwt};
    let requested = requested
        .map(|name| TokenEndpointAuthMethod::parse(name).ok_or(RegistrationError::AuthMethod))
        .transpose()?;
    // Keys that are for encryption alone (marked so inline, or published at a jwks_uri
    // by a client that registered encryption and asks for a secret) leave the secret
    // to authenticate the client.
    let secret_fits = !keys.sign || (keys.uri && encrypts);
    match (kind, requested) {
        (ClientKind::Public, _) if keys.any => Err(RegistrationError::PublicClientKeys),
        (ClientKind::Public, Option::None | Some(None)) => Ok(None),
        (ClientKind::Confidential, Option::None) if keys.sign => Ok(PrivateKeyJwt),
        (ClientKind::Confidential, Option::None) => Ok(ClientSecretBasic),
        (ClientKind::Confidential, Some(PrivateKeyJwt)) if keys.sign => Ok(PrivateKeyJwt),
        (ClientKind::Confidential, Some(method @ (ClientSecretBasic | ClientSecretPost)))
            if secret_fits =>
        {
            Ok(method)
        }
        _ => Err(RegistrationError::AuthMethod),
    }
}

/// Under FAPI 2.0 a client that registered a key for encryption gets its ID tokens
/// encrypted, even if it named no algorithm (issue 17's profile): to its first `use: enc`
/// key, with the algorithm that key fits and A256GCM. Keys published at a `jwks_uri` are
/// not read at registration, so such a client names its algorithm itself.
fn fapi2_encryption(keys: &[client_keys::EncryptionKey]) -> Option<Encryption> {
    keys.iter().find_map(|key| {
        KeyManagementAlg::ALL
            .into_iter()
            .find(|&alg| key.fits(alg))
            .map(|alg| Encryption {
                alg,
                enc: ContentEncryptionAlg::A256Gcm,
            })
    })
}

/// Each encryption the client registered has a key to encrypt to, when the keys are
/// inline: the first key marked `use: enc` that fits the algorithm is the one every
/// token will be encrypted to, so it must also load. A `jwks_uri`'s keys are checked
/// when fetched, at the first token.
fn encryption_keys_fit(keys: &Keys, security: &ClientSecurity) -> Result<(), RegistrationError> {
    let Some(registered) = &keys.inline_encryption else {
        return Ok(());
    };
    let wanted = [security.id_token_encryption, security.userinfo_encryption];
    for encryption in wanted.into_iter().flatten() {
        let missing = || RegistrationError::EncryptionKey(encryption.alg.as_str());
        let key =
            client_keys::encryption_key_for(registered, encryption.alg).ok_or_else(missing)?;
        jwe::Recipient::new(key, encryption).map_err(|_| missing())?;
    }
    Ok(())
}

fn grant_types(names: &[String], kind: ClientKind) -> Result<Vec<GrantType>, RegistrationError> {
    if names.is_empty() {
        return Ok(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]);
    }
    let mut grants = Vec::new();
    for name in names
        .iter()
        .flat_map(|n| n.split([' ', ',']))
        .filter(|n| !n.is_empty())
    {
        let grant =
            GrantType::parse(name).ok_or_else(|| RegistrationError::GrantType(name.into()))?;
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    if grants.is_empty() {
        return Err(RegistrationError::GrantType(String::new()));
    }
    if kind == ClientKind::Public && grants.contains(&GrantType::ClientCredentials) {
        return Err(RegistrationError::PublicClientCredentials);
    }
    Ok(grants)
}

/// The sector of a native app whose redirect URIs name no host of its own: the client
/// itself. A loopback address is every app's, and a private-use scheme is anyone's to
/// claim (nothing proves who owns `vn.gov.app:`), so two such apps sharing a sector
/// would share each citizen's `sub`. The prefix keeps it apart from every host name.
fn own_sector(client_id: &str) -> String {
    format!("client_id:{client_id}")
}

/// Whether every redirect URI is a loopback one (RFC 8252 §7.3) or a private-use scheme
/// (§7.1): none is an https host the client's organisation answers for.
fn names_no_host(redirect_uris: &[String]) -> bool {
    redirect_uris.iter().all(|uri| match url::Url::parse(uri) {
        Ok(parsed) => match parsed.scheme() {
            "https" => false,
            "http" => matches!(parsed.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")),
            _ => true,
        },
        Err(_) => false,
    })
}

/// OIDC Core §8.1: without a sector_identifier_uri, the sector is the host of the
/// redirect URIs, which must then be one host for pairwise subjects to be stable.
fn sector(
    redirect_uris: &[String],
    subject_type: SubjectType,
) -> Result<String, RegistrationError> {
    // A native app's loopback redirect (RFC 8252 §7.3) names no organisation, so it
    // does not count as a sector beside the app's own scheme or host.
    let is_loopback = |s: &String| matches!(s.as_str(), "127.0.0.1" | "[::1]" | "localhost");
    let all: Vec<String> = redirect_uris
        .iter()
        .filter_map(|uri| sector_of(uri))
        .collect();
    let named: Vec<&String> = all.iter().filter(|s| !is_loopback(s)).collect();
    let mut sectors = if named.is_empty() {
        all.iter().collect()
    } else {
        named
    }
    .into_iter()
    .cloned();
    let first = sectors.next().unwrap_or_default();
    if subject_type == SubjectType::Pairwise && sectors.any(|s| s != first) {
        return Err(RegistrationError::MixedSectors);
    }
    Ok(first)
}

fn scope_error() -> RegistrationError {
    RegistrationError::Scope {
        supported: scope::SUPPORTED.join(" "),
    }
}

/// What a client's registered keys are for.
#[derive(Debug, Default)]
struct Keys {
    /// It registered keys, inline or at a `jwks_uri`.
    any: bool,
    /// At a `jwks_uri`, whose keys are known only when fetched.
    uri: bool,
    /// Some may sign (`private_key_jwt`): an inline key not marked `use: enc`, or any
    /// key at a `jwks_uri`.
    sign: bool,
    /// The inline keys marked `use: enc`.
    inline_encryption: Option<Vec<client_keys::EncryptionKey>>,
}

/// Checks the keys a client registered, inline or by URL.
fn client_keys(jwks: Option<&str>, jwks_uri: Option<&str>) -> Result<Keys, RegistrationError> {
    match (jwks, jwks_uri) {
        (None, None) => Ok(Keys::default()),
        (Some(_), Some(_)) => Err(RegistrationError::KeysTwice),
        (Some(document), None) => {
            let parsed = client_keys::parse_client_jwks(document.as_bytes())
                .map_err(|e| RegistrationError::Jwks(e.to_string()))?;
            Ok(Keys {
                any: true,
                uri: false,
                sign: !parsed.signing.keys.is_empty(),
                inline_encryption: Some(parsed.encryption),
            })
        }
        (None, Some(uri)) => {
            let web = uri.starts_with("https://") || uri.starts_with("http://");
            if !web || validate_redirect_uri(uri).is_err() {
                return Err(RegistrationError::JwksUri);
            }
            Ok(Keys {
                any: true,
                uri: true,
                sign: true,
                inline_encryption: None,
            })
        }
    }
}

fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
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
            ..NewClient::default()
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

    #[test]
    fn the_authentication_method_is_the_one_asked_for_only_if_it_fits_the_client() {
        let method = |new: NewClient| register(new).map(|(client, _)| client.auth_method);
        assert_eq!(
            method(portal()),
            Ok(TokenEndpointAuthMethod::ClientSecretBasic)
        );
        let post = NewClient {
            token_endpoint_auth_method: Some("client_secret_post".into()),
            ..portal()
        };
        let (client, secret) = register(post).unwrap();
        assert_eq!(
            client.auth_method,
            TokenEndpointAuthMethod::ClientSecretPost
        );
        assert!(secret.is_some(), "a secret for client_secret_post");

        let jwks = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"a",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
        let with_keys = || NewClient {
            jwks: Some(jwks.into()),
            ..portal()
        };
        assert_eq!(
            method(with_keys()),
            Ok(TokenEndpointAuthMethod::PrivateKeyJwt)
        );
        for (new, case) in [
            (
                NewClient {
                    token_endpoint_auth_method: Some("client_secret_basic".into()),
                    ..with_keys()
                },
                "a secret method with keys",
            ),
            (
                NewClient {
                    token_endpoint_auth_method: Some("private_key_jwt".into()),
                    ..portal()
                },
                "private_key_jwt without keys",
            ),
            (
                NewClient {
                    token_endpoint_auth_method: Some("none".into()),
                    ..portal()
                },
                "none for a confidential client",
            ),
            (
                NewClient {
                    token_endpoint_auth_method: Some("client_secret_jwt".into()),
                    ..portal()
                },
                "an unsupported method",
            ),
            (
                NewClient {
                    kind: ClientKind::Public,
                    token_endpoint_auth_method: Some("client_secret_post".into()),
                    ..portal()
                },
                "a secret method for a public client",
            ),
        ] {
            assert_eq!(method(new), Err(RegistrationError::AuthMethod), "{case}");
        }

        let es256 = NewClient {
            token_endpoint_auth_signing_alg: Some("ES256".into()),
            ..with_keys()
        };
        let (client, _) = register(es256).unwrap();
        assert_eq!(
            client.token_endpoint_auth_signing_alg,
            Some(jsonwebtoken::Algorithm::ES256)
        );
        for (alg, new) in [
            ("HS256", with_keys()),
            ("none", with_keys()),
            ("es256", with_keys()),
            ("ES256", portal()),
        ] {
            let new = NewClient {
                token_endpoint_auth_signing_alg: Some(alg.into()),
                ..new
            };
            assert!(
                matches!(register(new), Err(RegistrationError::SigningAlg { .. })),
                "{alg}"
            );
        }
    }

    #[test]
    fn new_clients_accept_only_the_issuer_as_audience_and_an_update_keeps_the_policy() {
        let (client, _) = register(portal()).unwrap();
        assert_eq!(client.assertion_audience, AssertionAudience::Issuer);
        let legacy = Client {
            assertion_audience: AssertionAudience::Oidc,
            auth_method: TokenEndpointAuthMethod::ClientSecretPost,
            ..client
        };
        let (again, _) = register(NewClient::from(&legacy)).unwrap();
        assert_eq!(again.assertion_audience, AssertionAudience::Oidc);
        assert_eq!(again.auth_method, TokenEndpointAuthMethod::ClientSecretPost);
    }

    #[test]
    fn encryption_needs_an_inline_key_that_fits_and_leaves_the_secret_to_authenticate() {
        const EC: &str = r#""kty":"EC","crv":"P-256",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0""#;
        let encrypting = |keys: String, alg: &str| NewClient {
            jwks: Some(keys),
            security: SecurityMetadata {
                id_token_encrypted_response_alg: Some(alg.into()),
                ..SecurityMetadata::default()
            },
            ..portal()
        };
        let enc_key = format!(r#"{{"keys":[{{{EC},"kid":"e","use":"enc"}}]}}"#);
        let (client, secret) = register(encrypting(enc_key.clone(), "ECDH-ES+A256KW")).unwrap();
        assert_eq!(
            client.auth_method,
            TokenEndpointAuthMethod::ClientSecretBasic
        );
        assert!(
            secret.is_some(),
            "keys for encryption alone do not authenticate"
        );

        let sig_key = format!(r#"{{"keys":[{{{EC},"kid":"s","use":"sig"}}]}}"#);
        let declared_other = format!(r#"{{"keys":[{{{EC},"use":"enc","alg":"RSA-OAEP-256"}}]}}"#);
        for (keys, alg, case) in [
            (
                enc_key.clone(),
                "RSA-OAEP-256",
                "an EC key for RSA-OAEP-256",
            ),
            (sig_key.clone(), "ECDH-ES+A256KW", "a signing key"),
            (
                declared_other,
                "ECDH-ES+A256KW",
                "a key declared for another alg",
            ),
        ] {
            assert_eq!(
                register(encrypting(keys, alg)).unwrap_err(),
                RegistrationError::EncryptionKey(
                    crate::domain::client_security::KeyManagementAlg::parse(alg)
                        .unwrap()
                        .as_str()
                ),
                "{case}"
            );
        }
        // A point off the curve is refused here, not at the first token.
        let off_curve = r#"{"keys":[{"kty":"EC","crv":"P-256","use":"enc",
            "x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE",
            "y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}]}"#
            .to_owned();
        assert!(matches!(
            register(encrypting(off_curve, "ECDH-ES+A256KW")),
            Err(RegistrationError::EncryptionKey(_))
        ));
        // A client with a signing key signs; one with a jwks_uri that asks for a
        // secret keeps it only when its keys are there for encryption.
        let (client, _) = register(NewClient {
            jwks: Some(format!(
                r#"{{"keys":[{{{EC},"kid":"s"}},{{{EC},"kid":"e","use":"enc"}}]}}"#
            )),
            ..encrypting(String::new(), "ECDH-ES+A256KW")
        })
        .unwrap();
        assert_eq!(client.auth_method, TokenEndpointAuthMethod::PrivateKeyJwt);
        let by_uri = |security: SecurityMetadata| NewClient {
            jwks_uri: Some("https://thue.gov.vn/jwks.json".into()),
            token_endpoint_auth_method: Some("client_secret_post".into()),
            security,
            ..portal()
        };
        let encrypts = SecurityMetadata {
            userinfo_encrypted_response_alg: Some("RSA-OAEP-256".into()),
            ..SecurityMetadata::default()
        };
        assert_eq!(
            register(by_uri(encrypts)).map(|(c, _)| c.auth_method),
            Ok(TokenEndpointAuthMethod::ClientSecretPost)
        );
        assert_eq!(
            register(by_uri(SecurityMetadata::default())).unwrap_err(),
            RegistrationError::AuthMethod
        );
    }
}
