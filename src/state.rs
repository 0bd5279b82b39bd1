//! The application state handed to every handler. No globals: everything a request
//! needs is here, built once by `startup`.

use std::sync::Arc;

use crate::authn::password::PasswordHasher;
use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::signing_alg::SigningAlg;
use crate::server_secret::ServerSecret;
use crate::storage::Db;
use crate::store::Store;
use crate::tokens::key_set::KeyRing;

pub struct AppState {
    pub settings: Settings,
    /// The issuer URL, without a trailing slash.
    pub issuer: String,
    pub endpoints: Endpoints,
    pub db: Db,
    pub store: Arc<dyn Store>,
    /// The signing keys, reloaded from the database every `keys.reload_interval_secs`:
    /// take `keys.current()` once per request.
    pub keys: Arc<KeyRing>,
    /// The keys that sign this server's OpenID Federation statements, reloaded with
    /// the token keys; never published at `/jwks.json` (see `federation`).
    pub federation_keys: Arc<KeyRing>,
    /// Resolves (and caches) other entities' OpenID Federation trust chains.
    pub federation: crate::federation::resolve::Resolver,
    /// Opens the sealed private keys, for a reload outside the periodic one (after an
    /// operator withdraws a key over the admin API).
    pub key_sealer: Arc<crate::tokens::keyring::Sealer>,
    /// The server secret. Derive a key per purpose with `secret.derive("purpose")`
    /// (see `server_secret` for the purposes in use); never use it directly.
    pub secret: ServerSecret,
    pub clock: Arc<dyn Clock>,
    pub hasher: PasswordHasher,
    pub audit: crate::audit::AuditLog,
    pub access_token_alg: SigningAlg,
    /// Whether the issuer is https, which decides the cookies' Secure attribute.
    pub secure_cookies: bool,
    /// The session and browser cookies: their names (`__Host-` on https) and the
    /// browser secret's MAC.
    pub cookies: crate::authn::cookies::CookiePolicy,
    /// The discovery document, serialised once: it changes only at restart. (The JWKS
    /// changes with the keys: `keys.current().jwks_json()`.)
    pub discovery_json: String,
    /// For calls to relying parties' URLs (jwks_uri, back-channel logout), under the
    /// outbound address policy (see `outbound`).
    pub http: crate::outbound::Outbound,
    /// Wakes this server's logout worker when a request queued work for it (see
    /// `oidc::logout::outbox`); work queued elsewhere is found by polling.
    pub logout_wakeup: Arc<tokio::sync::Notify>,
    /// The transports of messages to citizens (see `notify`).
    pub notify: Arc<crate::notify::Transports>,
    /// Wakes this server's notification worker when a message is queued.
    pub notify_wakeup: Arc<tokio::sync::Notify>,
    /// Client registrations, cached for a few seconds (see `protocol::clients`).
    pub clients: crate::protocol::clients::ClientCache,
    /// What introspection and userinfo read from the register (`database.register_cache_ms`),
    /// emptied by every change to it wherever made, within a bound
    /// (`registry::identity_cache`).
    pub identities: Arc<crate::registry::identity_cache::IdentityCache>,
    /// Access tokens already verified, for introspection and userinfo.
    pub verified_tokens: crate::tokens::verified::VerifiedTokens,
    /// Keys of private_key_jwt clients fetched from their jwks_uri.
    pub client_keys: crate::protocol::client_keys::ClientKeyCache,
    /// Derives pairwise subjects (OIDC Core §8), from the server secret.
    pub pairwise_key: crate::tokens::subject::PairwiseKey,
    /// This server's metrics (its own registry: several servers may share a process).
    pub metrics: crate::metrics::Metrics,
    /// The WebAuthn relying party (see `authn::passkey`); `None` on an issuer whose host
    /// is an IP address, where browsers refuse passkeys.
    pub passkeys: Option<webauthn_rs::Webauthn>,
    /// The DPoP server nonces, from the server secret.
    pub dpop_nonces: crate::protocol::dpop::Nonces,
}

impl AppState {
    /// The parts the protocol's services use (see `protocol`).
    pub fn protocol(&self) -> crate::protocol::Context<'_> {
        crate::protocol::Context {
            settings: &self.settings,
            issuer: &self.issuer,
            token_endpoint: &self.endpoints.token,
            db: &self.db,
            store: self.store.as_ref(),
            keys: &self.keys,
            access_token_alg: self.access_token_alg,
            pairwise_key: &self.pairwise_key,
            audit: &self.audit,
            clients: &self.clients,
            client_keys: &self.client_keys,
            identities: &self.identities,
            verified_tokens: &self.verified_tokens,
            outbound: &self.http,
            logout_wakeup: &self.logout_wakeup,
            cookies: &self.cookies,
            passkeys_on: self.passkeys.is_some(),
            dpop_nonces: &self.dpop_nonces,
            federation: &self.federation,
        }
    }

    /// The parts the second-factor and passkey services use.
    pub fn authn(&self) -> crate::authn::AuthnContext<'_> {
        crate::authn::AuthnContext {
            db: &self.db,
            store: self.store.as_ref(),
            secret: &self.secret,
            passkeys: self.passkeys.as_ref(),
            login_ttl: std::time::Duration::from_secs(self.settings.session.login_ttl_secs),
        }
    }
}

/// Absolute URLs of the endpoints, derived from the issuer.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub pushed_authorization: String,
    pub userinfo: String,
    pub jwks: String,
    pub revocation: String,
    pub introspection: String,
    pub end_session: String,
}

impl Endpoints {
    pub fn new(issuer: &str) -> Self {
        Endpoints {
            authorization: format!("{issuer}/authorize"),
            token: format!("{issuer}/token"),
            pushed_authorization: format!("{issuer}/par"),
            userinfo: format!("{issuer}/userinfo"),
            jwks: format!("{issuer}/jwks.json"),
            revocation: format!("{issuer}/revoke"),
            introspection: format!("{issuer}/introspect"),
            end_session: format!("{issuer}/logout"),
        }
    }
}
