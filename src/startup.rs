//! Building the application from settings: database and migrations, keys, store, demo
//! seeding, then the HTTP server with the routes of every edge module.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::audit::AuditLog;
use crate::authn::password::{PasswordError, PasswordHasher};
use crate::client_admin;
use crate::clock::Clock;
use crate::config::{Settings, SettingsError};
use crate::domain::national_id::NationalId;
use crate::http::limits::{self, RequestLimits};
use crate::http::{access_log, health, metrics as metrics_endpoint, openapi, security_headers};
use crate::metrics::{MeteredStore, Metrics};
use crate::notify::worker::NotifyWorker;
use crate::oidc::logout::outbox::OutboxWorker;
use crate::oidc::{self, discovery};
use crate::outbound::{Outbound, Policy};
use crate::pages::{self, demo::DemoRelyingParty};
use crate::registry::seed::{self, DemoSeed};
use crate::server_secret::{self, SecretError, ServerSecret};
use crate::state::{AppState, Endpoints};
use crate::storage::{Db, StorageError, migrations, signing_keys};
use crate::store::memory::MemoryStore;
use crate::store::redis::{RedisNodes, RedisOptions, RedisStore};
use crate::store::{Store, StoreError};
use crate::tokens::TokenError;
use crate::tokens::key_set::KeyRing;
use crate::tokens::keyring::{self, KeyringError, Sealer};
use crate::tokens::keys::{self, KeyPurpose};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("database: {0}")]
    Storage(#[from] StorageError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("keys: {0}")]
    Keys(#[from] TokenError),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("password hashing: {0}")]
    Password(#[from] PasswordError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// The client for calls to relying parties' URLs, under the outbound address policy.
pub fn outbound_http_client(settings: &Settings) -> Result<Outbound, StartupError> {
    let policy = Policy {
        allow_private_networks: settings.outbound.allow_private_networks,
    };
    if policy.allow_private_networks {
        tracing::warn!(
            "outbound.allow_private_networks is on: relying parties' URLs may point at this host and its private networks (development only)"
        );
    }
    Outbound::new(policy).map_err(|e| StartupError::Other(format!("HTTP client: {e}")))
}

/// A built server, bound but not yet running.
pub struct Application {
    server: Server,
    audit: AuditLog,
    key_reloader: tokio::task::JoinHandle<()>,
    logout_worker: OutboxWorker,
    notify_worker: NotifyWorker,
    issuer: String,
    port: u16,
    store: Arc<dyn Store>,
    pub demo_enabled: bool,
}

impl Application {
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The store this instance keeps sessions, codes and counters in, for another
    /// instance to share ([`build_on`]).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until SIGINT/SIGTERM; in-flight requests are drained first, then the logout
    /// worker gives back the deliveries it holds, then the audit rows still queued are
    /// written.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.key_reloader.abort();
        self.logout_worker.stop().await;
        self.notify_worker.stop().await;
        self.audit.flush().await;
        result
    }
}

pub async fn connect_database(settings: &Settings) -> Result<Db, StartupError> {
    connect_database_observed(settings, None).await
}

/// Reverts every migration and applies them again (`migrate --redo`): every table is
/// dropped with all its rows. Refused, with nothing reverted, where this role may not
/// drop the audit trail (see `storage::migrations::redo_all`).
pub async fn redo_migrations(db: &Db) -> Result<(), StartupError> {
    Ok(db.run(migrations::redo_all).await?)
}

/// [`connect_database`], with the pool's waits reported to `observer`.
pub async fn connect_database_observed(
    settings: &Settings,
    observer: Option<Arc<dyn crate::storage::PoolObserver>>,
) -> Result<Db, StartupError> {
    let db = Db::connect_observed(
        &settings.database.url,
        settings.database.pool_size,
        Duration::from_secs(settings.database.acquire_timeout_secs),
        observer,
    )?
    .with_query_timeout(Duration::from_millis(settings.database.query_timeout_ms));
    let applied = db.run(migrations::run_pending).await?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(db)
}

/// The store the settings name; the in-process one expires its entries on `clock`.
pub async fn connect_store(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn Store>, StartupError> {
    let cluster = settings.redis.cluster_nodes();
    let nodes = match (settings.redis.url.as_str(), cluster.is_empty()) {
        ("", true) => {
            return Ok(Arc::new(MemoryStore::bounded(
                crate::store::memory::Limits {
                    max_entries: settings.redis.in_process_max_entries,
                    max_bytes: settings.redis.in_process_max_bytes,
                },
                clock,
            )));
        }
        ("", false) => RedisNodes::Cluster(&cluster),
        (url, _) => RedisNodes::Single(url),
    };
    let store = RedisStore::connect(RedisOptions {
        nodes,
        key_prefix: &settings.redis.key_prefix,
        response_timeout: Duration::from_millis(settings.redis.response_timeout_ms),
        connection_timeout: Duration::from_millis(settings.redis.connection_timeout_ms),
    })
    .await?;
    Ok(Arc::new(store))
}

/// The signing keys of an instance, and the secret that unseals them.
pub struct Keys {
    pub rings: keyring::Rings,
    pub sealer: Arc<Sealer>,
    pub secret: ServerSecret,
}

/// How long a retired key stays published, under these settings.
pub fn key_retention(settings: &Settings) -> chrono::Duration {
    keys::retention(
        settings.tokens.id_token_ttl_secs,
        settings.tokens.access_token_ttl_secs,
        settings.keys.reload_interval_secs,
    )
}

/// Reads (or first generates) the server secret, imports PEM keys of the old file
/// layout, generates a key for any algorithm that has none, and loads the published
/// keys. Fails if any of them cannot be decrypted: a wrong secret must stop start-up.
pub async fn load_keys(
    settings: &Settings,
    db: &Db,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Keys, StartupError> {
    let dir = settings.keys.dir.clone();
    let configured = settings.keys.secret.expose().to_owned();
    let may_generate = !db.run(signing_keys::any_sealed).await?;
    let (secret, source, legacy) = tokio::task::spawn_blocking(move || {
        let (secret, source) = ServerSecret::load(&configured, &dir, may_generate)?;
        let legacy = keys::legacy_key_files(&dir)?;
        Ok::<_, StartupError>((secret, source, legacy))
    })
    .await
    .map_err(|e| StartupError::Other(e.to_string()))??;
    if let server_secret::Source::Generated(path) = &source {
        tracing::info!(path = %path.display(), "generated the server secret");
    }
    let sealer = Arc::new(Sealer::new(&secret)?);
    let retention = key_retention(settings);
    let (prepared, set) = {
        let sealer = sealer.clone();
        db.run(move |conn| {
            // Opening the stored keys first proves the secret before anything is
            // written with it.
            let stored = keyring::load(conn, &sealer, KeyPurpose::Token, now, None)?;
            let prepared = keyring::prepare(conn, &sealer, legacy, now, retention)?;
            let token = keyring::load(conn, &sealer, KeyPurpose::Token, now, Some(&stored))?;
            let federation = keyring::load(conn, &sealer, KeyPurpose::Federation, now, None)?;
            Ok::<_, KeyringError>((prepared, (token, federation)))
        })
        .await?
    };
    for (kid, alg, path) in prepared.imported {
        tracing::warn!(%kid, alg = alg.as_str(), path = %path.display(), "imported a signing key from the old file layout; the file can be deleted once every instance runs this version");
    }
    for (kid, alg, purpose) in prepared.generated {
        tracing::info!(%kid, alg = alg.as_str(), purpose = purpose.as_str(), "generated a signing key");
    }
    let (token, federation) = set;
    Ok(Keys {
        rings: keyring::Rings {
            token: Arc::new(KeyRing::new(token)),
            federation: Arc::new(KeyRing::new(federation)),
        },
        sealer,
        secret,
    })
}

pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> Result<Application, StartupError> {
    build_on(settings, clock, None).await
}

/// [`build`], on `store` when given instead of the one the settings name: instances
/// that share an in-process store, as Redis is shared between processes.
pub async fn build_on(
    settings: Settings,
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn Store>>,
) -> Result<Application, StartupError> {
    settings.validate()?;
    settings.refuse_demo_in_production()?;
    let listen = settings.listen_addr()?;
    let listener = TcpListener::bind(listen).map_err(|source| StartupError::Listen {
        addr: listen,
        source,
    })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StartupError::Listen {
            addr: listen,
            source,
        })?;
    // With no configured issuer, the issuer follows the address actually bound (port 0
    // in tests becomes a real port).
    let issuer = if settings.server.issuer.is_empty() {
        format!("http://{bound}")
    } else {
        settings.issuer()?.as_str().trim_end_matches('/').to_owned()
    };

    let metrics = Metrics::new().map_err(|e| StartupError::Other(format!("metrics: {e}")))?;
    let db = connect_database_observed(&settings, Some(Arc::new(metrics.clone()))).await?;
    let keys = load_keys(&settings, &db, clock.now()).await?;
    let raw_store = match store {
        Some(store) => store,
        None => connect_store(&settings, clock.clone()).await?,
    };
    let store: Arc<dyn Store> = Arc::new(MeteredStore::new(raw_store.clone(), metrics.clone()));
    warn_if_metrics_hidden(&settings, &issuer);
    let hasher = {
        let password = settings.password.clone();
        tokio::task::spawn_blocking(move || PasswordHasher::new(&password))
            .await
            .map_err(|e| StartupError::Other(e.to_string()))??
    };

    let demo = if settings.demo.enabled {
        Some(web::Data::new(
            seed_demo(&settings, &db, &hasher, &issuer, clock.as_ref()).await?,
        ))
    } else {
        None
    };

    // A disclosure waits for its audit row no longer than for any other query.
    let audit = AuditLog::start(
        db.clone(),
        Duration::from_millis(settings.database.query_timeout_ms),
    );
    let key_reloader = keyring::spawn_reloader(
        db.clone(),
        keys.rings.clone(),
        keys.sealer.clone(),
        clock.clone(),
        Duration::from_secs(settings.keys.reload_interval_secs),
    );
    let endpoints = Endpoints::new(&issuer);
    let access_token_alg = settings.tokens.access_token_alg;
    let passkeys = crate::authn::passkey::relying_party(&issuer, &settings.passkeys.rp_id)
        .map_err(StartupError::Other)?;
    let identities = Arc::new(crate::registry::identity_cache::IdentityCache::new(
        settings.database.register_cache_ms,
        settings.database.register_watch_ms,
    ));
    let transports =
        crate::notify::Transports::new(&settings.notify).map_err(StartupError::Other)?;
    let state = web::Data::new(AppState {
        passkeys,
        discovery_json: discovery::document(&issuer, &endpoints, &settings).to_string(),
        dpop_nonces: crate::protocol::dpop::Nonces::new(
            &keys.secret.derive(crate::protocol::dpop::NONCE_KEY_PURPOSE),
            settings.dpop.nonce_rotation_secs,
        ),
        secure_cookies: issuer.starts_with("https://"),
        cookies: crate::authn::cookies::CookiePolicy::new(
            &settings.session.cookie_name,
            issuer.starts_with("https://"),
            &keys.secret,
        ),
        issuer: issuer.clone(),
        endpoints,
        db,
        store,
        keys: keys.rings.token,
        federation_keys: keys.rings.federation,
        federation: crate::federation::resolve::Resolver::new(&settings.federation),
        key_sealer: keys.sealer.clone(),
        pairwise_key: crate::tokens::subject::PairwiseKey::new(
            &keys
                .secret
                .derive(crate::tokens::subject::PAIRWISE_KEY_PURPOSE),
        ),
        secret: keys.secret,
        clock,
        hasher,
        audit: audit.clone(),
        access_token_alg,
        http: outbound_http_client(&settings)?,
        logout_wakeup: Default::default(),
        notify: Arc::new(transports),
        notify_wakeup: Default::default(),
        client_keys: Default::default(),
        clients: Default::default(),
        identities: identities.clone(),
        verified_tokens: Default::default(),
        metrics,
        settings: settings.clone(),
    });

    if identities.enabled() {
        tokio::spawn(crate::registry::identity_cache::watch(
            identities,
            state.db.clone(),
            Duration::from_millis(settings.database.register_watch_ms),
        ));
    }

    // Sends the queued back-channel logout tokens and ends the sessions of accounts
    // stopped elsewhere (see `oidc::logout::outbox`).
    let logout_worker = OutboxWorker::start(state.clone());
    // Sends the queued messages to citizens (see `notify`).
    let notify_worker = NotifyWorker::start(crate::notify::worker::Outbox {
        db: state.db.clone(),
        transports: state.notify.clone(),
        clock: state.clock.clone(),
        settings: Arc::new(settings.notify.clone()),
        wakeup: state.notify_wakeup.clone(),
    });

    let https = issuer.starts_with("https://");
    let max_body = settings.server.max_body_bytes;
    let request_limits = Arc::new(RequestLimits::new(&settings.limits));
    let on_connect = request_limits.on_connect();
    let request_limits = web::Data::from(request_limits);
    let demo_enabled = settings.demo.enabled;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(request_limits.clone())
            .app_data(web::PayloadConfig::new(max_body))
            .wrap(from_fn(limits::enforce))
            .wrap(security_headers::headers(https))
            .wrap(from_fn(access_log::access_log))
            .configure(|cfg| {
                if let Some(demo) = &demo {
                    pages::demo::routes(cfg, demo.clone());
                }
            })
            .configure(routes)
    })
    .on_connect(on_connect)
    .client_request_timeout(Duration::from_millis(
        settings.limits.request_head_timeout_ms,
    ))
    .shutdown_timeout(30);
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    let server = server
        .listen(listener)
        .map_err(|source| StartupError::Listen {
            addr: listen,
            source,
        })?
        .run();
    Ok(Application {
        server,
        audit,
        key_reloader,
        logout_worker,
        notify_worker,
        issuer,
        port: bound.port(),
        store: raw_store,
        demo_enabled,
    })
}

/// Every route: each edge module's table, then the plumbing that belongs to no edge.
fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(oidc::routes)
        .configure(pages::routes)
        .configure(client_admin::routes)
        .route("/openapi.json", web::get().to(openapi::openapi_get))
        .route("/healthz", web::get().to(health::healthz_get))
        .route("/readyz", web::get().to(health::readyz_get))
        .route("/metrics", web::get().to(metrics_endpoint::metrics_get))
        .default_service(web::to(pages::not_found));
}

/// An https issuer without a metrics token: `/metrics` stays hidden (see
/// `http::metrics`), which an operator who left it enabled should hear about.
fn warn_if_metrics_hidden(settings: &Settings, issuer: &str) {
    if settings.metrics.enabled
        && settings.metrics.token.expose().is_empty()
        && issuer.starts_with("https://")
    {
        tracing::warn!(
            "metrics.enabled but no metrics.token on an https issuer: /metrics is not served (set CITIZEN_IDP__METRICS__TOKEN)"
        );
    }
}

async fn seed_demo(
    settings: &Settings,
    db: &Db,
    hasher: &PasswordHasher,
    issuer: &str,
    clock: &dyn Clock,
) -> Result<DemoRelyingParty, StartupError> {
    let citizen_id = NationalId::parse(&settings.demo.citizen_id)
        .map_err(|e| StartupError::Other(format!("demo.citizen_id: {e}")))?;
    let password_hash = hasher
        .hash(crate::domain::secret::Password::new(
            settings.demo.citizen_password.clone(),
        ))
        .await?;
    let now = clock.now();
    let population = settings.demo.population;
    let issuer_owned = issuer.to_owned();
    let (seeded, secret) = db
        .run(move |conn| {
            seed::seed_demo(
                conn,
                DemoSeed {
                    population,
                    citizen_id,
                    password_hash: &password_hash,
                    issuer: &issuer_owned,
                },
                now.date_naive(),
                now.naive_utc(),
            )
        })
        .await?;
    if seeded > 0 {
        tracing::info!(
            citizens = seeded,
            "seeded the demo population, account and clients"
        );
    }
    DemoRelyingParty::new(
        seed::DEMO_PORTAL_ID.into(),
        secret.expose().to_owned(),
        issuer,
    )
    .map_err(|e| StartupError::Other(e.to_string()))
}
