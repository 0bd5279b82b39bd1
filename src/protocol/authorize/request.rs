//! Parsing and checking an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1),
//! as a fixed, ordered list of small checks.
//!
//! The client and its redirect URI come first: until both are trusted, every error is
//! an HTML page, because redirecting to an unverified URI would make citizen-idp an
//! open redirector. After that, errors go back to the client's redirect URI.

use serde::{Deserialize, Serialize};

use crate::domain::acr::{AcrDemand, AssuranceLevel};
use crate::domain::client::{Client, ClientKind};
use crate::domain::client_security::Profile;
use crate::domain::parameter;
use crate::domain::scope::ScopeSet;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::tokens::id_token::IdTokenClaims;
use crate::tokens::jwt;
use crate::tokens::key_set::KeySet;
use crate::tokens::pkce;

use super::Refused;
use super::grant::ResponseMode;

/// Parameters as received, not yet checked. Repeated parameters are kept so that they
/// can be refused (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub struct AuthorizeParams {
    pairs: Vec<(String, String)>,
}

// Bounds on untrusted values, generous for any honest client.
const MAX_PARAM_LEN: usize = 2048;
const MAX_PARAMS: usize = 40;
/// The values a flow keeps in the store for its whole life, or echoes back: short, so
/// that pending flows stay small however many an attacker starts.
const MAX_SHORT_PARAM_LEN: usize = 512;
const SHORT_PARAMS: [&str; 5] = ["state", "nonce", "ui_locales", "login_hint", "acr_values"];
/// A request object by value: a few hundred bytes of claims, signed (an RSA-4096
/// signature alone is 683 characters).
const MAX_REQUEST_OBJECT_LEN: usize = 6144;

impl AuthorizeParams {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        AuthorizeParams { pairs }
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The single value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    fn single(&self, name: &'static str) -> Result<Option<&str>, &'static str> {
        let mut values = self.all(name).filter(|v| !v.is_empty());
        let first = values.next();
        if values.next().is_some() {
            return Err(name);
        }
        match first {
            Some(v) if v.len() > MAX_PARAM_LEN => Err(name),
            other => Ok(other),
        }
    }

    /// The request object sent by value (`request`, RFC 9101 §2.1). A signed object
    /// is longer than any other parameter, so it has a bound of its own; the URI's
    /// (`limits.max_uri_bytes`) and the body's still hold.
    pub fn request_object(&self) -> Result<Option<&str>, &'static str> {
        let mut values = self.all("request").filter(|v| !v.is_empty());
        let first = values.next();
        if values.next().is_some() || first.is_some_and(|v| v.len() > MAX_REQUEST_OBJECT_LEN) {
            return Err("request");
        }
        Ok(first)
    }

    /// The `request_uri` (RFC 9126 §4, RFC 9101 §2.2), once.
    pub fn request_uri(&self) -> Result<Option<&str>, &'static str> {
        self.single("request_uri")
    }

    /// `state` when it can be echoed back: short, and free of control characters.
    fn usable_state(&self) -> Option<String> {
        self.single("state")
            .ok()
            .flatten()
            .filter(|state| state.len() <= MAX_SHORT_PARAM_LEN && !parameter::holds_control(state))
            .map(str::to_owned)
    }

    /// The response mode errors go back in, once it is one we know (else the default).
    fn usable_response_mode(&self) -> ResponseMode {
        self.single("response_mode")
            .ok()
            .flatten()
            .and_then(ResponseMode::parse)
            .unwrap_or_default()
    }
}

/// A checked authorization request. It is stored while the citizen logs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uri: String,
    pub scope: ScopeSet,
    pub state: Option<String>,
    /// How the code or the error goes back to the client.
    #[serde(default)]
    pub response_mode: ResponseMode,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub ui_locales: Option<String>,
    /// Set when the login is for one of citizen-idp's own pages (`/account`), not for
    /// a client: the flow then ends by returning there, with no code and no consent.
    #[serde(default)]
    pub own_page: Option<String>,
    /// The assurance level the client demands (`acr_values` or an essential `acr`
    /// claim); see [`check_acr`].
    #[serde(default)]
    pub acr: Option<AcrDemand>,
    /// `prompt=consent`: ask for consent even when a grant covers the scopes.
    #[serde(default)]
    pub prompt_consent: bool,
    /// `id_token_hint` as received; verified by the endpoint with
    /// [`verify_id_token_hint`], never stored.
    #[serde(skip)]
    pub id_token_hint: Option<String>,
    /// The subject of the verified `id_token_hint`: only that citizen may log in.
    #[serde(default)]
    pub hint_subject: Option<String>,
    /// `dpop_jkt` (RFC 9449 §10): the thumbprint of the DPoP key the code is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

/// OIDC Core §3.1.2.1 `prompt`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Prompt {
    #[default]
    Default,
    /// Never show a page; fail with `login_required` instead.
    None,
    /// Always ask for the password again.
    Login,
}

/// Where an error must go.
#[derive(Debug)]
pub enum AuthorizeError {
    /// Client or redirect URI not trusted: show a page.
    Page(Refused),
    /// Send the error to the client's registered redirect URI.
    Redirect {
        redirect_uri: String,
        response_mode: ResponseMode,
        state: Option<String>,
        error: OAuthError,
    },
}

/// Step 1: the client, looked up by the caller with the id this returns.
pub fn client_id(params: &AuthorizeParams) -> Result<String, AuthorizeError> {
    if params.pairs.len() > MAX_PARAMS {
        return Err(AuthorizeError::Page(Refused::BadRequest));
    }
    match params.single("client_id") {
        // No client id holds a control character: such an id names no client, and is
        // never looked up (PostgreSQL refuses a NUL in a query).
        Ok(Some(id)) if !parameter::holds_control(id) => Ok(id.to_owned()),
        Ok(_) | Err(_) => Err(AuthorizeError::Page(Refused::UnknownClient)),
    }
}

/// Steps 2 onwards, once the client is known.
pub fn check(
    params: &AuthorizeParams,
    client: &Client,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let redirect_uri = check_redirect_uri(params, client)?;
    // From here on, errors can be redirected. `state` is echoed back when it is usable.
    let state = params.usable_state();
    // Errors go back in the mode asked for, once it is one we know; any other value is
    // itself an error, answered in the default mode (query).
    let response_mode = params.usable_response_mode();
    let fail = |code: ErrorCode, description: &'static str| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        response_mode,
        state: state.clone(),
        error: OAuthError::new(code, description),
    };
    let single = |name: &'static str| {
        params.single(name).map_err(|_| {
            fail(
                ErrorCode::InvalidRequest,
                "a parameter is repeated or too long",
            )
        })
    };
    single("state")?;
    // Control characters in any parameter (even one we ignore, such as `login_hint`):
    // the request is malformed, and none of it goes further.
    if params
        .pairs
        .iter()
        .any(|(_, value)| parameter::holds_control(value))
    {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "a parameter holds a control character",
        ));
    }
    for name in SHORT_PARAMS {
        if single(name)?.is_some_and(|v| v.len() > MAX_SHORT_PARAM_LEN) {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "state, nonce, ui_locales, login_hint and acr_values are limited to 512 bytes",
            ));
        }
    }

    // RFC 6749 §4.1.1: response_type is required; only the code flow is offered.
    match single("response_type")? {
        None => return Err(fail(ErrorCode::InvalidRequest, "response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if single("response_mode")?.is_some_and(|mode| ResponseMode::parse(mode).is_none()) {
        return Err(AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            response_mode: ResponseMode::Query,
            state: state.clone(),
            error: OAuthError::new(
                ErrorCode::InvalidRequest,
                "response_mode must be query or form_post",
            ),
        });
    }
    // `request` and `request_uri` are resolved before this check (by
    // `super::checked_request` and `super::par`), and the parameters they carry are
    // the ones checked here. One still here was never resolved (it came inside a
    // request object, or this check was called alone): it must not be ignored silently.
    if params.all("request").any(|v| !v.is_empty()) {
        return Err(fail(
            ErrorCode::RequestNotSupported,
            "a request object cannot be used here",
        ));
    }
    if single("request_uri")?.is_some() {
        return Err(fail(
            ErrorCode::RequestUriNotSupported,
            "a request_uri cannot be used here",
        ));
    }

    let scope = check_scope(single("scope")?, client).map_err(|(code, why)| fail(code, why))?;
    let code_challenge = check_pkce(
        single("code_challenge")?,
        single("code_challenge_method")?,
        client,
    )
    .map_err(|why| fail(ErrorCode::InvalidRequest, why))?;
    let prompt =
        check_prompt(single("prompt")?).map_err(|why| fail(ErrorCode::InvalidRequest, why))?;
    let prompt_consent = single("prompt")?.is_some_and(|p| p.split(' ').any(|v| v == "consent"));
    let max_age = match single("max_age")? {
        None => None,
        Some(raw) => Some(raw.parse::<u32>().map(i64::from).map_err(|_| {
            fail(
                ErrorCode::InvalidRequest,
                "max_age must be a non-negative integer",
            )
        })?),
    };

    let acr = check_acr(single("acr_values")?, single("claims")?)
        .map_err(|(code, why)| fail(code, why))?;
    let dpop_jkt =
        check_dpop_jkt(single("dpop_jkt")?).map_err(|why| fail(ErrorCode::InvalidRequest, why))?;

    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        client_name: client.name.clone(),
        redirect_uri: redirect_uri.clone(),
        scope,
        state: state.clone(),
        response_mode,
        nonce: single("nonce")?.map(str::to_owned),
        code_challenge,
        prompt,
        max_age,
        ui_locales: single("ui_locales")?.map(str::to_owned),
        own_page: None,
        acr,
        prompt_consent,
        id_token_hint: single("id_token_hint")?.map(str::to_owned),
        hint_subject: None,
        dpop_jkt,
    })
}

/// RFC 9449 §10: `dpop_jkt` is a JWK SHA-256 thumbprint (RFC 7638), 43 base64url
/// characters.
fn check_dpop_jkt(raw: Option<&str>) -> Result<Option<String>, &'static str> {
    match raw {
        None => Ok(None),
        Some(jkt)
            if jkt.len() == 43
                && jkt
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(Some(jkt.to_owned()))
        }
        Some(_) => Err("dpop_jkt must be a JWK SHA-256 thumbprint"),
    }
}

/// What the profile the client follows adds to a request already checked: under FAPI 2.0
/// (Security Profile §5.3.2.2), PKCE with S256 for every client, confidential ones too,
/// and a client whose registration meets the profile (the server's profile may impose it
/// on clients registered before). PAR and DPoP are checked where they arrive.
pub fn check_profile(
    request: &AuthorizationRequest,
    client: &Client,
    server: Profile,
) -> Result<(), OAuthError> {
    if client.profile(server) != Profile::Fapi2 {
        return Ok(());
    }
    client.fits_fapi2().map_err(|_| {
        OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client's registration does not meet the FAPI 2.0 profile",
        )
    })?;
    if request.code_challenge.is_none() {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "FAPI 2.0 requires PKCE (code_challenge with S256)",
        ));
    }
    Ok(())
}

/// OIDC Core §3.1.2.1 `id_token_hint`: an ID token this provider issued to this client.
/// Its signature is checked with our own key named by `kid`, whose algorithm alone is
/// trusted (never the header's `alg`, `jwk`, `jku` or `x5u`); `iss` must be ours and
/// `aud` the client. An expired hint is accepted: it names a citizen, it grants
/// nothing. Returns the subject, which the login must then match.
pub fn verify_id_token_hint(
    keys: &KeySet,
    issuer: &str,
    client_id: &str,
    hint: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    let Some(hint) = hint else {
        return Ok(None);
    };
    let invalid = || {
        OAuthError::new(
            ErrorCode::InvalidRequest,
            "id_token_hint is not an ID token this provider issued to the client",
        )
    };
    let claims = jwt::verify::<IdTokenClaims>(keys, hint, "JWT", issuer).map_err(|_| invalid())?;
    if claims.aud != client_id {
        return Err(invalid());
    }
    Ok(Some(claims.sub))
}

/// `acr_values` (OIDC Core §3.1.2.1) and an essential `acr` claim in `claims`
/// (§5.5.1.1), as one demand: the lowest of our levels named.
///
/// citizen-idp treats both as binding. OIDC Core calls `acr_values` voluntary, but a
/// public service that asks for level 2 must never get level 1 silently: the citizen
/// is asked for the second factor, and an account that cannot reach the level gets
/// `unmet_authentication_requirements` (OpenID Connect Unmet Authentication
/// Requirements 1.0). URNs that are not ours are ignored in `acr_values`; an essential
/// `acr` claim that names none of ours cannot be met. A voluntary `acr` claim is
/// ignored: the ID token's `acr` says what was achieved.
fn check_acr(
    acr_values: Option<&str>,
    claims: Option<&str>,
) -> Result<Option<AcrDemand>, (ErrorCode, &'static str)> {
    let from_values = acr_values.and_then(|raw| lowest_level(raw.split(' ')));
    let from_claims = match claims {
        None => None,
        Some(raw) => essential_acr(raw)?,
    };
    let min_level = match (from_values, from_claims) {
        (None, None) => return Ok(None),
        (a, b) => a.max(b),
    };
    Ok(min_level.map(|min_level| AcrDemand { min_level }))
}

fn lowest_level<'a>(urns: impl Iterator<Item = &'a str>) -> Option<AssuranceLevel> {
    urns.filter_map(AssuranceLevel::from_acr).min()
}

/// The level an essential `acr` claim demands (of the ID token or userinfo); `None`
/// when there is no essential one.
fn essential_acr(raw: &str) -> Result<Option<AssuranceLevel>, (ErrorCode, &'static str)> {
    let malformed = (
        ErrorCode::InvalidRequest,
        "claims is not a valid JSON object",
    );
    let claims: serde_json::Value = serde_json::from_str(raw).map_err(|_| malformed)?;
    let Some(claims) = claims.as_object() else {
        return Err(malformed);
    };
    let mut demand = None;
    for target in ["id_token", "userinfo"] {
        let Some(acr) = claims.get(target).and_then(|t| t.get("acr")) else {
            continue;
        };
        // §5.5.1: a claim is `null` (voluntary, any value) or an object.
        if acr.is_null() {
            continue;
        }
        let Some(acr) = acr.as_object() else {
            return Err(malformed);
        };
        if acr.get("essential").and_then(serde_json::Value::as_bool) != Some(true) {
            continue;
        }
        let mut urns: Vec<&str> = Vec::new();
        if let Some(value) = acr.get("value") {
            urns.push(value.as_str().ok_or(malformed)?);
        }
        if let Some(values) = acr.get("values") {
            for value in values.as_array().ok_or(malformed)? {
                urns.push(value.as_str().ok_or(malformed)?);
            }
        }
        let level = if urns.is_empty() {
            // Essential with no value: any acr will do.
            AssuranceLevel::Level1
        } else {
            lowest_level(urns.into_iter()).ok_or((
                ErrorCode::UnmetAuthenticationRequirements,
                "none of the essential acr values is supported",
            ))?
        };
        demand = demand.max(Some(level));
    }
    Ok(demand)
}

/// An error found before the request itself is read (a request object or a
/// `request_uri` refused, a request that had to be pushed): it goes to the redirect URI
/// the query names when that one is registered for the client, as any later error
/// would, in the query's `state` and response mode. With no such URI nowhere is
/// trusted, and it is a page.
pub fn early_error(params: &AuthorizeParams, client: &Client, error: OAuthError) -> AuthorizeError {
    match check_redirect_uri(params, client) {
        Ok(redirect_uri) => AuthorizeError::Redirect {
            redirect_uri,
            response_mode: params.usable_response_mode(),
            state: params.usable_state(),
            error,
        },
        Err(_) => AuthorizeError::Page(Refused::Request(error)),
    }
}

/// OIDC Core §3.1.2.1: redirect_uri is required and must match a registered URI
/// exactly (RFC 8252 §7.3 loopback ports aside).
fn check_redirect_uri(params: &AuthorizeParams, client: &Client) -> Result<String, AuthorizeError> {
    let requested = params
        .single("redirect_uri")
        .map_err(|_| AuthorizeError::Page(Refused::BadRedirectUri))?
        .filter(|requested| !parameter::holds_control(requested))
        .ok_or(AuthorizeError::Page(Refused::BadRedirectUri))?;
    client
        .find_redirect_uri(requested)
        .map(|_| requested.to_owned())
        .ok_or(AuthorizeError::Page(Refused::BadRedirectUri))
}

fn check_scope(raw: Option<&str>, client: &Client) -> Result<ScopeSet, (ErrorCode, &'static str)> {
    let requested = ScopeSet::parse(raw.unwrap_or(""))
        .map_err(|_| (ErrorCode::InvalidScope, "scope is malformed"))?
        .supported_only();
    if !requested.contains("openid") {
        return Err((ErrorCode::InvalidScope, "the openid scope is required"));
    }
    if !requested.is_subset(&client.scopes) {
        return Err((
            ErrorCode::InvalidScope,
            "the client is not registered for this scope",
        ));
    }
    Ok(requested)
}

/// RFC 7636 with RFC 9700 §2.1.1: public clients must use PKCE, and only S256.
fn check_pkce(
    challenge: Option<&str>,
    method: Option<&str>,
    client: &Client,
) -> Result<Option<String>, &'static str> {
    match (challenge, method) {
        (None, Some(_)) => Err("code_challenge_method without code_challenge"),
        (None, None) if client.kind == ClientKind::Public => {
            Err("public clients must use PKCE (code_challenge with S256)")
        }
        (None, None) => Ok(None),
        // RFC 7636 §4.3 defaults a missing method to `plain`, which is refused.
        (Some(_), None | Some("plain")) => {
            Err("code_challenge_method must be S256; plain is not allowed")
        }
        (Some(_), Some(m)) if m != "S256" => Err("code_challenge_method must be S256"),
        (Some(c), Some(_)) if !pkce::is_valid_s256_challenge(c) => {
            Err("code_challenge is malformed")
        }
        (Some(c), Some(_)) => Ok(Some(c.to_owned())),
    }
}

fn check_prompt(raw: Option<&str>) -> Result<Prompt, &'static str> {
    let Some(raw) = raw else {
        return Ok(Prompt::Default);
    };
    let values: Vec<&str> = raw.split(' ').filter(|v| !v.is_empty()).collect();
    // OIDC Core §3.1.2.1: `none` must not be combined with any other value.
    if values.contains(&"none") {
        return if values.len() == 1 {
            Ok(Prompt::None)
        } else {
            Err("prompt=none cannot be combined with other values")
        };
    }
    let mut prompt = Prompt::Default;
    for value in values {
        match value {
            "login" => prompt = Prompt::Login,
            // Consent is read by `check` (prompt_consent); account selection has no
            // page: the login page serves.
            "consent" | "select_account" => {}
            _ => return Err("unknown prompt value"),
        }
    }
    Ok(prompt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::{GrantType, SubjectType, TokenEndpointAuthMethod};

    /// The public client of the authorization fuzz target (`fuzz/src/lib.rs`).
    fn fuzz_app() -> Client {
        Client {
            id: "app".into(),
            name: "app".into(),
            kind: ClientKind::Public,
            secret_hash: None,
            redirect_uris: vec![
                "vn.gov.app:/callback".into(),
                "http://127.0.0.1/callback".into(),
                "http://[::1]:8080/cb".into(),
            ],
            scopes: ScopeSet::parse("openid profile address national_id offline_access").unwrap(),
            id_token_alg: crate::domain::signing_alg::SigningAlg::Rs256,
            auth_method: TokenEndpointAuthMethod::None,
            access_token_ttl_secs: None,
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            grant_types: vec![GrantType::AuthorizationCode],
            subject_type: SubjectType::Pairwise,
            sector_identifier: "portal.gov.vn".into(),
            jwks: None,
            jwks_uri: None,
            token_endpoint_auth_signing_alg: None,
            assertion_audience: crate::domain::client::AssertionAudience::Issuer,
            first_party: false,
            security: Default::default(),
        }
    }

    /// fuzz/regressions/authorize_request: `redirect_uri=http://[::1]:98304/cb`, a
    /// loopback URI with a "port" past 65535, was taken for the registered one, and
    /// the error went to a URL that does not parse.
    #[test]
    fn fuzz_regression_loopback_port_over_65535_is_not_registered() {
        let input = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/regressions/authorize_request/crash-2ee5679734e85afffbebc53b45f4dc1a791efae0"
        ));
        let params = AuthorizeParams::from_pairs(serde_urlencoded::from_bytes(input).unwrap());
        assert_eq!(client_id(&params).unwrap(), "app");
        assert!(matches!(
            check(&params, &fuzz_app()),
            Err(AuthorizeError::Page(_))
        ));
    }
}
