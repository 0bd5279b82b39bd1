//! Client authentication at the token, introspection and revocation endpoints (RFC 6749
//! §2.3, OIDC Core §9): `client_secret_basic`, `client_secret_post`, `private_key_jwt`
//! (checked in [`super::assertion`]), and `none` for public clients. A new method is a
//! variant of `domain::client::TokenEndpointAuthMethod` and its check here.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use crate::domain::client::{Client, ClientKind, TokenEndpointAuthMethod};
use crate::domain::client_security::Profile;
use crate::domain::secret::ClientSecret;
use crate::protocol::error::{ErrorCode, OAuthError};
use crate::tokens::{random, strict_json};

use super::Context;
use super::assertion;
use super::token::request::TokenForm;

/// Credentials as presented, not yet checked.
pub struct UnverifiedClientCredentials {
    /// How they were presented: the client must be registered for that method.
    pub method: TokenEndpointAuthMethod,
    pub client_id: String,
    pub secret: Option<ClientSecret>,
    /// A `private_key_jwt` assertion (RFC 7523 §2.2).
    pub assertion: Option<String>,
}

/// The method and the client only: the secret and the assertion are credentials.
impl std::fmt::Debug for UnverifiedClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnverifiedClientCredentials")
            .field("method", &self.method)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// RFC 7523 §2.2: the only assertion type accepted.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The assertion parameters of a request, as presented.
#[derive(Default, Clone, Copy)]
pub struct AssertionParams<'a> {
    pub assertion_type: Option<&'a str>,
    pub assertion: Option<&'a str>,
}

/// The type only: an unspent assertion authenticates its client.
impl std::fmt::Debug for AssertionParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionParams")
            .field("assertion_type", &self.assertion_type)
            .field("assertion", &self.assertion.map(|_| "<redacted>"))
            .finish()
    }
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
    assertion: AssertionParams<'_>,
) -> Result<UnverifiedClientCredentials, OAuthError> {
    if assertion.assertion.is_some() || assertion.assertion_type.is_some() {
        if authorization.is_some() || form_secret.is_some() {
            return Err(OAuthError::new(
                ErrorCode::InvalidRequest,
                "use one client authentication method only",
            ));
        }
        return assertion_credentials(form_client_id, assertion);
    }
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
                method: if secret.is_some() {
                    TokenEndpointAuthMethod::ClientSecretPost
                } else {
                    TokenEndpointAuthMethod::None
                },
                client_id: client_id.to_owned(),
                secret: secret.map(|s| ClientSecret::new(s.to_owned())),
                assertion: None,
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
    // Each half is one form-urlencoded value. A raw `&` in it is a character of the
    // value, not a separator: read as one, it cut the secret short, so that
    // `secret&anything` authenticated as `secret` (found by fuzzing).
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={}", s.replace('&', "%26")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    let (client_id, secret) = (decode(id)?, decode(secret)?);
    // A NUL is in no client id, and PostgreSQL refuses it in a lookup.
    if client_id.is_empty() || secret.is_empty() || client_id.contains('\0') {
        return None;
    }
    Some(UnverifiedClientCredentials {
        method: TokenEndpointAuthMethod::ClientSecretBasic,
        client_id,
        secret: Some(ClientSecret::new(secret)),
        assertion: None,
    })
}

/// The client of an assertion is `client_id` if sent, else the assertion's `sub` (RFC
/// 7523 §3), read unverified here only to find the keys that will verify it.
fn assertion_credentials(
    form_client_id: Option<&str>,
    params: AssertionParams<'_>,
) -> Result<UnverifiedClientCredentials, OAuthError> {
    if params.assertion_type != Some(JWT_BEARER) {
        return Err(invalid_client("unsupported client_assertion_type"));
    }
    let assertion = params
        .assertion
        .ok_or_else(|| invalid_client("client_assertion is required"))?;
    let claimed = unverified_subject(assertion)
        .ok_or_else(|| invalid_client("malformed client assertion"))?;
    if form_client_id.is_some_and(|id| id != claimed) {
        return Err(invalid_client("client_id does not match the assertion"));
    }
    Ok(UnverifiedClientCredentials {
        method: TokenEndpointAuthMethod::PrivateKeyJwt,
        client_id: claimed,
        secret: None,
        assertion: Some(assertion.to_owned()),
    })
}

/// Read with the strict reader, as the assertion itself will be: a `sub` named twice
/// must not pick one client here and mean another later.
fn unverified_subject(jws: &str) -> Option<String> {
    let payload = jws.split('.').nth(1)?;
    let claims = strict_json::claims(&strict_json::decode_part(payload).ok()?).ok()?;
    // An empty `sub` names no client (found by fuzzing; the lookup failed anyway).
    claims.registered.sub.filter(|sub| !sub.is_empty())
}

/// The client that sent `form`, with the request's `Authorization` header, once its
/// credentials are checked against its registration.
#[tracing::instrument(name = "client_authentication", skip_all)]
pub async fn authenticate_client(
    ctx: &Context<'_>,
    authorization: Option<&str>,
    form: &TokenForm,
    now: DateTime<Utc>,
) -> Result<Client, OAuthError> {
    let presented = AssertionParams {
        assertion_type: form.get("client_assertion_type"),
        assertion: form.get("client_assertion"),
    };
    let credentials = credentials(
        authorization,
        form.get("client_id"),
        form.get("client_secret"),
        presented,
    )?;
    let client = ctx
        .client(&credentials.client_id, now)
        .await?
        .ok_or_else(|| invalid_client("client authentication failed"))?;
    // A server-wide fapi2 profile holds clients registered before to it as well.
    if client.profile(ctx.settings.server.profile) == Profile::Fapi2
        && let Err(why) = client.fits_fapi2()
    {
        tracing::info!(target: "security", client_id = %client.id, why, "a client that does not meet FAPI 2.0 tried to authenticate");
        return Err(invalid_client(
            "the client's registration does not meet the FAPI 2.0 profile",
        ));
    }
    let verified = match authenticate(&client, &credentials) {
        Ok(()) => match &credentials.assertion {
            None => Ok(()),
            Some(jwt) => assertion::verify(ctx, &client, jwt, now).await,
        },
        Err(e) => Err(e),
    };
    verified.inspect_err(|_| {
        tracing::info!(target: "security", "request with failed client authentication");
    })?;
    Ok(client)
}

/// Checks the credentials against the registered client.
pub fn authenticate(
    client: &Client,
    credentials: &UnverifiedClientCredentials,
) -> Result<(), OAuthError> {
    // Only the registered method (RFC 7591 `token_endpoint_auth_method`): a secret
    // made for the Authorization header is not to travel in a form body (logged by
    // proxies, kept in browser history), a client with keys has no secret, and one
    // with a secret has no keys.
    if credentials.method != client.auth_method {
        tracing::info!(
            target: "security",
            registered = client.auth_method.as_str(),
            presented = credentials.method.as_str(),
            "a client authenticated with another method than its registered one"
        );
        return Err(invalid_client(
            "the client must use its registered authentication method",
        ));
    }
    if credentials.method == TokenEndpointAuthMethod::PrivateKeyJwt {
        // Verified asynchronously by the caller (keys may have to be fetched).
        return Ok(());
    }
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
        let creds = credentials(Some(&header), None, None, AssertionParams::default()).unwrap();
        assert_eq!(creds.client_id, "my client");
        assert_eq!(creds.secret.unwrap().expose(), "s:cret");
    }

    /// fuzz/regressions/authorization_header: `Basic base64("my&2pclient:s%3Qcrx")`
    /// was read as the client `my`.
    #[test]
    fn fuzz_regression_a_raw_ampersand_does_not_cut_basic_credentials_short() {
        let input = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/regressions/authorization_header/crash-8569c83531fed3fc9c87dfe4f045084c2bb47913"
        ));
        let header = std::str::from_utf8(input).unwrap();
        let creds = credentials(Some(header), None, None, AssertionParams::default()).unwrap();
        assert_eq!(creds.client_id, "my&2pclient");
        // `%3Q` is no escape, so it stays as it is.
        assert_eq!(creds.secret.unwrap().expose(), "s%3Qcrx");

        let header = format!("Basic {}", STANDARD.encode("portal:s3cret&x"));
        let creds = credentials(Some(&header), None, None, AssertionParams::default()).unwrap();
        assert_eq!(creds.secret.unwrap().expose(), "s3cret&x");
    }

    /// fuzz/regressions/client_assertion: an assertion whose `sub` is empty (the target
    /// signs `HEADER\nCLAIMS` after a mode byte; the signature does not matter here).
    #[test]
    fn fuzz_regression_an_assertion_with_an_empty_sub_names_no_client() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let input = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/regressions/client_assertion/crash-cc4f300a3d69bae43c0ff83415d2322cc8a23908"
        ));
        let (header, claims) =
            input[1..].split_at(input.iter().position(|&b| b == b'\n').unwrap() - 1);
        let jws = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(&claims[1..])
        );
        let params = AssertionParams {
            assertion_type: Some(JWT_BEARER),
            assertion: Some(&jws),
        };
        let err = credentials(None, None, None, params).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidClient);
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let header = format!("Basic {}", STANDARD.encode("a:b"));
        let err = credentials(
            Some(&header),
            Some("a"),
            Some("b"),
            AssertionParams::default(),
        )
        .unwrap_err();
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
            let err =
                credentials(Some(header), None, None, AssertionParams::default()).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidClient, "{header}");
        }
    }

    #[test]
    fn credentials_say_which_method_presented_them() {
        let basic = format!("Basic {}", STANDARD.encode("a:b"));
        let method = |authorization: Option<&str>, secret: Option<&str>| {
            credentials(authorization, Some("a"), secret, AssertionParams::default())
                .unwrap()
                .method
        };
        assert_eq!(
            method(Some(&basic), None),
            TokenEndpointAuthMethod::ClientSecretBasic
        );
        assert_eq!(
            method(None, Some("b")),
            TokenEndpointAuthMethod::ClientSecretPost
        );
        assert_eq!(method(None, None), TokenEndpointAuthMethod::None);
    }

    #[test]
    fn an_assertion_naming_its_subject_twice_names_no_client() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jws = format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"victim","sub":"attacker"}"#)
        );
        let params = AssertionParams {
            assertion_type: Some(JWT_BEARER),
            assertion: Some(&jws),
        };
        let err = credentials(None, None, None, params).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidClient);
    }
}
