//! Fixtures shared by the fuzz targets: the registered clients, the client key set and
//! its one private key, and a fixed "now". Kept here so that every target sees the same
//! world, and the seeds in `fuzz/seeds/` can be written against it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use citizen_idp::domain::client::{
    AssertionAudience, Client, ClientKind, GrantType, SubjectType, TokenEndpointAuthMethod,
};
use citizen_idp::domain::scope::ScopeSet;
use ring::signature::{Ed25519KeyPair, KeyPair};

/// 2027-01-15T08:00:00Z, the clock of every target.
pub const NOW: i64 = 1_800_000_000;
pub const ISSUER: &str = "https://id.gov.vn";
pub const TOKEN_ENDPOINT: &str = "https://id.gov.vn/token";
/// The client that registered [`client_jwks`].
pub const KEY_CLIENT: &str = "tax-portal";
/// The `kid` of the one key whose private half the targets hold.
pub const ED_KID: &str = "ed";

fn scopes(list: &str) -> ScopeSet {
    ScopeSet::parse(list).unwrap_or_default()
}

fn client(id: &str, kind: ClientKind, redirect_uris: &[&str]) -> Client {
    Client {
        id: id.to_owned(),
        name: id.to_owned(),
        kind,
        secret_hash: None,
        redirect_uris: redirect_uris.iter().map(|u| (*u).to_owned()).collect(),
        scopes: scopes("openid profile address national_id offline_access"),
        id_token_alg: citizen_idp::domain::signing_alg::SigningAlg::Rs256,
        auth_method: match kind {
            ClientKind::Public => TokenEndpointAuthMethod::None,
            ClientKind::Confidential => TokenEndpointAuthMethod::ClientSecretBasic,
        },
        access_token_ttl_secs: None,
        post_logout_redirect_uris: Vec::new(),
        backchannel_logout_uri: None,
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        subject_type: SubjectType::Pairwise,
        sector_identifier: "portal.gov.vn".to_owned(),
        jwks: None,
        jwks_uri: None,
        token_endpoint_auth_signing_alg: None,
        assertion_audience: AssertionAudience::Issuer,
        first_party: false,
        security: Default::default(),
    }
}

/// [`KEY_CLIENT`], registered with [`client_jwks`] and the audience policy `audience`.
pub fn key_client(audience: AssertionAudience) -> Client {
    let mut key_client = client(KEY_CLIENT, ClientKind::Confidential, &[]);
    key_client.auth_method = TokenEndpointAuthMethod::PrivateKeyJwt;
    key_client.grant_types = vec![GrantType::ClientCredentials];
    key_client.jwks = Some(client_jwks());
    key_client.assertion_audience = audience;
    key_client
}

/// The registered clients: a confidential portal with an https redirect URI (and a
/// narrower set of scopes), and a public native app with a private-use scheme and
/// both loopback forms (RFC 8252).
pub fn clients() -> Vec<Client> {
    let mut portal = client(
        "portal",
        ClientKind::Confidential,
        &["https://portal.gov.vn/cb", "https://portal.gov.vn/cb?tab=1"],
    );
    portal.scopes = scopes("openid profile");
    let app = client(
        "app",
        ClientKind::Public,
        &[
            "vn.gov.app:/callback",
            "http://127.0.0.1/callback",
            "http://[::1]:8080/cb",
        ],
    );
    vec![portal, app]
}

/// The private key of [`ED_KID`]: fixed, so that the seeds stay valid.
pub fn ed_key() -> Option<Ed25519KeyPair> {
    Ed25519KeyPair::from_seed_unchecked(&[7; 32]).ok()
}

/// The public half of [`ed_key`], as a JWK's `x`.
pub fn ed_public_x() -> String {
    ed_key()
        .map(|k| URL_SAFE_NO_PAD.encode(k.public_key().as_ref()))
        .unwrap_or_default()
}

/// The JWK Set that [`KEY_CLIENT`] registered: the Ed25519 key the targets can sign
/// with, plus an RSA and an EC key (public halves only) so that key selection has
/// several families and `kid`s to choose from.
pub fn client_jwks() -> String {
    format!(
        r#"{{"keys":[
{{"kty":"OKP","crv":"Ed25519","kid":"{ED_KID}","x":"{}"}},
{{"kty":"RSA","kid":"rsa","alg":"RS256","e":"AQAB","n":"uEgjtVWxcMQtI_jqst2b07X_hJLZhti-WS5tRKNnr6vWfzIyEmgMvH9gbmlKMRMwsyO4OFEhPKs2eA5JpVd4J5Cpnk6Scy8l6VH4m557SD1Hj2ZzrioAgGkSm0_t6CV7Un9xwc-RgBrbmicuDQldoR6BRd-8WWpNX-WPtC6QRECaNULMsx_U2NwxleS8hIKJzh-ZVG1APScSWIsFnAGC6iJyHq9Xkm5vdy5igDm6xmlqS8tl4ty5mQtnMCWwVQMhGaIojapbEhwQqaYsR6qacGzut65Yrg8-YJWqckolbRYDmsKxGCdxKz5AcCpjwN6YWeDNEtrfI-QGHxCimUmA5Q"}},
{{"kty":"EC","crv":"P-256","kid":"ec","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}
]}}"#,
        ed_public_x()
    )
}

/// A compact JWS of `header` and `claims` (taken as bytes, not re-serialised, so that
/// fuzzed JSON reaches the parser as it is), signed with [`ed_key`].
pub fn sign_ed(header: &[u8], claims: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = ed_key()
        .map(|k| URL_SAFE_NO_PAD.encode(k.sign(signing_input.as_bytes()).as_ref()))
        .unwrap_or_default();
    format!("{signing_input}.{signature}")
}

/// Splits `data` at its first `sep` byte.
pub fn split(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}
