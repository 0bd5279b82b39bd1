//! `TestApp`: a real citizen-idp on port 0 with a fresh database per test (a SQLite
//! file, or a PostgreSQL database when TEST_DATABASE_URL is set), a fresh store (the
//! in-process one, or a per-test key prefix in Redis when TEST_REDIS_URL is set), and a
//! fixed clock. Fixtures read like the domain.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use chrono::{Duration, NaiveDate, Utc};
use citizen_idp::authn::password::PasswordHasher;
use citizen_idp::clock::FixedClock;
use citizen_idp::config::Settings;
use citizen_idp::domain::acr::AssuranceLevel;
use citizen_idp::domain::citizen::{AccountStatus, Citizen, LifeStatus};
use citizen_idp::domain::client::{ClientKind, SubjectType};
use citizen_idp::registration::{self, NewClient};
use citizen_idp::registry::generate::PopulationGenerator;
use citizen_idp::startup;
use citizen_idp::storage::accounts::{self, Account};
use citizen_idp::storage::audit_events::{self, AuditEvent};
use citizen_idp::storage::{Db, citizens, clients};
use citizen_idp::store::Store;
use citizen_idp::tokens::keys::{SigningAlg, SigningKey};
use diesel::{Connection, PgConnection, RunQueryDsl};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreTokenResponse,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;
use reqwest::header::LOCATION;

mod admin;
mod fetch;
mod login;
mod oauth;

pub use admin::*;
pub use fetch::Fetch;
pub use login::*;
pub use oauth::*;

pub const PASSWORD: &str = "mật-khẩu-an-toàn-2026";

/// Keys are generated once per test run, as PEM files of the old layout that every
/// test's fresh database imports at start: RSA generation is slow and the keys are not
/// what most tests are about. The server secret is generated there by the first start.
pub fn shared_keys_dir() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        use base64::Engine;
        let dir = tempfile::tempdir().unwrap();
        for (alg, suffix) in [(SigningAlg::Rs256, "rs256"), (SigningAlg::Es256, "es256")] {
            let (key, der) = SigningKey::generate(alg).unwrap();
            let body = base64::engine::general_purpose::STANDARD.encode(der);
            let lines: Vec<&str> = body
                .as_bytes()
                .chunks(64)
                .map(|l| std::str::from_utf8(l).unwrap())
                .collect();
            let pem = format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                lines.join("\n")
            );
            std::fs::write(dir.path().join(format!("{}.{suffix}.pem", key.kid())), pem).unwrap();
        }
        dir
    })
    .path()
    .to_owned()
}

fn hasher() -> &'static PasswordHasher {
    static HASHER: OnceLock<PasswordHasher> = OnceLock::new();
    HASHER.get_or_init(|| PasswordHasher::new(&Settings::defaults().unwrap().password).unwrap())
}

fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hasher().hash_now(PASSWORD).unwrap())
}

pub struct TestApp {
    pub issuer: String,
    /// Where the server listens; the same as the issuer unless one is configured.
    pub address: String,
    pub database_url: String,
    /// The settings the server runs with.
    pub settings: Settings,
    /// The Redis key prefix of this app, when it runs on Redis.
    pub redis_prefix: Option<String>,
    /// Its store (in-process or Redis), which replicas share.
    store: Arc<dyn Store>,
    pub clock: Arc<FixedClock>,
    pub db: Db,
    /// A browser: keeps cookies, never follows redirects.
    pub browser: reqwest::Client,
    /// A server-side HTTP client without cookies (relying parties, resource servers).
    pub http: reqwest::Client,
    _data: tempfile::TempDir,
    server: actix_web::dev::ServerHandle,
    running: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Dropped with the app: the per-test PostgreSQL database.
    _postgres: Option<PostgresDatabase>,
}

struct PostgresDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Waits until the server answers /healthz: its workers start just after it binds.
pub async fn wait_until_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..100 {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{base} never became ready");
}

pub fn http_client(cookies: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(cookies)
        .build()
        .unwrap()
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
        let data = tempfile::tempdir().unwrap();
        let mut settings = Settings::defaults().unwrap();
        settings.server.listen = "127.0.0.1:0".into();
        settings.server.workers = 1;
        settings.keys.dir = shared_keys_dir();
        settings.demo.enabled = false;
        settings.log.filter = "warn".into();
        // The fake relying parties of the tests listen on 127.0.0.1; tests of the
        // outbound policy turn it back off.
        settings.outbound.allow_private_networks = true;

        let postgres = non_empty_env("TEST_DATABASE_URL").map(|admin_url| {
            let name = format!("cidp_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = PgConnection::establish(&admin_url).unwrap_or_else(|e| {
                panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
            });
            diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .unwrap();
            PostgresDatabase { admin_url, name }
        });
        settings.database.url = match &postgres {
            Some(pg) => with_database(&pg.admin_url, &pg.name),
            None => format!("sqlite://{}", data.path().join("test.sqlite").display()),
        };
        settings.database.pool_size = 4;
        if let Some(redis_url) = non_empty_env("TEST_REDIS_URL") {
            settings.redis.url = redis_url;
            settings.redis.key_prefix = format!("cidp-test:{}:", uuid::Uuid::new_v4().simple());
        }
        configure(&mut settings);

        #[allow(
            clippy::disallowed_methods,
            reason = "the fixed clock starts at real time so that relying parties accept our tokens"
        )]
        let clock = Arc::new(FixedClock::new(Utc::now()));
        Self::start(settings, clock, data, postgres).await
    }

    /// An app whose issuer is `http://localhost:PORT` (browsers refuse WebAuthn on an
    /// IP-address host). The port is taken from a listener that closes just before the
    /// server binds it.
    pub async fn spawn_on_localhost(configure: impl FnOnce(&mut Settings)) -> TestApp {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut app = Self::spawn_with(|settings| {
            settings.server.listen = format!("127.0.0.1:{port}");
            settings.server.issuer = format!("http://localhost:{port}");
            configure(settings);
        })
        .await;
        // The browser's cookies are per host: every request goes to the issuer's.
        app.address = app.issuer.clone();
        app
    }

    /// A second instance beside this one: the same database, store, keys directory and
    /// clock, as two replicas behind one load balancer.
    pub async fn spawn_beside(&self) -> TestApp {
        let settings = self.settings.clone();
        Self::start(
            settings,
            self.clock.clone(),
            tempfile::tempdir().unwrap(),
            None,
        )
        .await
    }

    /// This instance started again on the same database and clock with an empty store:
    /// a restart on the in-process store, or a Redis that lost its data (a fresh key
    /// prefix). Stop this one first for a restart.
    pub async fn restart_with_empty_store(&self) -> TestApp {
        let mut settings = self.settings.clone();
        if self.redis_prefix.is_some() {
            settings.redis.key_prefix = format!("cidp-test:{}:", uuid::Uuid::new_v4().simple());
        }
        Self::start(
            settings,
            self.clock.clone(),
            tempfile::tempdir().unwrap(),
            None,
        )
        .await
    }

    /// A replica of this instance, as a load balancer would put beside it: the same
    /// issuer, database, store, keys directory and clock, on its own port.
    pub async fn spawn_replica(&self) -> TestApp {
        self.spawn_replica_with(|_| {}).await
    }

    /// A replica with settings of its own (e.g. its password hashing), sharing this
    /// app's store even when that is the in-process one: a browser signed in here is
    /// signed in there too (cookies are per host, not per port).
    pub async fn spawn_replica_with(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.settings.clone();
        settings.server.issuer = self.issuer.clone();
        configure(&mut settings);
        Self::start_on(
            settings,
            self.clock.clone(),
            tempfile::tempdir().unwrap(),
            None,
            Some(self.store.clone()),
        )
        .await
    }

    async fn start(
        settings: Settings,
        clock: Arc<FixedClock>,
        data: tempfile::TempDir,
        postgres: Option<PostgresDatabase>,
    ) -> TestApp {
        Self::start_on(settings, clock, data, postgres, None).await
    }

    async fn start_on(
        settings: Settings,
        clock: Arc<FixedClock>,
        data: tempfile::TempDir,
        postgres: Option<PostgresDatabase>,
        store: Option<Arc<dyn Store>>,
    ) -> TestApp {
        let app = startup::build_on(settings.clone(), clock.clone(), store)
            .await
            .expect("server starts");
        let store = app.store();
        let issuer = app.issuer().to_owned();
        let address = format!("http://127.0.0.1:{}", app.port());
        let server = app.server_handle();
        let running = Some(tokio::spawn(app.run_until_stopped()));
        let db = Db::connect(&settings.database.url, 2, std::time::Duration::from_secs(5)).unwrap();
        wait_until_ready(&http_client(false), &address).await;
        TestApp {
            issuer,
            address,
            database_url: settings.database.url.clone(),
            settings: settings.clone(),
            redis_prefix: (!settings.redis.url.is_empty()
                || !settings.redis.cluster_nodes().is_empty())
            .then(|| settings.redis.key_prefix.clone()),
            store,
            server,
            running,
            clock,
            db,
            browser: http_client(true),
            http: http_client(false),
            _data: data,
            _postgres: postgres,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A living citizen in the register with an active level-1 account.
    pub fn citizen(&self) -> TestCitizen {
        self.citizen_with(LifeStatus::Living, AccountStatus::Active)
    }

    pub fn citizen_with(&self, life: LifeStatus, status: AccountStatus) -> TestCitizen {
        let mut record = TestCitizen::generate();
        record.life_status = life;
        let account = Account {
            id: uuid::Uuid::new_v4().to_string(),
            national_id: record.national_id.clone(),
            password_hash: password_hash().to_owned(),
            status,
            assurance_level: AssuranceLevel::Level1,
            created_at: record.updated_at,
            updated_at: record.updated_at,
        };
        let (stored_citizen, stored_account) = (record.clone(), account.clone());
        self.db
            .run_blocking(move |conn| {
                citizens::insert_batch(conn, &[stored_citizen])?;
                accounts::insert(conn, &stored_account)
            })
            .unwrap();
        TestCitizen {
            number: record.national_id.expose().to_owned(),
            subject: account.id,
            record,
        }
    }

    /// Registers a first-party client: most tests are not about consent, so their
    /// clients skip it. Consent tests use [`TestApp::register_third_party_client`].
    pub fn register_client(&self, new: NewClient) -> TestClient {
        self.register_third_party_client(NewClient {
            first_party: true,
            ..new
        })
    }

    /// Registers `new` as it is: a client that is not first-party asks for consent.
    pub fn register_third_party_client(&self, new: NewClient) -> TestClient {
        let (client, secret) = registration::register(new).unwrap();
        let stored = client.clone();
        #[allow(clippy::disallowed_methods, reason = "creation time of a fixture")]
        let now = Utc::now().naive_utc();
        self.db
            .run_blocking(move |conn| clients::insert(conn, &stored, now))
            .unwrap();
        TestClient {
            id: client.id,
            secret: secret.map(|s| s.expose().to_owned()),
            redirect_uri: client.redirect_uris.first().cloned().unwrap_or_default(),
            alg: client.id_token_alg.as_str().to_owned(),
        }
    }

    /// A public-service portal: confidential, RS256, `https` redirect URI.
    pub fn confidential_client(&self) -> TestClient {
        self.register_client(TestClient::portal())
    }

    /// A mobile app: public, PKCE, ES256, loopback redirect URI (RFC 8252).
    pub fn public_client(&self) -> TestClient {
        self.register_client(NewClient {
            id: None,
            name: "Ứng dụng VNeID thử nghiệm".into(),
            kind: ClientKind::Public,
            redirect_uris: vec![
                "http://127.0.0.1/callback".into(),
                "vn.gov.portal.app:/callback".into(),
            ],
            scopes: "openid profile".into(),
            id_token_alg: "ES256".into(),
            // Most tests compare `sub` with the account id; pairwise has its own tests.
            subject_type: SubjectType::Public,
            ..NewClient::default()
        })
    }

    pub async fn discover(&self) -> CoreProviderMetadata {
        CoreProviderMetadata::discover_async(
            IssuerUrl::new(self.issuer.clone()).unwrap(),
            &self.http,
        )
        .await
        .unwrap()
    }

    /// An openidconnect relying party for `client`, set up from discovery.
    pub async fn relying_party(&self, client: &TestClient) -> RelyingParty {
        let metadata = self.discover().await;
        let rp = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client.id.clone()),
            client.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(client.redirect_uri.clone()).unwrap());
        RelyingParty {
            client: rp,
            alg: client.alg.clone(),
        }
    }

    /// GET `path` (without cookies) and parse the JSON answer.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.http.get(self.url(path)).fetch_json().await
    }

    /// Logs `citizen` in at `client` (or answers from the session) and exchanges the
    /// code as the relying party does: the token response.
    pub async fn tokens(
        &self,
        citizen: &TestCitizen,
        client: &TestClient,
        scopes: &[&str],
    ) -> CoreTokenResponse {
        let rp = self.relying_party(client).await;
        let start = rp.authorize_url(scopes);
        let redirect = self.log_in(&start.url, &citizen.number, PASSWORD).await;
        let code = query_param(&redirect, "code").expect("a code");
        rp.exchange(&self.http, &code, start.verifier)
            .await
            .unwrap()
    }

    /// [`Self::tokens`]: the access token.
    pub async fn access_token(
        &self,
        citizen: &TestCitizen,
        client: &TestClient,
        scopes: &[&str],
    ) -> String {
        let tokens = self.tokens(citizen, client, scopes).await;
        tokens.access_token().secret().clone()
    }

    /// GET /userinfo with a Bearer token: the status and the JSON body (Null if none).
    pub async fn userinfo(&self, token: &str) -> (StatusCode, serde_json::Value) {
        let response = self
            .http
            .get(self.url("/userinfo"))
            .bearer_auth(token)
            .fetch()
            .await;
        let status = response.status();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    pub fn set_life_status(&self, citizen: &TestCitizen, status: LifeStatus) {
        let id = citizen.record.national_id.clone();
        #[allow(
            clippy::disallowed_methods,
            reason = "time of a register change made by the test"
        )]
        let now = Utc::now().naive_utc();
        self.db
            .run_blocking(move |conn| citizens::set_life_status(conn, &id, status, now))
            .unwrap();
    }

    /// The citizen's audit trail as stored (stop the app first: that drains the writer).
    pub fn audit_of(&self, citizen: &TestCitizen) -> Vec<AuditEvent> {
        let number = citizen.number.clone();
        self.db
            .run_blocking(move |conn| audit_events::for_citizen(conn, &number))
            .unwrap()
    }

    /// Runs the citizen-idp command line against this app's database.
    pub async fn cli(&self, args: &[&str], stdin: Option<Vec<u8>>) -> std::process::Output {
        self.run_cli(args, &[], stdin).await
    }

    /// Runs the command line with extra environment variables; a command still running
    /// after a minute is killed (so a server that should have refused to start fails
    /// the test instead of hanging it).
    pub async fn cli_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        self.run_cli(args, env, None).await
    }

    async fn run_cli(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<Vec<u8>>,
    ) -> std::process::Output {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let database_url = self.database_url.clone();
        let keys_dir = self.settings.keys.dir.clone();
        tokio::task::spawn_blocking(move || {
            // Output goes to files, not pipes: a child blocked on a full pipe would never
            // exit while we poll it.
            let (stdout, stderr) = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
            let mut child = Command::new(env!("CARGO_BIN_EXE_citizen-idp"))
                .args(&args)
                .env("CITIZEN_IDP__DATABASE__URL", database_url)
                .env("CITIZEN_IDP__KEYS__DIR", keys_dir)
                .env("CITIZEN_IDP__LOG__FILTER", "warn")
                .envs(env)
                .stdin(Stdio::piped())
                .stdout(stdout.try_clone().unwrap())
                .stderr(stderr.try_clone().unwrap())
                .spawn()
                .unwrap();
            let mut input = child.stdin.take().unwrap();
            input.write_all(&stdin.unwrap_or_default()).unwrap();
            drop(input);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                if std::time::Instant::now() > deadline {
                    let _ = child.kill();
                    break child.wait().unwrap();
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            };
            let read = |mut file: std::fs::File| {
                use std::io::{Read, Seek};
                let mut bytes = Vec::new();
                file.rewind().unwrap();
                file.read_to_end(&mut bytes).unwrap();
                bytes
            };
            std::process::Output {
                status,
                stdout: read(stdout),
                stderr: read(stderr),
            }
        })
        .await
        .unwrap()
    }

    /// Stops the server gracefully, as SIGTERM does, and waits until it has finished.
    pub async fn stop(&mut self) {
        self.server.stop(true).await;
        if let Some(running) = self.running.take() {
            running.await.unwrap().unwrap();
        }
    }

    pub fn advance_clock(&self, by: Duration) {
        self.clock.advance(by);
    }
}

/// A port on 127.0.0.1 that nothing listens on (the system's pick, given back at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A command that must have succeeded; what it wrote to stderr says why not.
#[track_caller]
pub fn assert_succeeded(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn with_database(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

pub fn location_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The value of a hidden input in a rendered form.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in the page"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub struct TestCitizen {
    pub number: String,
    pub subject: String,
    pub record: Citizen,
}

impl TestCitizen {
    /// A fresh synthetic citizen with a number no other test uses.
    pub fn generate() -> Citizen {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEED: AtomicU64 = AtomicU64::new(0);
        let seed = SEED.fetch_add(1, Ordering::Relaxed) ^ u64::from(std::process::id()) << 32;
        let mut generator = PopulationGenerator::new(seed);
        #[allow(clippy::disallowed_methods, reason = "fixture timestamps")]
        let now = Utc::now();
        let today: NaiveDate = now.date_naive();
        loop {
            let citizen = generator.next_citizen(today, now.naive_utc());
            // Adults only: children cannot hold an e-ID account of their own.
            if citizen.is_living() && (today - citizen.birth_date).num_days() > 20 * 366 {
                return citizen;
            }
        }
    }
}

#[derive(Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
    pub alg: String,
}

impl TestClient {
    pub fn portal() -> NewClient {
        NewClient {
            id: None,
            name: "Cổng dịch vụ công thử nghiệm".into(),
            kind: ClientKind::Confidential,
            redirect_uris: vec!["https://portal.example.gov.vn/callback".into()],
            scopes: "openid profile address".into(),
            id_token_alg: "RS256".into(),
            // Most tests compare `sub` with the account id; pairwise has its own tests.
            subject_type: SubjectType::Public,
            ..NewClient::default()
        }
    }
}

pub type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub struct RelyingParty {
    pub client: OidcClient,
    alg: String,
}

pub struct AuthorizationStart {
    pub url: String,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

impl RelyingParty {
    pub fn authorize_url(&self, scopes: &[&str]) -> AuthorizationStart {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in scopes {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        let (url, state, nonce) = request.url();
        AuthorizationStart {
            url: url.to_string(),
            state,
            nonce,
            verifier,
        }
    }

    pub async fn exchange(
        &self,
        http: &reqwest::Client,
        code: &str,
        verifier: PkceCodeVerifier,
    ) -> Result<CoreTokenResponse, String> {
        self.client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(body) => body.error().to_string(),
                other => other.to_string(),
            })
    }

    /// Verifies the ID token against the JWKS (signature, iss, aud, exp, nonce) and the
    /// access token against its `at_hash`.
    pub fn verify(&self, tokens: &CoreTokenResponse, nonce: &Nonce) -> CoreIdTokenClaims {
        let alg = match self.alg.as_str() {
            "ES256" => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            _ => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        };
        let verifier = self.client.id_token_verifier().set_allowed_algs([alg]);
        let id_token = tokens.id_token().expect("an ID token");
        let claims = id_token
            .claims(&verifier, nonce)
            .expect("a valid ID token")
            .clone();
        let expected = claims.access_token_hash().expect("at_hash");
        let actual = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(&actual, expected, "at_hash must match the access token");
        claims
    }
}
