//! Typed settings, layered: the built-in `config/default.toml`, then an optional file
//! given with `--config`, then `CITIZEN_IDP__SECTION__KEY` environment variables.
//!
//! Every setting is checked once at start-up; a bad one stops the process with a
//! message naming the key and the reason, so a misconfigured instance never serves.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::{Config, ConfigError, File, FileFormat, Map, Source, Value, ValueKind};
use serde::Deserialize;
use url::Url;

const DEFAULTS: &str = include_str!("../config/default.toml");
const ENV_PREFIX: &str = "CITIZEN_IDP";
/// The longest `session.reauth_max_age_secs` allowed: a few minutes, not a session.
const MAX_REAUTH_MAX_AGE_SECS: u64 = 900;
/// The settings that hold a list: from the environment, comma-separated
/// (CITIZEN_IDP__REDIS__CLUSTER_URLS=redis://a:6379,redis://b:6379).
const LIST_SETTINGS: [&str; 5] = [
    "redis.cluster_urls",
    "limits.trusted_proxies",
    "dpop.allowed_algs",
    "federation.authority_hints",
    "federation.required_trust_marks",
];

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key,
        reason: reason.into(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub limits: LimitSettings,
    pub redis: RedisSettings,
    pub keys: KeySettings,
    pub tokens: TokenSettings,
    pub session: SessionSettings,
    pub logout: LogoutSettings,
    pub admin: AdminSettings,
    pub password: PasswordSettings,
    pub login_protection: LoginProtectionSettings,
    pub passkeys: PasskeySettings,
    pub demo: DemoSettings,
    pub log: LogSettings,
    pub metrics: MetricsSettings,
    pub outbound: OutboundSettings,
    pub dpop: DpopSettings,
    pub par: ParSettings,
    pub notify: NotifySettings,
    pub federation: FederationSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: String,
    pub issuer: String,
    pub workers: usize,
    pub max_body_bytes: usize,
    /// `fapi2` holds every client to the FAPI 2.0 Security Profile, whatever it
    /// registered; `standard` (the default) lets each client choose its own.
    #[serde(default)]
    pub profile: crate::domain::client_security::Profile,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub acquire_timeout_secs: u64,
    pub query_timeout_ms: u64,
    /// How long introspection and userinfo may keep what they read from the register
    /// (0: never; see `registry::identity_cache`).
    #[serde(default)]
    pub register_cache_ms: u64,
    /// How often each instance reads the register's version to empty that cache; a
    /// change reaches every answer within four of these.
    #[serde(default = "default_register_watch_ms")]
    pub register_watch_ms: u64,
}

fn default_register_watch_ms() -> u64 {
    250
}

impl DatabaseSettings {
    /// Whether `url` names PostgreSQL, where the audit trail is append-only and may be
    /// locked down.
    pub fn is_postgres(&self) -> bool {
        crate::storage::Backend::from_url(&self.url) == Ok(crate::storage::Backend::Postgres)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub max_uri_bytes: usize,
    pub max_header_bytes: usize,
    pub request_head_timeout_ms: u64,
    pub max_connections_per_ip: usize,
    pub requests_per_minute_per_ip: u64,
    /// Logins one client IP (an IPv6 /64) may start per `session.login_ttl_secs`.
    pub login_flows_per_ip: u64,
    /// Logins one browser may start per `session.login_ttl_secs`.
    pub login_flows_per_browser: u64,
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// One Redis server; empty for none.
    pub url: String,
    /// Some nodes of a Redis Cluster; empty for none. Never both this and `url`.
    pub cluster_urls: Vec<String>,
    pub key_prefix: String,
    pub response_timeout_ms: u64,
    pub connection_timeout_ms: u64,
    /// Bounds of the in-process store.
    pub in_process_max_entries: usize,
    pub in_process_max_bytes: usize,
}

impl RedisSettings {
    /// The cluster's node URLs, without blank entries (so that an empty environment
    /// variable means no cluster).
    pub fn cluster_nodes(&self) -> Vec<String> {
        self.cluster_urls
            .iter()
            .map(|url| url.trim())
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn validate(&self) -> Result<(), SettingsError> {
        // Room for at least a few thousand logins at once, whatever else it holds.
        if self.in_process_max_entries < 1000 || self.in_process_max_bytes < 1 << 20 {
            return Err(invalid(
                "redis.in_process_max_entries",
                "the in-process store needs at least 1000 entries and 1 MiB",
            ));
        }
        let cluster = self.cluster_nodes();
        if !self.url.is_empty() && !cluster.is_empty() {
            return Err(invalid(
                "redis.cluster_urls",
                "set either redis.url (one Redis server) or redis.cluster_urls (a Redis Cluster), not both",
            ));
        }
        if !self.url.is_empty() {
            redis_url(&self.url).map_err(|reason| invalid("redis.url", reason))?;
        }
        // The store's own hash tags ({...}) choose which keys share a slot; braces in the
        // prefix would override them.
        if !cluster.is_empty() && self.key_prefix.contains(['{', '}']) {
            return Err(invalid(
                "redis.key_prefix",
                "must not contain { or } with a Redis Cluster",
            ));
        }
        // Entries are named by position: a URL may carry a password.
        for (n, node) in cluster.iter().enumerate() {
            let entry = n + 1;
            let url = redis_url(node).map_err(|reason| {
                invalid("redis.cluster_urls", format!("entry {entry}: {reason}"))
            })?;
            // A Redis Cluster has database 0 only (SELECT is refused in cluster mode).
            if !matches!(url.path(), "" | "/" | "/0") {
                return Err(invalid(
                    "redis.cluster_urls",
                    format!("entry {entry}: a Redis Cluster has database 0 only"),
                ));
            }
        }
        Ok(())
    }
}

fn redis_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "redis" | "rediss") {
        return Err("scheme must be redis or rediss".into());
    }
    Ok(url)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    pub dir: PathBuf,
    pub secret: SecretSetting,
    pub reload_interval_secs: u64,
    pub prepublish_secs: u64,
}

/// A setting that holds a secret: read like a string, never printed by `Debug`.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct SecretSetting(String);

impl SecretSetting {
    pub fn new(value: String) -> Self {
        SecretSetting(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<empty>"
        } else {
            "<redacted>"
        })
    }
}

/// Pushed authorization requests (RFC 9126).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParSettings {
    /// How long a pushed request waits for its browser, at most 60 s.
    pub lifetime_secs: u64,
    /// Every client must push its authorization requests; plain ones are refused.
    pub required: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    pub code_ttl_secs: u64,
    pub id_token_ttl_secs: u64,
    pub access_token_ttl_secs: u64,
    /// Parsed as it is read: a name we do not sign with fails the load, naming the key.
    pub access_token_alg: crate::domain::signing_alg::SigningAlg,
    pub refresh_token_ttl_secs: u64,
    pub refresh_family_max_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    pub ttl_secs: u64,
    pub cookie_name: String,
    pub login_ttl_secs: u64,
    /// How recent a login must be to bind or remove an authenticator, or to renew the
    /// recovery codes (NIST SP 800-63B §6.1.2.1); it must also have presented the
    /// account's second factor, if it has one.
    pub reauth_max_age_secs: u64,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// The shared bootstrap token; empty turns it off.
    pub token: String,
    /// Whether officers' personal tokens open the admin API.
    pub officer_tokens: bool,
    /// The longest life of a personal token.
    pub officer_token_max_days: u32,
    /// How recent an officer's login must be for the console: its sessions are short.
    pub officer_session_max_age_secs: u64,
}

impl std::fmt::Debug for AdminSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSettings").finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogoutSettings {
    pub backchannel_timeout_ms: u64,
    pub backchannel_attempts: u32,
    pub backchannel_retry_base_ms: u64,
    /// How often a server looks for queued work it was not told about.
    pub outbox_poll_ms: u64,
    /// How long finished deliveries stay in the outbox.
    pub outbox_retention_secs: u64,
}

/// Messages to citizens (`notify`): one-time codes and security notices, by e-mail
/// and SMS, through the notification outbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// Whether a login from a kind of device (browser and system) the account never
    /// logged in from is told to its proven contacts.
    pub new_device_notice: bool,
    /// Attempts per message (1 to 10) while a transport is down or answers a
    /// temporary failure.
    pub attempts: u32,
    /// Wait before the second attempt; it doubles before each further one.
    pub retry_base_ms: u64,
    /// How often each server looks for messages another process queued.
    pub outbox_poll_ms: u64,
    /// How long a finished message (blanked) stays in the outbox.
    pub outbox_retention_secs: u64,
    /// Life of a one-time code sent to a contact.
    pub code_ttl_secs: u64,
    /// Wrong codes accepted before a code is void.
    pub code_attempts: u64,
    /// Codes sent to one contact, and codes asked for from one address, per hour.
    pub codes_per_contact_per_hour: u64,
    pub codes_per_ip_per_hour: u64,
    pub smtp: SmtpSettings,
    pub sms: SmsSettings,
}

impl NotifySettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if !(1..=10).contains(&self.attempts) {
            return Err(invalid("notify.attempts", "must be between 1 and 10"));
        }
        if !(10..=60_000).contains(&self.outbox_poll_ms) {
            return Err(invalid(
                "notify.outbox_poll_ms",
                "must be between 10 and 60000",
            ));
        }
        if !(60..=3600).contains(&self.code_ttl_secs) {
            return Err(invalid(
                "notify.code_ttl_secs",
                "must be between 60 and 3600",
            ));
        }
        if !(1..=10).contains(&self.code_attempts) {
            return Err(invalid("notify.code_attempts", "must be between 1 and 10"));
        }
        if self.codes_per_contact_per_hour == 0 || self.codes_per_ip_per_hour == 0 {
            return Err(invalid(
                "notify",
                "codes_per_contact_per_hour and codes_per_ip_per_hour must be at least 1",
            ));
        }
        self.smtp.validate()?;
        self.sms.validate()
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// TLS from the first byte (port 465).
    Tls,
    /// A plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// No TLS at all: only to a relay on the same machine (loopback).
    None,
}

/// The mail relay e-mails go through. An empty `host` turns e-mail off.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// A PEM file of certificate authorities to trust besides the public ones (a
    /// relay with a certificate from the organisation's own authority).
    pub ca_file: String,
    pub username: String,
    pub password: SecretSetting,
    /// The sender, e.g. `Định danh điện tử <no-reply@example.gov.vn>`.
    pub from: String,
    pub timeout_ms: u64,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

impl SmtpSettings {
    pub fn enabled(&self) -> bool {
        !self.host.is_empty()
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if !self.enabled() {
            return Ok(());
        }
        // The sender is parsed as a mailbox when the relay is built, at start-up.
        let loopback = self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if self.security == SmtpSecurity::None && !loopback {
            return Err(invalid(
                "notify.smtp.security",
                "none is allowed only to a relay on loopback: use tls or starttls",
            ));
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            return Err(invalid(
                "notify.smtp.timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        Ok(())
    }
}

/// The SMS gateway: each message is a JSON POST (`{"to": …, "text": …}`) with a bearer
/// token. An empty `url` turns SMS off.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    pub url: String,
    pub token: SecretSetting,
    /// The sender name or number the gateway shows, if it takes one (`from`).
    pub sender: String,
    pub timeout_ms: u64,
}

impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSettings")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl SmsSettings {
    pub fn enabled(&self) -> bool {
        !self.url.is_empty()
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if !self.enabled() {
            return Ok(());
        }
        let url =
            url::Url::parse(&self.url).map_err(|_| invalid("notify.sms.url", "is not a URL"))?;
        let loopback = url.host_str().is_some_and(|host| {
            host == "localhost"
                || host
                    .trim_matches(|c| c == '[' || c == ']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(invalid(
                "notify.sms.url",
                "must be https (http only to a gateway on loopback)",
            ));
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            return Err(invalid(
                "notify.sms.timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hashes computed at once; each holds `memory_kib` of memory while it runs.
    /// Unset: one per core. 0 turns every password away as busy (maintenance, tests).
    #[serde(default)]
    pub max_concurrent_hashes: Option<usize>,
    /// Hashes that may wait for a turn; beyond that a login is answered "busy, retry"
    /// (HTTP 503 with Retry-After) at once instead of queueing until it times out.
    #[serde(default = "default_max_queued_hashes")]
    pub max_queued_hashes: usize,
}

fn default_max_queued_hashes() -> usize {
    32
}

/// Login protection (`[login_protection]`): progressive delays, lockouts and rate
/// limits on password guessing and enrolment, counted in the store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginProtectionSettings {
    /// Consecutive failures for one number before each further attempt must wait.
    pub delay_after_failures: u64,
    /// The first wait; it doubles with each further failure, up to `lockout_secs`.
    pub first_delay_secs: u64,
    /// Consecutive failures for one number before every failure locks it out.
    pub lockout_after_failures: u64,
    pub lockout_secs: u64,
    /// Consecutive failures after which the account is locked until an officer
    /// unlocks it (NIST SP 800-63B: at most 100).
    pub lock_account_after_failures: u64,
    /// How long failures are remembered, counted from the first one.
    pub failure_memory_secs: u64,
    /// Failed logins per client IP per hour before the IP must wait (0 = none).
    pub ip_failures_per_hour: u64,
    /// Enrolment attempts per client IP per hour (0 = none).
    pub enrol_attempts_per_hour: u64,
    /// Consecutive wrong second factors (TOTP, recovery code, passkey) for one account
    /// before each further one must wait, with the password's progressive waits. They
    /// count toward `lock_account_after_failures` too, and only an accepted second
    /// factor resets them.
    pub second_factor_delay_after_failures: u64,
}

impl LoginProtectionSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.delay_after_failures == 0 || self.first_delay_secs == 0 || self.lockout_secs == 0 {
            return Err(invalid(
                "login_protection",
                "delay_after_failures, first_delay_secs and lockout_secs must be at least 1",
            ));
        }
        if !(self.delay_after_failures <= self.lockout_after_failures
            && self.lockout_after_failures <= self.lock_account_after_failures)
        {
            return Err(invalid(
                "login_protection",
                "delay_after_failures <= lockout_after_failures <= lock_account_after_failures",
            ));
        }
        if !(1..=100).contains(&self.lock_account_after_failures) {
            return Err(invalid(
                "login_protection.lock_account_after_failures",
                "must be between 1 and 100 (NIST SP 800-63B §5.2.2)",
            ));
        }
        if self.failure_memory_secs < self.lockout_secs {
            return Err(invalid(
                "login_protection.failure_memory_secs",
                "must be at least lockout_secs",
            ));
        }
        // Six digits give a guesser 3 chances in a million per code: 100 codes before
        // the waits start is the most this may allow (NIST SP 800-63B's cap).
        if !(1..=100).contains(&self.second_factor_delay_after_failures) {
            return Err(invalid(
                "login_protection.second_factor_delay_after_failures",
                "must be between 1 and 100",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeySettings {
    /// The WebAuthn relying party id; empty = the issuer's host.
    pub rp_id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSettings {
    pub enabled: bool,
    /// Lets the demo run where it looks like production (an https issuer, PostgreSQL);
    /// see [`Settings::refuse_demo_in_production`].
    pub allow_in_production: bool,
    pub population: u64,
    pub citizen_id: String,
    pub citizen_password: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub filter: String,
    pub format: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// Bearer token of `/metrics`; empty = loopback peers only, on an http issuer.
    pub token: SecretSetting,
}

/// Requests the server makes to relying parties' URLs (see `outbound`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSettings {
    /// Development only: http, loopback and private addresses allowed.
    pub allow_private_networks: bool,
}

/// OpenID Federation 1.0 (see `federation`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSettings {
    pub enabled: bool,
    pub organization_name: String,
    pub authority_hints: Vec<String>,
    pub statement_ttl_secs: u64,
    pub trust_anchors: Vec<TrustAnchorSettings>,
    pub fetch_timeout_ms: u64,
    pub max_statement_bytes: usize,
    pub max_chain_length: usize,
    pub resolve_cache_secs: u64,
    /// The most a relying party registered through the federation may ask for.
    pub relying_party_scopes: String,
    /// The types of trust mark a relying party must carry to be registered
    /// automatically.
    pub required_trust_marks: Vec<String>,
    /// As a trust anchor: who may issue each type of trust mark (published in the
    /// entity configuration).
    pub trust_mark_issuers: std::collections::BTreeMap<String, Vec<String>>,
    /// Trust marks this server carries, published in its entity configuration.
    pub trust_marks: Vec<TrustMarkSettings>,
}

/// A trust mark this server was given: its type and the signed mark.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustMarkSettings {
    pub trust_mark_type: String,
    pub trust_mark: String,
}

/// A trust anchor: its entity identifier and its federation keys (a JWK Set).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustAnchorSettings {
    pub entity_id: String,
    pub jwks: String,
}

/// DPoP proofs (RFC 9449), checked by `protocol::dpop`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpopSettings {
    /// The JWS algorithms a proof may be signed with (asymmetric only).
    pub allowed_algs: Vec<String>,
    /// How long after its `iat` a proof is accepted.
    pub proof_max_age_secs: u64,
    /// How far ahead of our clock a proof's `iat` may be (the client's clock runs fast).
    pub proof_future_skew_secs: u64,
    /// Every proof must carry a nonce this server gave (RFC 9449 §8).
    pub nonce_required: bool,
    /// How often the nonce changes; a nonce is accepted for one to two of these.
    pub nonce_rotation_secs: u64,
}

impl DpopSettings {
    fn validate(&self) -> Result<(), SettingsError> {
        if self.allowed_algs.is_empty() {
            return Err(invalid(
                "dpop.allowed_algs",
                "must name at least one algorithm",
            ));
        }
        // Asymmetric algorithms only: with HS256 the "key" in the proof's header would be
        // public, and anyone could sign; `none` signs nothing.
        if let Some(alg) = self
            .allowed_algs
            .iter()
            .find(|alg| crate::domain::client_keys::assertion_alg(alg).is_none())
        {
            return Err(invalid(
                "dpop.allowed_algs",
                format!(
                    "{alg:?} is not one of {}",
                    crate::domain::client_keys::assertion_alg_names().join(" ")
                ),
            ));
        }
        if !(1..=300).contains(&self.proof_max_age_secs) {
            return Err(invalid(
                "dpop.proof_max_age_secs",
                "must be between 1 and 300 seconds",
            ));
        }
        if self.proof_future_skew_secs > 60 {
            return Err(invalid(
                "dpop.proof_future_skew_secs",
                "must be at most 60 seconds",
            ));
        }
        if !(10..=3600).contains(&self.nonce_rotation_secs) {
            return Err(invalid(
                "dpop.nonce_rotation_secs",
                "must be between 10 and 3600 seconds",
            ));
        }
        Ok(())
    }
}

/// The environment layer: each `CITIZEN_IDP__SECTION__KEY` variable as the text it was
/// written. The `config` crate's `Environment` with `try_parsing` read anything that
/// looks like a number as one: `001090000002` arrived as `1090000002`, and a token of
/// digits (or `1e5`) as another number. Here every value stays a string, and a numeric
/// or boolean setting parses its own text when it is deserialised, as a quoted value in
/// a TOML file would be. Lists ([`LIST_SETTINGS`]) are split at commas, their entries
/// trimmed, empty ones dropped (an empty variable is an empty list).
#[derive(Clone, Debug, Default)]
struct EnvironmentLayer {
    /// The variables; the process's when `None` (tests give their own).
    vars: Option<Vec<(String, String)>>,
}

impl EnvironmentLayer {
    /// The setting a variable names (`citizen_idp__demo__citizen_id` is
    /// `demo.citizen_id`); names are matched case-insensitively, as before.
    fn key_of(name: &str) -> Option<String> {
        let lower = name.to_ascii_lowercase();
        let key = lower.strip_prefix(&format!("{}__", ENV_PREFIX.to_ascii_lowercase()))?;
        (!key.is_empty()).then(|| key.replace("__", "."))
    }

    fn value_of(key: &str, text: String) -> ValueKind {
        let origin = Some("the environment".to_owned());
        if LIST_SETTINGS.contains(&key) {
            let entries = text
                .split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty())
                .map(|entry| Value::new(origin.as_ref(), ValueKind::String(entry.to_owned())))
                .collect();
            ValueKind::Array(entries)
        } else {
            ValueKind::String(text)
        }
    }
}

impl Source for EnvironmentLayer {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, ConfigError> {
        let origin = Some("the environment".to_owned());
        let mut settings = Map::new();
        let mut add = |name: &str, text: Option<String>| -> Result<(), ConfigError> {
            let Some(key) = Self::key_of(name) else {
                return Ok(());
            };
            // The value is never quoted back: it may be a secret.
            let text = text.ok_or_else(|| {
                ConfigError::Message(format!("environment variable {name}: not UTF-8"))
            })?;
            let value = Value::new(origin.as_ref(), Self::value_of(&key, text));
            settings.insert(key, value);
            Ok(())
        };
        match &self.vars {
            Some(vars) => {
                for (name, text) in vars {
                    add(name, Some(text.clone()))?;
                }
            }
            None => {
                for (name, text) in std::env::vars_os() {
                    // A name that is not UTF-8 is no setting of ours.
                    if let Some(name) = name.to_str() {
                        add(name, text.into_string().ok())?;
                    }
                }
            }
        }
        Ok(settings)
    }
}

impl Settings {
    /// Loads the layers and validates the result. `overlay` is the `--config` file.
    pub fn load(overlay: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_layers(overlay, EnvironmentLayer::default())
    }

    fn load_layers(
        overlay: Option<&Path>,
        environment: EnvironmentLayer,
    ) -> Result<Self, SettingsError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = overlay {
            builder = builder.add_source(File::from(path).required(true));
        }
        let settings: Settings = builder.add_source(environment).build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// The built-in defaults alone; tests layer their own values on top.
    pub fn defaults() -> Result<Self, SettingsError> {
        let settings: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()?
            .try_deserialize()?;
        Ok(settings)
    }

    /// Entity identifiers are URLs with no query or fragment (OpenID Federation 1.0
    /// §1.2), https unless private networks are allowed (development); trust anchors'
    /// keys must be a JWK Set of public keys.
    fn validate_federation(&self) -> Result<(), SettingsError> {
        let federation = &self.federation;
        let entity_id = |key: &'static str, id: &str| {
            let url = Url::parse(id).map_err(|e| invalid(key, format!("{id:?}: {e}")))?;
            let scheme_ok = url.scheme() == "https"
                || (url.scheme() == "http" && self.outbound.allow_private_networks);
            if !scheme_ok || url.query().is_some() || url.fragment().is_some() {
                return Err(invalid(
                    key,
                    format!("{id:?} must be an https URL with no query or fragment"),
                ));
            }
            Ok(())
        };
        for hint in &federation.authority_hints {
            entity_id("federation.authority_hints", hint)?;
        }
        for issuers in federation.trust_mark_issuers.values() {
            for issuer in issuers {
                entity_id("federation.trust_mark_issuers", issuer)?;
            }
        }
        if !federation.required_trust_marks.is_empty() && federation.trust_anchors.is_empty() {
            return Err(invalid(
                "federation.required_trust_marks",
                "needs a trust anchor whose configuration lists the marks' issuers",
            ));
        }
        for anchor in &federation.trust_anchors {
            entity_id("federation.trust_anchors", &anchor.entity_id)?;
            crate::domain::client_keys::parse_jwks(anchor.jwks.as_bytes()).map_err(|e| {
                invalid(
                    "federation.trust_anchors",
                    format!("the keys of {}: {e}", anchor.entity_id),
                )
            })?;
        }
        if !(60..=31 * 86_400).contains(&federation.statement_ttl_secs) {
            return Err(invalid(
                "federation.statement_ttl_secs",
                "must be between 60 and 2678400 (31 days)",
            ));
        }
        if !(100..=30_000).contains(&federation.fetch_timeout_ms) {
            return Err(invalid(
                "federation.fetch_timeout_ms",
                "must be between 100 and 30000",
            ));
        }
        if !(1024..=1024 * 1024).contains(&federation.max_statement_bytes) {
            return Err(invalid(
                "federation.max_statement_bytes",
                "must be between 1024 and 1048576",
            ));
        }
        if !federation
            .relying_party_scopes
            .split_whitespace()
            .any(|scope| scope == "openid")
        {
            return Err(invalid(
                "federation.relying_party_scopes",
                "must include openid",
            ));
        }
        if !(2..=10).contains(&federation.max_chain_length) {
            return Err(invalid(
                "federation.max_chain_length",
                "must be between 2 and 10",
            ));
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        self.listen_addr()?;
        self.issuer()?;
        self.validate_federation()?;
        // FAPI 2.0 §5.4.1 admits no RSASSA-PKCS1-v1_5: the access tokens every client of
        // the profile receives are then ES256.
        if self.server.profile == crate::domain::client_security::Profile::Fapi2
            && self.tokens.access_token_alg != crate::domain::signing_alg::SigningAlg::Es256
        {
            return Err(invalid(
                "tokens.access_token_alg",
                "must be ES256 under the fapi2 profile (FAPI 2.0 admits no RS256)",
            ));
        }
        if self.server.max_body_bytes < 1024 || self.server.max_body_bytes > 1024 * 1024 {
            return Err(invalid(
                "server.max_body_bytes",
                "must be between 1024 and 1048576",
            ));
        }
        for proxy in &self.limits.trusted_proxies {
            proxy.parse::<std::net::IpAddr>().map_err(|_| {
                invalid(
                    "limits.trusted_proxies",
                    format!("{proxy:?} is not an IP address"),
                )
            })?;
        }
        if self.limits.max_uri_bytes < 1024 || self.limits.max_header_bytes < 1024 {
            return Err(invalid(
                "limits",
                "max_uri_bytes and max_header_bytes must be at least 1024",
            ));
        }
        if self.database.query_timeout_ms == 0 {
            return Err(invalid("database.query_timeout_ms", "must be at least 1"));
        }
        if !(10..=5_000).contains(&self.database.register_watch_ms) {
            return Err(invalid(
                "database.register_watch_ms",
                "must be between 10 and 5000",
            ));
        }
        if self.database.pool_size == 0 {
            return Err(invalid("database.pool_size", "must be at least 1"));
        }
        crate::storage::Backend::from_url(&self.database.url)
            .map_err(|reason| invalid("database.url", reason))?;
        self.redis.validate()?;
        self.login_protection.validate()?;
        self.dpop.validate()?;
        self.notify.validate()?;
        if !self.keys.secret.expose().is_empty() {
            crate::server_secret::ServerSecret::parse(self.keys.secret.expose())
                .map_err(|e| invalid("keys.secret", e.to_string()))?;
        }
        if !(1..=3600).contains(&self.keys.reload_interval_secs) {
            return Err(invalid(
                "keys.reload_interval_secs",
                "must be between 1 and 3600 seconds",
            ));
        }
        // A new key must reach every instance (one reload) and every cached JWKS
        // answer (max-age is one reload interval) before it signs.
        if self.keys.prepublish_secs < 2 * self.keys.reload_interval_secs {
            return Err(invalid(
                "keys.prepublish_secs",
                "must be at least twice keys.reload_interval_secs",
            ));
        }
        // RFC 9126 §2.2 leaves the lifetime to the server; the browser is sent on at
        // once, and a pushed request that waits longer is only a target.
        if !(1..=60).contains(&self.par.lifetime_secs) {
            return Err(invalid(
                "par.lifetime_secs",
                "must be between 1 and 60 seconds",
            ));
        }
        if !(1..=60).contains(&self.tokens.code_ttl_secs) {
            return Err(invalid(
                "tokens.code_ttl_secs",
                "must be between 1 and 60 seconds",
            ));
        }
        if self.tokens.id_token_ttl_secs == 0
            || self.tokens.access_token_ttl_secs == 0
            || self.tokens.refresh_token_ttl_secs == 0
            || self.tokens.refresh_family_max_secs == 0
        {
            return Err(invalid("tokens", "token lifetimes must be positive"));
        }
        if self.session.ttl_secs == 0 || self.session.login_ttl_secs == 0 {
            return Err(invalid("session", "lifetimes must be positive"));
        }
        // Re-authentication means a login of a few minutes: a longer window would let an
        // unattended session change how its account logs in.
        if !(1..=MAX_REAUTH_MAX_AGE_SECS).contains(&self.session.reauth_max_age_secs) {
            return Err(invalid(
                "session.reauth_max_age_secs",
                "must be between 1 and 900 seconds",
            ));
        }
        let cookie_ok = !self.session.cookie_name.is_empty()
            && self
                .session
                .cookie_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !cookie_ok {
            return Err(invalid(
                "session.cookie_name",
                "must be letters, digits, '_' or '-'",
            ));
        }
        if !self.admin.token.is_empty() && self.admin.token.len() < 32 {
            return Err(invalid(
                "admin.token",
                "must be at least 32 characters (or empty to disable the admin API)",
            ));
        }
        if !(1..=10).contains(&self.logout.backchannel_attempts) {
            return Err(invalid(
                "logout.backchannel_attempts",
                "must be between 1 and 10",
            ));
        }
        if !(100..=30_000).contains(&self.logout.backchannel_timeout_ms) {
            return Err(invalid(
                "logout.backchannel_timeout_ms",
                "must be between 100 and 30000",
            ));
        }
        if self.logout.backchannel_retry_base_ms > 60_000 {
            return Err(invalid(
                "logout.backchannel_retry_base_ms",
                "must be at most 60000",
            ));
        }
        if !(10..=60_000).contains(&self.logout.outbox_poll_ms) {
            return Err(invalid(
                "logout.outbox_poll_ms",
                "must be between 10 and 60000",
            ));
        }
        if !(60..=7_776_000).contains(&self.logout.outbox_retention_secs) {
            return Err(invalid(
                "logout.outbox_retention_secs",
                "must be between 60 and 7776000 (90 days)",
            ));
        }
        // OWASP's floor for Argon2id; weaker settings would make stolen hashes cheap to crack.
        if self.password.memory_kib < 19456 || self.password.iterations < 2 {
            return Err(invalid(
                "password",
                "Argon2id cost below OWASP's minimum (memory_kib >= 19456, iterations >= 2)",
            ));
        }
        if self.password.parallelism == 0 {
            return Err(invalid("password.parallelism", "must be at least 1"));
        }
        if self.demo.enabled {
            crate::domain::national_id::NationalId::parse(&self.demo.citizen_id)
                .map_err(|e| invalid("demo.citizen_id", e.to_string()))?;
            if self.demo.citizen_password.chars().count() < 8 {
                return Err(invalid(
                    "demo.citizen_password",
                    "must be at least 8 characters",
                ));
            }
        }
        let metrics_token = self.metrics.token.expose();
        if !metrics_token.is_empty() && metrics_token.len() < 32 {
            return Err(invalid(
                "metrics.token",
                "must be at least 32 characters (or empty to serve loopback peers only)",
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "must be text or json"));
        }
        Ok(())
    }

    /// The demo seeds synthetic citizens, an account whose password is published in
    /// the README, and serves `/demo`: on a production instance, a way in for anyone.
    /// The server refuses to start with it on an https issuer or on PostgreSQL, which
    /// is what production looks like, unless `demo.allow_in_production` says this is
    /// a demonstration instance. Checked by `serve` only: the other commands seed
    /// nothing.
    pub fn refuse_demo_in_production(&self) -> Result<(), SettingsError> {
        if !self.demo.enabled || self.demo.allow_in_production {
            return Ok(());
        }
        let looks_like = if self.issuer()?.scheme() == "https" {
            "an https issuer (server.issuer)"
        } else if self.database.is_postgres() {
            "PostgreSQL (database.url)"
        } else {
            return Ok(());
        };
        Err(invalid(
            "demo.enabled",
            format!(
                "the demo (synthetic citizens, an account with a published password, /demo) \
                 is on with {looks_like}, as in production; set demo.enabled = false, or \
                 demo.allow_in_production = true if this is a demonstration instance"
            ),
        ))
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.server
            .listen
            .parse()
            .map_err(|_| invalid("server.listen", "must be HOST:PORT with an IP address"))
    }

    /// The issuer URL without a trailing slash: configured, or derived from `listen`.
    pub fn issuer(&self) -> Result<Url, SettingsError> {
        let raw = if self.server.issuer.is_empty() {
            format!("http://{}", self.listen_addr()?)
        } else {
            self.server.issuer.clone()
        };
        let url =
            Url::parse(&raw).map_err(|e| invalid("server.issuer", format!("not a URL: {e}")))?;
        // OIDC Discovery §3: the issuer is an https URL with no query or fragment.
        // Plain http is accepted so that the embedded default runs on a laptop.
        if !matches!(url.scheme(), "https" | "http") {
            return Err(invalid("server.issuer", "scheme must be https (or http)"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "server.issuer",
                "must not have a query or a fragment",
            ));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_the_issuer_follows_the_listen_address() {
        let settings = Settings::defaults().unwrap();
        settings.validate().unwrap();
        assert_eq!(
            settings.issuer().unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
    }

    fn invalid_key(settings: &Settings) -> Option<&'static str> {
        match settings.validate() {
            Err(SettingsError::Invalid { key, .. }) => Some(key),
            _ => None,
        }
    }

    #[test]
    fn redis_is_one_server_or_a_cluster_never_both() {
        let mut settings = Settings::defaults().unwrap();
        settings.redis.url = "redis://10.0.0.1:6379/".into();
        settings.validate().unwrap();
        settings.redis.cluster_urls = vec!["redis://10.0.0.2:6379".into()];
        assert_eq!(invalid_key(&settings), Some("redis.cluster_urls"));
        let message = settings.validate().unwrap_err().to_string();
        assert!(message.contains("not both"), "{message}");

        settings.redis.url.clear();
        settings.validate().unwrap();
        // Blank entries (an empty environment variable) are no cluster at all.
        settings.redis.cluster_urls = vec![" ".into(), String::new()];
        assert!(settings.redis.cluster_nodes().is_empty());
        settings.redis.url = "redis://10.0.0.1:6379/".into();
        settings.validate().unwrap();
    }

    #[test]
    fn dpop_settings_admit_only_asymmetric_algorithms_and_bounded_windows() {
        let mut settings = Settings::defaults().unwrap();
        for bad in ["none", "HS256", "es256", ""] {
            settings.dpop.allowed_algs = vec!["ES256".into(), bad.into()];
            assert_eq!(invalid_key(&settings), Some("dpop.allowed_algs"), "{bad}");
        }
        settings.dpop.allowed_algs = Vec::new();
        assert_eq!(invalid_key(&settings), Some("dpop.allowed_algs"));
        settings.dpop.allowed_algs = vec!["PS256".into(), "EdDSA".into()];
        settings.validate().unwrap();
        for (max_age, skew, rotation, key) in [
            (0, 5, 300, "dpop.proof_max_age_secs"),
            (301, 5, 300, "dpop.proof_max_age_secs"),
            (60, 61, 300, "dpop.proof_future_skew_secs"),
            (60, 5, 9, "dpop.nonce_rotation_secs"),
            (60, 5, 3601, "dpop.nonce_rotation_secs"),
        ] {
            let mut settings = settings.clone();
            settings.dpop.proof_max_age_secs = max_age;
            settings.dpop.proof_future_skew_secs = skew;
            settings.dpop.nonce_rotation_secs = rotation;
            assert_eq!(invalid_key(&settings), Some(key));
        }
        // From the environment, a list at commas.
        let settings = from_environment(&[
            ("CITIZEN_IDP__DPOP__ALLOWED_ALGS", "ES256, EdDSA"),
            ("CITIZEN_IDP__DPOP__NONCE_REQUIRED", "true"),
        ])
        .unwrap();
        assert_eq!(settings.dpop.allowed_algs, ["ES256", "EdDSA"]);
        assert!(settings.dpop.nonce_required);
    }

    #[test]
    fn bad_cluster_urls_are_refused_without_echoing_them() {
        let mut settings = Settings::defaults().unwrap();
        settings.redis.cluster_urls = vec![
            "redis://10.0.0.1:6379".into(),
            "http://:secret@10.0.0.2:6379".into(),
        ];
        let message = settings.validate().unwrap_err().to_string();
        assert!(message.contains("entry 2"), "{message}");
        assert!(!message.contains("secret"), "{message}");

        settings.redis.cluster_urls = vec!["redis://10.0.0.1:6379/3".into()];
        assert_eq!(invalid_key(&settings), Some("redis.cluster_urls"));

        settings.redis.cluster_urls = vec!["redis://10.0.0.1:6379/0".into()];
        settings.validate().unwrap();
        settings.redis.key_prefix = "{cidp}:".into();
        assert_eq!(invalid_key(&settings), Some("redis.key_prefix"));
    }

    #[test]
    fn the_production_example_turns_the_demo_off_and_uses_https() {
        let settings = Settings::load(Some(Path::new("config/production.toml"))).unwrap();
        assert!(!settings.demo.enabled);
        assert_eq!(settings.issuer().unwrap().scheme(), "https");
        assert_eq!(
            crate::storage::Backend::from_url(&settings.database.url),
            Ok(crate::storage::Backend::Postgres)
        );
        assert!(settings.redis.url.starts_with("redis://"));
        assert_eq!(settings.log.format, "json");
        // Metrics on, and (an https issuer) served only with the token from the secret store.
        assert!(settings.metrics.enabled);
        assert!(settings.metrics.token.expose().is_empty());
    }

    fn from_environment(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars = vars
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Settings::load_layers(None, EnvironmentLayer { vars: Some(vars) })
    }

    #[test]
    fn the_fapi2_profile_refuses_rs256_access_tokens() {
        let mut settings = Settings::defaults().unwrap();
        settings.server.profile = crate::domain::client_security::Profile::Fapi2;
        settings.validate().unwrap();
        settings.tokens.access_token_alg = crate::domain::signing_alg::SigningAlg::Rs256;
        let message = settings.validate().unwrap_err().to_string();
        assert!(message.contains("tokens.access_token_alg"), "{message}");
        settings.server.profile = crate::domain::client_security::Profile::Standard;
        settings.validate().unwrap();
    }

    #[test]
    fn the_access_token_algorithm_is_parsed_as_it_is_read() {
        let settings = from_environment(&[("CITIZEN_IDP__TOKENS__ACCESS_TOKEN_ALG", "ES256")]);
        assert_eq!(
            settings.unwrap().tokens.access_token_alg,
            crate::domain::signing_alg::SigningAlg::Es256
        );
        let message = from_environment(&[("CITIZEN_IDP__TOKENS__ACCESS_TOKEN_ALG", "HS256")])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("access_token_alg") && message.contains("must be ES256 or RS256"),
            "{message}"
        );
    }

    #[test]
    fn string_settings_from_the_environment_keep_their_text_exactly() {
        // Each of these was read as a number, and lost its text, with `try_parsing`.
        let secret = "1234567890123456789012345678901234567890120"; // 32 bytes, base64url
        let settings = from_environment(&[
            ("CITIZEN_IDP__DEMO__CITIZEN_ID", "001090000002"),
            ("CITIZEN_IDP__DEMO__CITIZEN_PASSWORD", "0012345678.50"),
            (
                "CITIZEN_IDP__ADMIN__TOKEN",
                "00000000000000000000000000000000000042",
            ),
            (
                "CITIZEN_IDP__METRICS__TOKEN",
                "1e400000000000000000000000000000000000",
            ),
            ("CITIZEN_IDP__KEYS__SECRET", secret),
            ("CITIZEN_IDP__REDIS__KEY_PREFIX", "1e3"),
            ("CITIZEN_IDP__LOG__FILTER", "true"),
            (
                "CITIZEN_IDP__SERVER__ISSUER",
                "https://id.example.gov.vn:8443/vn",
            ),
            (
                "CITIZEN_IDP__DATABASE__URL",
                "postgres://citizen_idp:007@db.internal:5432/citizen_idp",
            ),
        ])
        .unwrap();
        assert_eq!(settings.demo.citizen_id, "001090000002");
        assert_eq!(settings.demo.citizen_password, "0012345678.50");
        assert_eq!(
            settings.admin.token,
            "00000000000000000000000000000000000042"
        );
        assert_eq!(
            settings.metrics.token.expose(),
            "1e400000000000000000000000000000000000"
        );
        assert_eq!(settings.keys.secret.expose(), secret);
        assert_eq!(settings.redis.key_prefix, "1e3");
        assert_eq!(settings.log.filter, "true");
        assert_eq!(settings.server.issuer, "https://id.example.gov.vn:8443/vn");
        assert_eq!(
            settings.database.url,
            "postgres://citizen_idp:007@db.internal:5432/citizen_idp"
        );
    }

    #[test]
    fn numbers_booleans_and_lists_from_the_environment_still_parse() {
        let settings = from_environment(&[
            ("CITIZEN_IDP__SERVER__WORKERS", "4"),
            ("CITIZEN_IDP__TOKENS__CODE_TTL_SECS", "030"),
            ("CITIZEN_IDP__PASSWORD__MAX_CONCURRENT_HASHES", "2"),
            ("CITIZEN_IDP__DEMO__ENABLED", "false"),
            ("CITIZEN_IDP__METRICS__ENABLED", "FALSE"),
            (
                "CITIZEN_IDP__REDIS__CLUSTER_URLS",
                "redis://10.0.0.1:6379, redis://10.0.0.2:6379",
            ),
            ("CITIZEN_IDP__LIMITS__TRUSTED_PROXIES", "10.0.0.5,::1"),
        ])
        .unwrap();
        assert_eq!(settings.server.workers, 4);
        assert_eq!(settings.tokens.code_ttl_secs, 30);
        assert_eq!(settings.password.max_concurrent_hashes, Some(2));
        assert!(!settings.demo.enabled);
        assert!(!settings.metrics.enabled);
        assert_eq!(
            settings.redis.cluster_urls,
            ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"]
        );
        assert_eq!(settings.limits.trusted_proxies, ["10.0.0.5", "::1"]);

        // One entry is a list of one; an empty variable, an empty list.
        let settings = from_environment(&[
            ("CITIZEN_IDP__LIMITS__TRUSTED_PROXIES", "10.0.0.5"),
            ("CITIZEN_IDP__REDIS__CLUSTER_URLS", ""),
        ])
        .unwrap();
        assert_eq!(settings.limits.trusted_proxies, ["10.0.0.5"]);
        assert!(settings.redis.cluster_urls.is_empty());

        // Names are not case-sensitive; other variables are not settings.
        let settings = from_environment(&[
            ("citizen_idp__demo__citizen_id", "001090000003"),
            ("CITIZEN_IDPX__SERVER__WORKERS", "many"),
            ("PATH", "/usr/bin"),
        ])
        .unwrap();
        assert_eq!(settings.demo.citizen_id, "001090000003");
    }

    #[test]
    fn a_mistyped_setting_from_the_environment_is_refused_naming_its_key() {
        for (name, value, key) in [
            ("CITIZEN_IDP__SERVER__WORKERS", "many", "server.workers"),
            ("CITIZEN_IDP__DEMO__ENABLED", "maybe", "demo.enabled"),
            ("CITIZEN_IDP__SERVER__WORKERS", "", "server.workers"),
            ("CITIZEN_IDP__SERVER__NO_SUCH_KEY", "1", "no_such_key"),
        ] {
            let error = from_environment(&[(name, value)]).unwrap_err().to_string();
            assert!(error.contains(key), "{name}={value:?}: {error}");
        }
        // A secret's value is never quoted in the message.
        let error = from_environment(&[("CITIZEN_IDP__KEYS__SECRET", "not-base64-s3cr3t!")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("keys.secret"), "{error}");
        assert!(!error.contains("s3cr3t"), "{error}");
    }

    #[test]
    fn the_demo_is_refused_where_it_looks_like_production_unless_allowed() {
        let mut settings = Settings::defaults().unwrap();
        assert!(settings.demo.enabled && !settings.demo.allow_in_production);
        settings.refuse_demo_in_production().unwrap();

        settings.server.issuer = "https://id.example.gov.vn".into();
        let error = settings
            .refuse_demo_in_production()
            .unwrap_err()
            .to_string();
        assert!(error.contains("demo.enabled"), "{error}");
        assert!(error.contains("https issuer (server.issuer)"), "{error}");
        assert!(error.contains("demo.allow_in_production"), "{error}");

        settings.server.issuer = String::new();
        settings.database.url = "postgres://citizen_idp@db.internal/citizen_idp".into();
        let error = settings
            .refuse_demo_in_production()
            .unwrap_err()
            .to_string();
        assert!(error.contains("PostgreSQL (database.url)"), "{error}");

        settings.demo.allow_in_production = true;
        settings.refuse_demo_in_production().unwrap();
        settings.demo.allow_in_production = false;
        settings.demo.enabled = false;
        settings.refuse_demo_in_production().unwrap();
    }

    #[test]
    fn the_second_factor_waits_start_between_1_and_100_failures() {
        let mut settings = Settings::defaults().unwrap();
        assert_eq!(
            settings.login_protection.second_factor_delay_after_failures,
            10
        );
        for bad in [0, 101] {
            settings.login_protection.second_factor_delay_after_failures = bad;
            assert_eq!(
                invalid_key(&settings),
                Some("login_protection.second_factor_delay_after_failures")
            );
        }
        settings.login_protection.second_factor_delay_after_failures = 100;
        settings.validate().unwrap();
    }

    #[test]
    fn a_short_metrics_token_is_refused() {
        let mut settings = Settings::defaults().unwrap();
        settings.metrics.token = SecretSetting::new("short".into());
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("metrics.token"), "{error}");
    }

    #[test]
    fn re_authentication_is_a_matter_of_minutes() {
        let mut settings = Settings::defaults().unwrap();
        assert_eq!(settings.session.reauth_max_age_secs, 300);
        settings.session.reauth_max_age_secs = 900;
        settings.validate().unwrap();
        for bad in [0, 901, 28_800] {
            settings.session.reauth_max_age_secs = bad;
            assert_eq!(invalid_key(&settings), Some("session.reauth_max_age_secs"));
        }
    }
}
