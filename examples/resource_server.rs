//! A resource server (say, a ministry API) checking a citizen-idp access token offline,
//! as docs/relying-parties.md describes: a JWT access token (RFC 9068) verified with
//! `jsonwebtoken` against the provider's JWKS, without calling the provider per request.
//!
//! ```sh
//! cargo run --example resource_server -- --issuer http://127.0.0.1:8080 --token eyJ...
//! ```
//!
//! Prints `{"valid": true, "claims": {...}}` and exits 0 for a valid token; prints the
//! reason on standard error and exits 1 otherwise.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Verify a citizen-idp access token offline against the JWKS")]
struct Cli {
    #[arg(long)]
    issuer: String,
    #[arg(long)]
    token: String,
    /// A scope the API requires; repeat for several.
    #[arg(long = "require-scope")]
    required_scopes: Vec<String>,
    /// Accept tokens of these clients only; repeat for several (default: any client).
    #[arg(long = "client-id")]
    client_ids: Vec<String>,
}

/// RFC 9068 §2.2 claims as citizen-idp issues them.
#[derive(Debug, Serialize, Deserialize)]
struct AccessTokenClaims {
    iss: String,
    sub: String,
    aud: String,
    client_id: String,
    scope: String,
    jti: String,
    exp: i64,
    iat: i64,
    /// Present when the token speaks for a citizen; absent for a back-office system
    /// acting as itself (client credentials), whose `sub` is then its client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acr: Option<String>,
}

type Failure = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match verify(&cli).await {
        Ok(claims) => {
            println!("{}", json!({ "valid": true, "claims": claims }));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("resource_server: invalid token: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The provider's signing keys, fetched once and kept. A server process keeps one of
/// these for its lifetime; the provider publishes a new key before signing with it, so
/// an unknown `kid` means "refetch", at most once per token.
struct Jwks {
    uri: String,
    http: reqwest::Client,
    keys: JwkSet,
}

impl Jwks {
    async fn fetch(uri: String, http: reqwest::Client) -> Result<Self, Failure> {
        let keys = get_json(&http, &uri).await?;
        Ok(Jwks { uri, http, keys })
    }

    async fn find(&mut self, kid: &str) -> Result<&Jwk, Failure> {
        if self.keys.find(kid).is_none() {
            self.keys = get_json(&self.http, &self.uri).await?;
        }
        self.keys
            .find(kid)
            .ok_or_else(|| format!("no key {kid} in the JWKS").into())
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, Failure> {
    let response = http.get(url).send().await?.error_for_status()?;
    Ok(serde_json::from_slice(&response.bytes().await?)?)
}

async fn verify(cli: &Cli) -> Result<AccessTokenClaims, Failure> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;
    let discovery: serde_json::Value = get_json(
        &http,
        &format!("{}/.well-known/openid-configuration", cli.issuer),
    )
    .await?;
    let jwks_uri = discovery["jwks_uri"]
        .as_str()
        .ok_or("discovery has no jwks_uri")?;
    let mut jwks = Jwks::fetch(jwks_uri.to_owned(), http).await?;

    let header = jsonwebtoken::decode_header(&cli.token)?;
    // RFC 9068 §4: an ID token or a logout token (same keys, same issuer) must not
    // pass as an access token; `typ` tells them apart.
    let typ = header
        .typ
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if typ != "at+jwt" && typ != "application/at+jwt" {
        return Err(format!("typ is {typ:?}, not at+jwt").into());
    }
    let kid = header.kid.as_deref().ok_or("no kid in the header")?;
    let key = jwks.find(kid).await?;
    // The algorithm comes from the key, never from the token: otherwise an attacker
    // picks it (`none`, or HS256 keyed with the public key).
    let algorithm = match key.common.key_algorithm {
        Some(KeyAlgorithm::RS256) => Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => Algorithm::ES256,
        other => return Err(format!("unexpected key algorithm {other:?}").into()),
    };
    if header.alg != algorithm {
        return Err("the token's alg differs from its key's".into());
    }
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[&cli.issuer]);
    // citizen-idp's access tokens name the issuer itself as their audience today.
    validation.set_audience(&[&cli.issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<AccessTokenClaims>(
        &cli.token,
        &DecodingKey::from_jwk(key)?,
        &validation,
    )?
    .claims;

    let granted: Vec<&str> = claims.scope.split(' ').collect();
    if let Some(missing) = cli
        .required_scopes
        .iter()
        .find(|s| !granted.contains(&s.as_str()))
    {
        return Err(format!("the scope {missing} was not granted").into());
    }
    if !cli.client_ids.is_empty() && !cli.client_ids.contains(&claims.client_id) {
        return Err(format!("client {} is not allowed here", claims.client_id).into());
    }
    Ok(claims)
}
