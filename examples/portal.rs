//! A relying party of citizen-idp, with the `openidconnect` crate: the steps of
//! docs/relying-parties.md as commands, so that a test (or an engineer at a terminal)
//! can drive them one at a time and hand the code over in between.
//!
//! ```sh
//! cargo run --example portal -- authorize-url --issuer http://127.0.0.1:8080 \
//!     --client-id demo-portal --redirect-uri http://127.0.0.1:8080/demo/callback
//! # log in with the printed URL, copy `code` from the redirect, then:
//! PORTAL_CLIENT_SECRET=... cargo run --example portal -- exchange --issuer ... \
//!     --client-id demo-portal --redirect-uri ... --code ... --verifier ... --nonce ...
//! ```
//!
//! Every command prints one JSON object on standard output. Errors go to standard error
//! with a non-zero exit status. A real portal keeps `state`, `nonce` and `verifier` in
//! its server-side session and never prints tokens; this one prints them so that the
//! next step can be run by hand.

use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Parser, Subcommand};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreRequestTokenError, CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope,
    TokenResponse,
};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "A citizen-idp relying party (openidconnect crate), step by step")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the authorization URL with PKCE S256, a nonce and a state.
    AuthorizeUrl {
        #[command(flatten)]
        client: ClientArgs,
        /// Scopes besides `openid`; repeat for several.
        #[arg(long = "scope", default_value = "profile")]
        scopes: Vec<String>,
    },
    /// Redeem the code, verify the ID token against the JWKS, call userinfo.
    Exchange {
        #[command(flatten)]
        client: ClientArgs,
        #[arg(long)]
        code: String,
        #[arg(long)]
        verifier: String,
        #[arg(long)]
        nonce: String,
    },
    /// Trade a refresh token for new tokens (the old refresh token is spent).
    Refresh {
        #[command(flatten)]
        client: ClientArgs,
        #[arg(long)]
        refresh_token: String,
    },
}

#[derive(Args)]
struct ClientArgs {
    /// The issuer URL; everything else is discovered from it.
    #[arg(long)]
    issuer: String,
    #[arg(long)]
    client_id: String,
    /// Exactly as registered (a loopback URI may carry any port).
    #[arg(long)]
    redirect_uri: String,
    /// The client's registered `--id-token-alg`: only that algorithm is accepted.
    #[arg(long, default_value = "RS256")]
    id_token_alg: String,
}

type Failure = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse().command).await {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("portal: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<Value, Failure> {
    // An OIDC client must not follow redirects (a redirected token request could leak
    // the secret), and must not hang on a stalled provider.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;
    match command {
        Command::AuthorizeUrl { client, scopes } => {
            let rp = RelyingParty::discover(&client, &http).await?;
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let mut request = rp
                .client
                .authorize_url(
                    CoreAuthenticationFlow::AuthorizationCode,
                    CsrfToken::new_random,
                    Nonce::new_random,
                )
                .set_pkce_challenge(challenge);
            for scope in scopes.iter().flat_map(|s| s.split(' ')) {
                if !scope.is_empty() {
                    request = request.add_scope(Scope::new(scope.to_owned()));
                }
            }
            let (url, state, nonce) = request.url();
            Ok(json!({
                "url": url.as_str(),
                "state": state.secret(),
                "nonce": nonce.secret(),
                "verifier": verifier.secret(),
            }))
        }
        Command::Exchange {
            client,
            code,
            verifier,
            nonce,
        } => {
            let rp = RelyingParty::discover(&client, &http).await?;
            let tokens = rp
                .client
                .exchange_code(AuthorizationCode::new(code))?
                .set_pkce_verifier(PkceCodeVerifier::new(verifier))
                .request_async(&http)
                .await
                .map_err(token_error)?;
            rp.verified_output(&tokens, &Nonce::new(nonce), &http).await
        }
        Command::Refresh {
            client,
            refresh_token,
        } => {
            let rp = RelyingParty::discover(&client, &http).await?;
            let refresh_token = RefreshToken::new(refresh_token);
            let tokens = rp
                .client
                .exchange_refresh_token(&refresh_token)?
                .request_async(&http)
                .await
                .map_err(token_error)?;
            // An ID token from a refresh carries no nonce (OIDC Core §12.2).
            let no_nonce = |_: Option<&Nonce>| -> Result<(), String> { Ok(()) };
            let claims = tokens
                .id_token()
                .map(|t| t.claims(&rp.id_token_verifier(), no_nonce).cloned())
                .transpose()?;
            Ok(json!({
                "verified": claims.is_some(),
                "id_token_claims": claims,
                "access_token": tokens.access_token().secret(),
                "refresh_token": tokens.refresh_token().map(|t| t.secret()),
            }))
        }
    }
}

/// The token endpoint's RFC 6749 §5.2 error code (`invalid_grant`, ...) when it gave one.
fn token_error<E: std::error::Error + 'static>(e: CoreRequestTokenError<E>) -> Failure {
    match e {
        openidconnect::RequestTokenError::ServerResponse(body) => {
            format!("token endpoint: {}", body.error()).into()
        }
        other => format!("token endpoint: {other}").into(),
    }
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

struct RelyingParty {
    client: Client,
    alg: CoreJwsSigningAlgorithm,
}

impl RelyingParty {
    /// Discovery also fetches the JWKS; `openidconnect` verifies against that copy.
    async fn discover(args: &ClientArgs, http: &reqwest::Client) -> Result<Self, Failure> {
        let metadata =
            CoreProviderMetadata::discover_async(IssuerUrl::new(args.issuer.clone())?, http)
                .await?;
        // A portal's secret comes from its environment, never from the command line
        // (where other users of the machine could read it); without one, this is a
        // public client such as a mobile app, and PKCE alone binds the code to it.
        let secret = std::env::var("PORTAL_CLIENT_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
            .map(ClientSecret::new);
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(args.client_id.clone()),
            secret,
        )
        .set_redirect_uri(RedirectUrl::new(args.redirect_uri.clone())?);
        let alg = match args.id_token_alg.as_str() {
            "RS256" => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            "ES256" => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            other => return Err(format!("unsupported ID token algorithm {other}").into()),
        };
        Ok(RelyingParty { client, alg })
    }

    /// Signature (with the registered algorithm only), `iss`, `aud`, `azp` and `exp`.
    fn id_token_verifier(&self) -> openidconnect::core::CoreIdTokenVerifier<'_> {
        self.client
            .id_token_verifier()
            .set_allowed_algs([self.alg.clone()])
    }

    async fn verified_output(
        &self,
        tokens: &CoreTokenResponse,
        nonce: &Nonce,
        http: &reqwest::Client,
    ) -> Result<Value, Failure> {
        let verifier = self.id_token_verifier();
        let id_token = tokens.id_token().ok_or("no ID token in the response")?;
        let claims = id_token.claims(&verifier, nonce)?;
        // The access token must be the one this ID token was issued with.
        let expected = claims.access_token_hash().ok_or("no at_hash")?;
        let actual = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg()?,
            id_token.signing_key(&verifier)?,
        )?;
        if &actual != expected {
            return Err("at_hash does not match the access token".into());
        }
        let acr = claims.auth_context_ref().map(|acr| acr.as_str());
        if !acr.is_some_and(|acr| acr.starts_with("urn:citizen-idp:loa:")) {
            return Err("the ID token has no citizen-idp level of assurance".into());
        }
        // `sid` (for back-channel logout) is not among the crate's standard claims;
        // the token's signature is verified above, so its payload can be read as is.
        let sid = payload(&id_token.to_string())?
            .get("sid")
            .cloned()
            .unwrap_or(Value::Null);
        // Passing the ID token's subject makes the crate refuse a userinfo answer
        // about anyone else (OIDC Core §5.3.2).
        let userinfo: CoreUserInfoClaims = self
            .client
            .user_info(
                tokens.access_token().clone(),
                Some(claims.subject().clone()),
            )?
            .request_async(http)
            .await?;
        Ok(json!({
            "verified": true,
            "id_token_claims": claims,
            "sid": sid,
            "userinfo": userinfo,
            "id_token": id_token.to_string(),
            "access_token": tokens.access_token().secret(),
            "refresh_token": tokens.refresh_token().map(|t| t.secret()),
        }))
    }
}

fn payload(jws: &str) -> Result<Value, Failure> {
    let part = jws.split('.').nth(1).ok_or("malformed JWS")?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part)?)?)
}
