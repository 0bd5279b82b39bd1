//! Relying parties (OAuth clients) and the rules for their redirect URIs.

use serde::{Deserialize, Serialize};
use url::Url;

use super::client_security::{ClientSecurity, FAPI2_ALGS, Profile};
use super::scope::ScopeSet;
use super::signing_alg::SigningAlg;

/// The longest access-token lifetime a client may have; signing keys stay published at
/// least this long after they retire.
pub const MAX_ACCESS_TOKEN_TTL_SECS: u32 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// Runs on a device the citizen holds (mobile app, SPA): cannot keep a secret.
    Public,
    /// Runs on a server (a public-service portal): authenticates with a secret.
    Confidential,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Public => "public",
            ClientKind::Confidential => "confidential",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(ClientKind::Public),
            "confidential" => Some(ClientKind::Confidential),
            _ => None,
        }
    }
}

/// How a client authenticates at the token endpoint (OIDC Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEndpointAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// A JWT signed with the client's own private key (RFC 7523, OIDC Core §9).
    PrivateKeyJwt,
    None,
}

impl TokenEndpointAuthMethod {
    pub const SUPPORTED: [&'static str; 4] = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
            TokenEndpointAuthMethod::PrivateKeyJwt => "private_key_jwt",
            TokenEndpointAuthMethod::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client_secret_basic" => Some(TokenEndpointAuthMethod::ClientSecretBasic),
            "client_secret_post" => Some(TokenEndpointAuthMethod::ClientSecretPost),
            "private_key_jwt" => Some(TokenEndpointAuthMethod::PrivateKeyJwt),
            "none" => Some(TokenEndpointAuthMethod::None),
            _ => None,
        }
    }
}

/// Which `aud` a client assertion (RFC 7523 §3) may carry.
///
/// The issuer identifier as one string names this server and nothing else. The token
/// endpoint URL, or an array of audiences, is what OIDC Core §9 allowed; an assertion
/// made for another server's endpoint (or listing several) could then be replayed here
/// (the 2025 audience injection advisory; the draft update of RFC 7523 requires the
/// issuer alone). Clients registered before keep `Oidc` until their operator changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAudience {
    /// Only the issuer identifier, as a single string.
    Issuer,
    /// The issuer or the token endpoint URL, as a string or within an array.
    Oidc,
}

impl AssertionAudience {
    pub const SUPPORTED: [&'static str; 2] = ["issuer", "oidc"];

    pub fn as_str(self) -> &'static str {
        match self {
            AssertionAudience::Issuer => "issuer",
            AssertionAudience::Oidc => "oidc",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "issuer" => Some(AssertionAudience::Issuer),
            "oidc" => Some(AssertionAudience::Oidc),
            _ => None,
        }
    }
}

/// A registered relying party.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub kind: ClientKind,
    /// SHA-256 of the secret, for confidential clients.
    pub secret_hash: Option<Vec<u8>>,
    pub redirect_uris: Vec<String>,
    /// The scopes this client may request.
    pub scopes: ScopeSet,
    /// `RS256` (the OIDC default) or `ES256`.
    pub id_token_alg: SigningAlg,
    pub auth_method: TokenEndpointAuthMethod,
    /// This client's access-token lifetime, when it differs from the default.
    pub access_token_ttl_secs: Option<u32>,
    /// Where RP-initiated logout may send the browser back to (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// Where back-channel logout tokens are POSTed (OIDC Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    pub grant_types: Vec<GrantType>,
    pub subject_type: SubjectType,
    /// The host that pairwise subjects are computed for (OIDC Core §8.1).
    pub sector_identifier: String,
    /// The client's public keys (a JWK Set document) for `private_key_jwt`, registered
    /// inline...
    pub jwks: Option<String>,
    /// ...or published by the client at this URL.
    pub jwks_uri: Option<String>,
    /// The one algorithm its assertions may use (RFC 7591 `token_endpoint_auth_signing_alg`),
    /// when registered; otherwise any of `client_keys::ASSERTION_ALGS` that fits the key.
    pub token_endpoint_auth_signing_alg: Option<jsonwebtoken::Algorithm>,
    pub assertion_audience: AssertionAudience,
    /// Marked by an operator as one of the state's own services: its citizens are not
    /// asked for consent.
    pub first_party: bool,
    /// The profile and the parts of it the client registered (PAR, DPoP, encryption).
    pub security: ClientSecurity,
}

/// The grants a client may use at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    /// A back-office system calling APIs as itself, with no citizen (RFC 6749 §4.4).
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [GrantType; 3] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// How the `sub` a client sees is derived (OIDC Core §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectType {
    /// The same identifier for every client.
    Public,
    /// A different identifier per sector, so that services cannot link citizens by `sub`.
    Pairwise,
}

impl SubjectType {
    pub const SUPPORTED: [&'static str; 2] = ["pairwise", "public"];

    pub fn as_str(self) -> &'static str {
        match self {
            SubjectType::Public => "public",
            SubjectType::Pairwise => "pairwise",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(SubjectType::Public),
            "pairwise" => Some(SubjectType::Pairwise),
            _ => None,
        }
    }
}

impl Client {
    /// The rules this client follows: its own profile, or the server's when stricter.
    pub fn profile(&self, server: Profile) -> Profile {
        self.security.profile.max(server)
    }

    /// Whether its authorization requests must come through `/par`, the server-wide
    /// requirement aside.
    pub fn requires_par(&self, server: Profile) -> bool {
        self.security.require_pushed_authorization_requests
            || self.profile(server) == Profile::Fapi2
    }

    /// Whether its access tokens must be DPoP-bound (FAPI 2.0 §5.3.2.2 binds them all).
    pub fn requires_dpop(&self, server: Profile) -> bool {
        self.security.dpop_bound_access_tokens || self.profile(server) == Profile::Fapi2
    }

    /// Whether the client may sign with `alg` (an assertion, a request object, a DPoP
    /// proof): any algorithm its registration allows, and under FAPI 2.0 (§5.4.1) only
    /// PS256, ES256 or EdDSA.
    pub fn admits_signature(&self, server: Profile, alg: jsonwebtoken::Algorithm) -> bool {
        self.profile(server) != Profile::Fapi2 || FAPI2_ALGS.contains(&alg)
    }

    /// What FAPI 2.0 asks of a client's registration (Security Profile §5.3.2.1,
    /// §5.4.1): confidential, `private_key_jwt` with the issuer as the only audience, and
    /// PS256, ES256 or EdDSA wherever it or we sign. PAR, PKCE and DPoP follow from the
    /// profile itself. Checked at registration for the client's own profile, and at
    /// authentication when the server's profile imposes it on a client registered before.
    pub fn fits_fapi2(&self) -> Result<(), &'static str> {
        if self.kind != ClientKind::Confidential
            || self.auth_method != TokenEndpointAuthMethod::PrivateKeyJwt
        {
            return Err("needs a confidential client with keys (private_key_jwt)");
        }
        if self.assertion_audience != AssertionAudience::Issuer {
            return Err("accepts only the issuer as an assertion's audience");
        }
        // Of the algorithms we sign with, ES256 is the one FAPI 2.0 admits. A client with
        // no citizen logins (client_credentials) gets no ID token to sign.
        let signs_fapi = |alg: SigningAlg| alg == SigningAlg::Es256;
        let logs_citizens_in = self.allows_grant(GrantType::AuthorizationCode);
        if (logs_citizens_in && !signs_fapi(self.id_token_alg))
            || !self
                .security
                .userinfo_signed_response_alg
                .is_none_or(signs_fapi)
        {
            return Err("signs ID tokens and userinfo with ES256");
        }
        let fapi_alg =
            |alg: Option<jsonwebtoken::Algorithm>| alg.is_none_or(|a| FAPI2_ALGS.contains(&a));
        if !fapi_alg(self.token_endpoint_auth_signing_alg)
            || !fapi_alg(self.security.request_object_signing_alg)
        {
            return Err("admits only PS256, ES256 or EdDSA for assertions and request objects");
        }
        Ok(())
    }

    /// Finds the registered redirect URI that `requested` designates.
    ///
    /// Matching is exact, byte for byte, with one exception required by RFC 8252 §7.3:
    /// a loopback IP redirect URI (`http://127.0.0.1/...` or `http://[::1]/...`) matches
    /// the same URI on any port, because native apps bind an ephemeral port.
    pub fn find_redirect_uri(&self, requested: &str) -> Option<&str> {
        self.redirect_uris
            .iter()
            .find(|registered| {
                registered.as_str() == requested || loopback_matches(registered, requested)
            })
            .map(String::as_str)
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Exact match only: logout redirects carry no code, so nothing justifies the
    /// loopback exception here.
    pub fn has_post_logout_redirect_uri(&self, requested: &str) -> bool {
        self.post_logout_redirect_uris
            .iter()
            .any(|registered| registered == requested)
    }
}

const LOOPBACK_ORIGINS: [&str; 2] = ["http://127.0.0.1", "http://[::1]"];

fn loopback_matches(registered: &str, requested: &str) -> bool {
    LOOPBACK_ORIGINS.iter().any(|origin| {
        let (Some(registered_rest), Some(requested_rest)) = (
            registered.strip_prefix(origin),
            requested.strip_prefix(origin),
        ) else {
            return false;
        };
        matches!(
            (strip_port(registered_rest), strip_port(requested_rest)),
            (Some(a), Some(b)) if a == b
        )
    })
}

/// Removes a leading `:port` (a TCP port: digits, at most 65535), leaving the path,
/// query and so on.
fn strip_port(rest: &str) -> Option<&str> {
    match rest.strip_prefix(':') {
        None if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') => Some(rest),
        None => None,
        Some(after_colon) => {
            let digits = after_colon.bytes().take_while(u8::is_ascii_digit).count();
            // A larger number is no port: the redirect would be to a URL that does not
            // parse, which the error redirect then cannot build properly either.
            if digits == 0 || digits > 5 || after_colon[..digits].parse::<u16>().is_err() {
                return None;
            }
            let rest = &after_colon[digits..];
            (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')).then_some(rest)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("not an absolute URI: {0}")]
    NotAbsolute(String),
    #[error("must not contain a fragment (RFC 6749 §3.1.2)")]
    Fragment,
    #[error("plain http is only allowed for loopback addresses (RFC 8252 §7.3)")]
    InsecureHttp,
    #[error(
        "a private-use scheme must be a reverse domain name such as vn.gov.app (RFC 8252 §7.1)"
    )]
    PrivateUseScheme,
}

/// The sector of a redirect URI (OIDC Core §8.1): its host, or for a native app's
/// private-use scheme (which has no host), the scheme itself.
pub fn sector_of(uri: &str) -> Option<String> {
    let parsed = Url::parse(uri).ok()?;
    match parsed.host_str() {
        Some(host) => Some(host.to_ascii_lowercase()),
        None => Some(parsed.scheme().to_ascii_lowercase()),
    }
}

/// Checks a redirect URI at registration time.
pub fn validate_redirect_uri(uri: &str) -> Result<(), RedirectUriError> {
    let parsed = Url::parse(uri).map_err(|e| RedirectUriError::NotAbsolute(e.to_string()))?;
    if parsed.fragment().is_some() || uri.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => match parsed.host_str() {
            Some("127.0.0.1" | "[::1]" | "localhost") => Ok(()),
            _ => Err(RedirectUriError::InsecureHttp),
        },
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(RedirectUriError::PrivateUseScheme),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uris: &[&str]) -> Client {
        Client {
            id: "c".into(),
            name: "c".into(),
            kind: ClientKind::Public,
            secret_hash: None,
            redirect_uris: uris.iter().map(|u| u.to_string()).collect(),
            scopes: ScopeSet::default(),
            id_token_alg: SigningAlg::Rs256,
            auth_method: TokenEndpointAuthMethod::None,
            access_token_ttl_secs: None,
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            grant_types: vec![GrantType::AuthorizationCode],
            subject_type: SubjectType::Public,
            sector_identifier: "portal.gov.vn".into(),
            jwks: None,
            jwks_uri: None,
            token_endpoint_auth_signing_alg: None,
            assertion_audience: AssertionAudience::Issuer,
            first_party: false,
            security: ClientSecurity::default(),
        }
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let c = client(&["https://portal.gov.vn/cb", "vn.gov.portal.app:/callback"]);
        assert!(c.find_redirect_uri("https://portal.gov.vn/cb").is_some());
        assert!(c.find_redirect_uri("vn.gov.portal.app:/callback").is_some());
        assert!(c.find_redirect_uri("https://portal.gov.vn/cb/").is_none());
        assert!(
            c.find_redirect_uri("https://portal.gov.vn/cb?x=1")
                .is_none()
        );
        assert!(c.find_redirect_uri("https://PORTAL.gov.vn/cb").is_none());
        assert!(
            c.find_redirect_uri("https://portal.gov.vn:443/cb")
                .is_none()
        );
    }

    #[test]
    fn loopback_redirect_uris_match_on_any_port_and_nothing_else() {
        let c = client(&["http://127.0.0.1/callback", "http://[::1]/cb"]);
        assert!(c.find_redirect_uri("http://127.0.0.1/callback").is_some());
        assert!(
            c.find_redirect_uri("http://127.0.0.1:51234/callback")
                .is_some()
        );
        assert!(c.find_redirect_uri("http://[::1]:8000/cb").is_some());
        assert!(
            c.find_redirect_uri("http://127.0.0.1:51234/callback2")
                .is_none()
        );
        assert!(
            c.find_redirect_uri("http://127.0.0.1:51234/other")
                .is_none()
        );
        assert!(c.find_redirect_uri("http://127.0.0.1:x/callback").is_none());
        assert!(
            c.find_redirect_uri("http://127.0.0.1:65535/callback")
                .is_some()
        );
        // Found by fuzzing (fuzz/regressions/authorize_request): not a port.
        assert!(
            c.find_redirect_uri("http://127.0.0.1:65536/callback")
                .is_none()
        );
        assert!(c.find_redirect_uri("http://[::1]:98304/cb").is_none());
        assert!(
            c.find_redirect_uri("http://127.0.0.1.evil.com/callback")
                .is_none()
        );
        assert!(
            c.find_redirect_uri("http://127.0.0.1@evil.com/callback")
                .is_none()
        );
        assert!(
            c.find_redirect_uri("http://localhost:5000/callback")
                .is_none()
        );
        assert!(
            c.find_redirect_uri("https://127.0.0.1:5000/callback")
                .is_none()
        );
    }

    #[test]
    fn registration_rejects_fragments_and_plain_http() {
        assert!(validate_redirect_uri("https://a.gov.vn/cb").is_ok());
        assert!(validate_redirect_uri("vn.gov.portal.app:/callback").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1/callback").is_ok());
        assert_eq!(
            validate_redirect_uri("https://a.gov.vn/cb#x"),
            Err(RedirectUriError::Fragment)
        );
        assert_eq!(
            validate_redirect_uri("http://a.gov.vn/cb"),
            Err(RedirectUriError::InsecureHttp)
        );
        assert_eq!(
            validate_redirect_uri("myapp:/cb"),
            Err(RedirectUriError::PrivateUseScheme)
        );
    }
}
