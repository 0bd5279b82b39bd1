//! The load of the high-assurance scenarios for `bench/run`, which wrk cannot make: every
//! request carries a fresh signature (a `private_key_jwt` assertion, a DPoP proof), and
//! the SSO round trip goes through PAR. Prints the same RESULT line as bench/wrk.
//!
//! ```text
//! load_fapi keys DIR   # the client's keys: DIR/sig.pk8 and DIR/jwks.json (sig + enc)
//! load_fapi run        # one load, configured by the environment (see `Load::from_env`)
//! ```
//!
//! Built only for benchmarks: `cargo build --release --features bench-tools --example load_fapi`.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use citizen_idp::tokens::keys::{SigningAlg, SigningKey};
use citizen_idp::tokens::{jwt, random};
use serde_json::{Value, json};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("keys") => write_keys(args.get(2).ok_or("keys DIR")?),
        Some("run") => Load::from_env()?.run().await,
        _ => Err("usage: load_fapi keys DIR | load_fapi run".into()),
    }
}

/// A signing key for assertions and DPoP proofs, and an encryption key the server
/// encrypts ID tokens to (its private half is not needed: the load does not decrypt).
fn write_keys(dir: &str) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)?;
    let (sig, der) = SigningKey::generate(SigningAlg::Es256)?;
    std::fs::write(format!("{dir}/sig.pk8"), der)?;
    let (enc, _) = SigningKey::generate(SigningAlg::Es256)?;
    let mut enc_jwk = enc.public_jwk().clone();
    enc_jwk["use"] = json!("enc");
    enc_jwk["alg"] = json!("ECDH-ES+A256KW");
    enc_jwk["kid"] = json!(format!("enc-{}", enc.kid()));
    let jwks = json!({ "keys": [sig.public_jwk(), enc_jwk] });
    std::fs::write(format!("{dir}/jwks.json"), jwks.to_string())?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// client_credentials with a fresh `private_key_jwt` assertion.
    ClientCredentialsKey,
    /// The same with a DPoP proof: a DPoP-bound access token.
    ClientCredentialsKeyDpop,
    /// PAR (assertion), /authorize with the session and the request_uri, then /token
    /// (assertion, PKCE, DPoP): an encrypted ID token when the client registered it.
    SsoParDpop,
}

struct Load {
    base: String,
    scenario: Scenario,
    connections: usize,
    duration: Duration,
    key: SigningKey,
    client_id: String,
    redirect_uri: String,
    cookie: String,
}

impl Load {
    /// BENCH_BASE, BENCH_SCENARIO (cc_key, cc_key_dpop, sso_par_dpop), BENCH_CONNS,
    /// BENCH_SECS, BENCH_KEYS (the directory of `keys`), BENCH_CLIENT_ID, and for SSO
    /// BENCH_REDIRECT_URI and BENCH_COOKIE (a live session).
    fn from_env() -> Result<Self, Failure> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        let scenario = match var("BENCH_SCENARIO")?.as_str() {
            "cc_key" => Scenario::ClientCredentialsKey,
            "cc_key_dpop" => Scenario::ClientCredentialsKeyDpop,
            "sso_par_dpop" => Scenario::SsoParDpop,
            other => return Err(format!("unknown scenario {other}").into()),
        };
        let der = std::fs::read(format!("{}/sig.pk8", var("BENCH_KEYS")?))?;
        Ok(Load {
            base: var("BENCH_BASE")?,
            scenario,
            connections: var("BENCH_CONNS")?.parse()?,
            duration: Duration::from_secs(var("BENCH_SECS")?.parse()?),
            key: SigningKey::from_pkcs8(SigningAlg::Es256, &der)?,
            client_id: var("BENCH_CLIENT_ID")?,
            redirect_uri: std::env::var("BENCH_REDIRECT_URI").unwrap_or_default(),
            cookie: std::env::var("BENCH_COOKIE").unwrap_or_default(),
        })
    }

    async fn run(self) -> Result<(), Failure> {
        let load = std::sync::Arc::new(self);
        let started = Instant::now();
        let deadline = started + load.duration;
        let workers: Vec<_> = (0..load.connections)
            .map(|_| {
                let load = load.clone();
                tokio::spawn(async move { load.worker(deadline).await })
            })
            .collect();
        let mut tally = Tally::default();
        for worker in workers {
            tally.add(worker.await??);
        }
        tally.print(started.elapsed());
        Ok(())
    }

    /// One connection: flows one after the other until the deadline.
    async fn worker(&self, deadline: Instant) -> Result<Tally, Failure> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(1)
            .build()?;
        let mut tally = Tally::default();
        while Instant::now() < deadline {
            let ok = match self.scenario {
                Scenario::ClientCredentialsKey => {
                    self.client_credentials(&http, false, &mut tally).await
                }
                Scenario::ClientCredentialsKeyDpop => {
                    self.client_credentials(&http, true, &mut tally).await
                }
                Scenario::SsoParDpop => self.sso(&http, &mut tally).await,
            };
            match ok {
                Ok(()) => tally.flows += 1,
                Err(_) => tally.errors += 1,
            }
        }
        Ok(tally)
    }

    fn assertion(&self) -> Result<String, Failure> {
        let now = unix_now();
        let claims = json!({
            "iss": self.client_id, "sub": self.client_id, "aud": self.base,
            "iat": now, "exp": now + 60, "jti": random::token(),
        });
        Ok(jwt::sign(&self.key, "JWT", &claims)?)
    }

    /// A DPoP proof (RFC 9449 §4.2) for `method` at `url`.
    fn proof(&self, method: &str, url: &str) -> Result<String, Failure> {
        let mut jwk = self.key.public_jwk().clone();
        if let Some(members) = jwk.as_object_mut() {
            members.remove("kid");
            members.remove("use");
            members.remove("alg");
        }
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": jwk });
        let claims = json!({
            "jti": random::token(), "htm": method, "htu": url, "iat": unix_now(),
        });
        let mut jws = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?));
        let signature = self.key.sign(jws.as_bytes())?;
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(jws)
    }

    async fn timed(
        &self,
        tally: &mut Tally,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Failure> {
        let sent = Instant::now();
        let response = request.send().await;
        tally.latencies.push(sent.elapsed());
        Ok(response?)
    }

    async fn client_credentials(
        &self,
        http: &reqwest::Client,
        dpop: bool,
        tally: &mut Tally,
    ) -> Result<(), Failure> {
        let url = format!("{}/token", self.base);
        let assertion = self.assertion()?;
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", "api:read"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
        ];
        let mut request = http.post(&url).form(&form);
        if dpop {
            request = request.header("DPoP", self.proof("POST", &url)?);
        }
        let response = self.timed(tally, request).await?;
        expect_token(response, if dpop { "DPoP" } else { "Bearer" }).await
    }

    async fn sso(&self, http: &reqwest::Client, tally: &mut Tally) -> Result<(), Failure> {
        let verifier = random::token();
        let challenge = URL_SAFE_NO_PAD.encode(random::sha256(verifier.as_bytes()));
        let par_url = format!("{}/par", self.base);
        let assertion = self.assertion()?;
        let form = [
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("scope", "openid profile"),
            ("state", "bench-state"),
            ("nonce", "bench-nonce"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
        ];
        let request = http
            .post(&par_url)
            .header("DPoP", self.proof("POST", &par_url)?)
            .form(&form);
        let pushed: Value = self
            .timed(tally, request)
            .await?
            .error_for_status()?
            .json()
            .await?;
        let request_uri = pushed["request_uri"].as_str().ok_or("no request_uri")?;

        let authorize = format!(
            "{}/authorize?client_id={}&request_uri={}",
            self.base,
            encode(&self.client_id),
            encode(request_uri)
        );
        let request = http.get(&authorize).header("Cookie", &self.cookie);
        let response = self.timed(tally, request).await?;
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .ok_or("no redirect")?;
        let code = url::Url::parse(location)?
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .ok_or("no code")?;

        let token_url = format!("{}/token", self.base);
        let assertion = self.assertion()?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
        ];
        let request = http
            .post(&token_url)
            .header("DPoP", self.proof("POST", &token_url)?)
            .form(&form);
        let response = self.timed(tally, request).await?;
        expect_token(response, "DPoP").await
    }
}

async fn expect_token(response: reqwest::Response, token_type: &str) -> Result<(), Failure> {
    let body: Value = response.error_for_status()?.json().await?;
    if body["token_type"] != token_type || body["access_token"].as_str().is_none() {
        return Err(format!("unexpected token response {body}").into());
    }
    Ok(())
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn unix_now() -> i64 {
    // A load generator, not the server: its own clock is the one that matters here.
    #[allow(clippy::disallowed_methods, reason = "the load generator's clock")]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[derive(Default)]
struct Tally {
    flows: u64,
    errors: u64,
    latencies: Vec<Duration>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.flows += other.flows;
        self.errors += other.errors;
        self.latencies.extend(other.latencies);
    }

    fn print(mut self, elapsed: Duration) {
        self.latencies.sort_unstable();
        let percentile = |p: usize| {
            self.latencies
                .get((self.latencies.len() * p / 100).min(self.latencies.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let secs = elapsed.as_secs_f64();
        let requests = self.latencies.len();
        println!(
            "RESULT requests={requests} secs={secs:.3} rps={:.1} flows={} fps={:.1} p50_ms={:.3} p99_ms={:.3} errors={}",
            requests as f64 / secs,
            self.flows,
            self.flows as f64 / secs,
            percentile(50),
            percentile(99),
            self.errors
        );
    }
}
