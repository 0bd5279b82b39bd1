//! Trust chains (OpenID Federation 1.0 §4, §10): from an entity's own configuration up
//! through its superiors' subordinate statements to a trust anchor this server is
//! configured to trust, every statement checked, then the superiors' metadata
//! policies applied to what the entity says about itself.
//!
//! Everything fetched is untrusted input from the network, so fetching is bounded:
//! each request has a timeout and a byte limit, a chain has at most
//! `federation.max_chain_length` statements, at most [`MAX_HINTS`] superiors are tried
//! per entity and at most [`MAX_FETCHES`] requests are made per resolution. Addresses
//! follow the outbound policy (`outbound`): https and public addresses only, unless a
//! developer allows private networks. Resolved chains are cached until the first of
//! their statements expires, and no longer than `federation.resolve_cache_secs`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value};

use super::configuration_url;
use super::policy::{self, PolicyError};
use super::statement::{
    self, EntityStatement, MEDIA_TYPE, NamingConstraints, StatementError, TrustMarkRef,
};
use super::trust_mark;
use crate::config::{FederationSettings, TrustAnchorSettings};
use crate::domain::client_keys;
use crate::outbound::Outbound;

/// Superiors tried per entity, at most.
pub const MAX_HINTS: usize = 4;
/// Requests made while resolving one chain, at most.
pub const MAX_FETCHES: usize = 16;
type Boxed<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Chains kept in the cache, at most.
const MAX_CACHED: usize = 1024;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResolveError {
    #[error("{entity} is not a trust anchor of this server")]
    UnknownTrustAnchor { entity: String },
    #[error("fetching {url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("the statement of {issuer} about {subject}: {error}")]
    Statement {
        issuer: String,
        subject: String,
        error: StatementError,
    },
    #[error("{url} answered a statement by {iss} about {sub}, not the one asked for")]
    Mismatch {
        url: String,
        iss: String,
        sub: String,
    },
    #[error("{entity} publishes no federation_fetch_endpoint")]
    NoFetchEndpoint { entity: String },
    #[error("no chain from {entity} reaches the trust anchor")]
    NoPath { entity: String },
    #[error("the chain is longer than {0} statements")]
    TooLong(usize),
    #[error("more than {MAX_FETCHES} requests would be needed")]
    TooManyFetches,
    #[error("a constraint of {issuer}'s statement about {subject}: {reason}")]
    Constraint {
        issuer: String,
        subject: String,
        reason: String,
    },
    #[error("metadata policy for {entity_type}: {error}")]
    Policy {
        entity_type: String,
        error: PolicyError,
    },
}

/// A chain checked up to a trust anchor.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub subject: String,
    pub trust_anchor: String,
    /// The statements as fetched, leaf's configuration first, the trust anchor's
    /// configuration last (§4.1).
    pub chain: Vec<String>,
    /// The subject's metadata by entity type, with the superiors' overrides and
    /// policies applied.
    pub metadata: Map<String, Value>,
    /// When the first statement of the chain expires.
    pub exp: i64,
    /// The subject's federation keys, as its superior vouches for them.
    pub jwks: Value,
    /// The subject's trust marks that verified (§7): issued by an issuer the trust
    /// anchor lists for their type, about the subject, in their lifetime.
    pub trust_marks: Vec<TrustMarkRef>,
}

/// Trust marks read from one configuration, at most: the rest are ignored.
const MAX_TRUST_MARKS: usize = 8;

/// A trust anchor, with its configured (never fetched) keys.
#[derive(Debug, Clone)]
pub struct TrustAnchor {
    pub entity_id: String,
    pub keys: JwkSet,
}

impl TrustAnchor {
    /// The trust anchors of the settings; `validate` has checked their keys already.
    pub fn from_settings(settings: &[TrustAnchorSettings]) -> Vec<TrustAnchor> {
        settings
            .iter()
            .filter_map(|anchor| {
                let keys = client_keys::parse_jwks(anchor.jwks.as_bytes()).ok()?;
                Some(TrustAnchor {
                    entity_id: anchor.entity_id.clone(),
                    keys,
                })
            })
            .collect()
    }
}

/// Resolves and caches trust chains for one server.
pub struct Resolver {
    anchors: Vec<TrustAnchor>,
    timeout: Duration,
    max_bytes: usize,
    max_chain_length: usize,
    cache_secs: i64,
    cache: Mutex<HashMap<(String, String), (i64, Resolved)>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("anchors", &self.anchors.len())
            .finish_non_exhaustive()
    }
}

impl Resolver {
    pub fn new(settings: &FederationSettings) -> Self {
        Resolver {
            anchors: TrustAnchor::from_settings(&settings.trust_anchors),
            timeout: Duration::from_millis(settings.fetch_timeout_ms),
            max_bytes: settings.max_statement_bytes,
            max_chain_length: settings.max_chain_length,
            cache_secs: i64::try_from(settings.resolve_cache_secs).unwrap_or(300),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The configured trust anchors' entity identifiers, in the configured order.
    pub fn anchor_ids(&self) -> impl Iterator<Item = &str> {
        self.anchors.iter().map(|a| a.entity_id.as_str())
    }

    pub fn anchor(&self, entity_id: &str) -> Option<&TrustAnchor> {
        self.anchors.iter().find(|a| a.entity_id == entity_id)
    }

    /// The chain from `subject` to `trust_anchor` at `now` (seconds since the epoch),
    /// from the cache while it is fresh.
    pub async fn resolve(
        &self,
        http: &Outbound,
        subject: &str,
        trust_anchor: &str,
        now: i64,
    ) -> Result<Resolved, ResolveError> {
        let anchor = self
            .anchor(trust_anchor)
            .ok_or_else(|| ResolveError::UnknownTrustAnchor {
                entity: trust_anchor.to_owned(),
            })?;
        let key = (subject.to_owned(), trust_anchor.to_owned());
        if let Some(resolved) = self.cached(&key, now) {
            return Ok(resolved);
        }
        let walk = Walk {
            http,
            anchor,
            timeout: self.timeout,
            max_bytes: self.max_bytes,
            max_chain_length: self.max_chain_length,
            now,
            fetches: AtomicUsize::new(0),
        };
        let resolved = walk.resolve(subject, true).await?;
        self.remember(key, resolved.clone(), now);
        Ok(resolved)
    }

    fn cached(&self, key: &(String, String), now: i64) -> Option<Resolved> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(key)
            .filter(|(until, _)| *until > now)
            .map(|(_, resolved)| resolved.clone())
    }

    fn remember(&self, key: (String, String), resolved: Resolved, now: i64) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (until, _)| *until > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        let until = resolved.exp.min(now.saturating_add(self.cache_secs));
        cache.insert(key, (until, resolved));
    }
}

/// An entity's configuration, fetched within the bounds of `settings` and checked
/// with the keys it names itself: what an operator adding a subordinate starts from
/// (the keys are then compared with those given out of band).
pub async fn self_signed_configuration(
    http: &Outbound,
    settings: &FederationSettings,
    entity_id: &str,
    now: i64,
) -> Result<EntityStatement, ResolveError> {
    let anchor = TrustAnchor {
        entity_id: String::new(),
        keys: JwkSet { keys: Vec::new() },
    };
    let walk = Walk {
        http,
        anchor: &anchor,
        timeout: Duration::from_millis(settings.fetch_timeout_ms),
        max_bytes: settings.max_statement_bytes,
        max_chain_length: settings.max_chain_length,
        now,
        fetches: AtomicUsize::new(0),
    };
    let own = walk.configuration(entity_id).await?;
    check(
        &own.token,
        &keys_of(&own.claims)?,
        now,
        walk.max_bytes,
        &own.claims,
    )?;
    Ok(own.claims)
}

/// One resolution: its bounds and what it has spent of them.
struct Walk<'a> {
    http: &'a Outbound,
    anchor: &'a TrustAnchor,
    timeout: Duration,
    max_bytes: usize,
    max_chain_length: usize,
    now: i64,
    fetches: AtomicUsize,
}

/// An entity's configuration, as fetched and as read.
struct Configuration {
    token: String,
    claims: EntityStatement,
}

impl Walk<'_> {
    /// The chain of `subject`, with its trust marks checked when `with_marks` (an
    /// issuer of marks is resolved without: marks about issuers are not followed).
    fn resolve<'s>(
        &'s self,
        subject: &'s str,
        with_marks: bool,
    ) -> Boxed<'s, Result<Resolved, ResolveError>> {
        Box::pin(async move {
            let leaf = self.configuration(subject).await?;
            let leaf_keys = keys_of(&leaf.claims)?;
            check(
                &leaf.token,
                &leaf_keys,
                self.now,
                self.max_bytes,
                &leaf.claims,
            )?;
            // A trust anchor asked about itself: its configuration, checked with the
            // configured keys, is the whole chain.
            let above = if subject == self.anchor.entity_id {
                check(
                    &leaf.token,
                    &self.anchor.keys,
                    self.now,
                    self.max_bytes,
                    &leaf.claims,
                )?;
                Vec::new()
            } else {
                self.ascend(&leaf, 1).await?
            };
            let mut chain = vec![leaf.token.clone()];
            let mut exp = leaf.claims.exp;
            let mut statements = Vec::new();
            for (token, claims) in above {
                exp = exp.min(claims.exp);
                chain.push(token);
                statements.push(claims);
            }
            check_constraints(&leaf.claims, &statements)?;
            let mut metadata = resolved_metadata(&leaf.claims, &statements)?;
            keep_allowed_entity_types(&mut metadata, &statements);
            // The keys the nearest superior vouches for (the anchor's own, configured,
            // for the anchor itself).
            let jwks = statements
                .first()
                .filter(|s| !s.is_configuration())
                .map_or_else(|| leaf.claims.jwks.clone(), |s| s.jwks.clone());
            let anchor_configuration = statements.last().unwrap_or(&leaf.claims);
            let trust_marks = if with_marks {
                self.trust_marks(&leaf.claims, anchor_configuration).await
            } else {
                Vec::new()
            };
            Ok(Resolved {
                subject: subject.to_owned(),
                trust_anchor: self.anchor.entity_id.clone(),
                chain,
                metadata,
                exp,
                jwks,
                trust_marks,
            })
        })
    }

    /// The trust marks of `entity` that verify: each from an issuer `anchor` lists for
    /// its type, signed with the issuer's keys (the anchor's configured ones, or those
    /// of the issuer's own chain to the anchor). A mark that does not verify is left
    /// out, with the reason in the log.
    async fn trust_marks(
        &self,
        entity: &EntityStatement,
        anchor: &EntityStatement,
    ) -> Vec<TrustMarkRef> {
        let mut verified = Vec::new();
        for mark in entity.trust_marks.iter().take(MAX_TRUST_MARKS) {
            match self.trust_mark(entity, anchor, mark).await {
                Ok(()) => verified.push(mark.clone()),
                Err(reason) => tracing::info!(
                    entity = %entity.sub,
                    trust_mark_type = %mark.trust_mark_type,
                    %reason,
                    "a trust mark did not verify"
                ),
            }
        }
        verified
    }

    async fn trust_mark(
        &self,
        entity: &EntityStatement,
        anchor: &EntityStatement,
        mark: &TrustMarkRef,
    ) -> Result<(), String> {
        let issuer =
            trust_mark::issuer_of(&mark.trust_mark, self.max_bytes).map_err(|e| e.to_string())?;
        if !trust_mark::allowed_issuers(anchor, &mark.trust_mark_type).contains(&issuer) {
            return Err(trust_mark::TrustMarkError::IssuerNotAllowed {
                issuer,
                trust_mark_type: mark.trust_mark_type.clone(),
            }
            .to_string());
        }
        let keys = if issuer == self.anchor.entity_id {
            self.anchor.keys.clone()
        } else {
            let chain = self
                .resolve(&issuer, false)
                .await
                .map_err(|e| e.to_string())?;
            let document = serde_json::to_vec(&chain.jwks).map_err(|e| e.to_string())?;
            client_keys::parse_jwks(&document).map_err(|e| e.to_string())?
        };
        trust_mark::verify(
            &mark.trust_mark,
            &mark.trust_mark_type,
            &entity.sub,
            &keys,
            self.now,
            self.max_bytes,
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    /// The statements above `entity`: the subordinate statements from its superior up
    /// to the trust anchor, then the trust anchor's configuration. `depth` counts the
    /// statements in the chain so far.
    fn ascend<'s>(
        &'s self,
        entity: &'s Configuration,
        depth: usize,
    ) -> Boxed<'s, Result<Vec<(String, EntityStatement)>, ResolveError>> {
        Box::pin(async move {
            if depth + 2 > self.max_chain_length {
                return Err(ResolveError::TooLong(self.max_chain_length));
            }
            let mut last = ResolveError::NoPath {
                entity: entity.claims.sub.clone(),
            };
            for hint in entity.claims.authority_hints.iter().take(MAX_HINTS) {
                match self.through(entity, hint, depth).await {
                    Ok(path) => return Ok(path),
                    Err(ResolveError::TooManyFetches) => return Err(ResolveError::TooManyFetches),
                    Err(e) => last = e,
                }
            }
            Err(last)
        })
    }

    /// The statements above `entity` through its superior `hint`.
    async fn through(
        &self,
        entity: &Configuration,
        hint: &str,
        depth: usize,
    ) -> Result<Vec<(String, EntityStatement)>, ResolveError> {
        let superior = self.configuration(hint).await?;
        let is_anchor = hint == self.anchor.entity_id;
        // The trust anchor's keys are the configured ones: a configuration it serves
        // with other keys is refused, whatever it says about itself.
        let superior_keys = if is_anchor {
            self.anchor.keys.clone()
        } else {
            keys_of(&superior.claims)?
        };
        check(
            &superior.token,
            &superior_keys,
            self.now,
            self.max_bytes,
            &superior.claims,
        )?;
        let endpoint = superior
            .claims
            .metadata_of("federation_entity")
            .and_then(|m| m.get("federation_fetch_endpoint"))
            .and_then(Value::as_str)
            .ok_or_else(|| ResolveError::NoFetchEndpoint {
                entity: hint.to_owned(),
            })?;
        let mut url = url::Url::parse(endpoint).map_err(|_| ResolveError::NoFetchEndpoint {
            entity: hint.to_owned(),
        })?;
        url.query_pairs_mut().append_pair("sub", &entity.claims.sub);
        let token = self.fetch(url.as_str()).await?;
        let about = checked(
            &token,
            &superior_keys,
            self.now,
            self.max_bytes,
            hint,
            &entity.claims.sub,
        )?;
        if about.iss != hint || about.sub != entity.claims.sub {
            return Err(ResolveError::Mismatch {
                url: url.to_string(),
                iss: about.iss,
                sub: about.sub,
            });
        }
        // The superior vouches for the subordinate's keys: its own configuration must
        // be signed with one of them.
        let vouched = keys_of(&about)?;
        check(
            &entity.token,
            &vouched,
            self.now,
            self.max_bytes,
            &entity.claims,
        )?;
        if is_anchor {
            return Ok(vec![(token, about), (superior.token, superior.claims)]);
        }
        let above = self.ascend(&superior, depth + 1).await?;
        // §10.2: a statement is signed with a key its issuer's superior vouches for,
        // not only with one the issuer names itself (checked above, to fail early).
        if let Some((_, vouching)) = above.first() {
            check(
                &token,
                &keys_of(vouching)?,
                self.now,
                self.max_bytes,
                &about,
            )?;
        }
        let mut path = vec![(token, about)];
        path.extend(above);
        Ok(path)
    }

    /// Fetches and reads an entity's configuration; its signature is the caller's to
    /// check, with the keys that are authoritative for it.
    async fn configuration(&self, entity_id: &str) -> Result<Configuration, ResolveError> {
        let url = configuration_url(entity_id);
        let token = self.fetch(&url).await?;
        let claims = statement::unverified(&token, self.max_bytes).map_err(|error| {
            ResolveError::Statement {
                issuer: entity_id.to_owned(),
                subject: entity_id.to_owned(),
                error,
            }
        })?;
        if claims.iss != entity_id || claims.sub != entity_id {
            return Err(ResolveError::Mismatch {
                url,
                iss: claims.iss,
                sub: claims.sub,
            });
        }
        Ok(Configuration { token, claims })
    }

    async fn fetch(&self, url: &str) -> Result<String, ResolveError> {
        if self.fetches.fetch_add(1, Ordering::Relaxed) >= MAX_FETCHES {
            return Err(ResolveError::TooManyFetches);
        }
        let failed = |reason: String| ResolveError::Fetch {
            url: url.to_owned(),
            reason,
        };
        let request_failed = |e: reqwest::Error| {
            failed(match crate::outbound::refusal(&e) {
                Some(refused) => format!("address not allowed: {refused}"),
                None if e.is_timeout() => "timeout".into(),
                None => "request failed".into(),
            })
        };
        let mut response = self
            .http
            .request(reqwest::Method::GET, url)
            .map_err(|refused| failed(format!("address not allowed: {refused}")))?
            .header(reqwest::header::ACCEPT, MEDIA_TYPE)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(request_failed)?;
        if !response.status().is_success() {
            return Err(failed(format!("status {}", response.status().as_u16())));
        }
        let media_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim);
        if media_type != Some(MEDIA_TYPE) {
            return Err(failed(format!("not served as {MEDIA_TYPE}")));
        }
        // Read at most the limit, whatever Content-Length claims.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_failed)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(failed(format!("larger than {} bytes", self.max_bytes)));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body)
            .map(|text| text.trim().to_owned())
            .map_err(|_| failed("not text".into()))
    }
}

fn keys_of(claims: &EntityStatement) -> Result<JwkSet, ResolveError> {
    claims.keys().map_err(|error| ResolveError::Statement {
        issuer: claims.iss.clone(),
        subject: claims.sub.clone(),
        error,
    })
}

/// Verifies `token` (already read as `claims`) with `keys`.
fn check(
    token: &str,
    keys: &JwkSet,
    now: i64,
    max_bytes: usize,
    claims: &EntityStatement,
) -> Result<(), ResolveError> {
    checked(token, keys, now, max_bytes, &claims.iss, &claims.sub).map(|_| ())
}

fn checked(
    token: &str,
    keys: &JwkSet,
    now: i64,
    max_bytes: usize,
    issuer: &str,
    subject: &str,
) -> Result<EntityStatement, ResolveError> {
    statement::verify(token, keys, now, max_bytes).map_err(|error| ResolveError::Statement {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        error,
    })
}

/// The constraints of every subordinate statement above the leaf (§6.2): at most
/// `max_path_length` intermediates between the statement's subject and the leaf, and
/// every entity below its subject within its `naming_constraints`. `above` is the
/// chain above the leaf, nearest superior first.
fn check_constraints(
    leaf: &EntityStatement,
    above: &[EntityStatement],
) -> Result<(), ResolveError> {
    let subordinate_statements: Vec<&EntityStatement> =
        above.iter().filter(|s| !s.is_configuration()).collect();
    for (level, statement) in subordinate_statements.iter().enumerate() {
        let Some(constraints) = &statement.constraints else {
            continue;
        };
        let broken = |reason: String| ResolveError::Constraint {
            issuer: statement.iss.clone(),
            subject: statement.sub.clone(),
            reason,
        };
        // The statement at `level` is about the entity `level` steps above the leaf;
        // the entities between it and the leaf are the intermediates it limits.
        let intermediates = level.saturating_sub(1);
        if let Some(max) = constraints.max_path_length
            && intermediates > usize::try_from(max).unwrap_or(usize::MAX)
        {
            return Err(broken(format!(
                "{intermediates} intermediates below it, {max} allowed"
            )));
        }
        if let Some(naming) = &constraints.naming_constraints {
            let below = std::iter::once(leaf.sub.as_str())
                .chain(
                    subordinate_statements[..level]
                        .iter()
                        .map(|s| s.iss.as_str()),
                )
                .filter(|entity| *entity != statement.sub);
            for entity in below {
                if !within_names(entity, naming) {
                    return Err(broken(format!(
                        "{entity} is outside its naming constraints"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Whether `entity`'s host is permitted and not excluded: `example.vn` names that
/// host, `.example.vn` any host below it.
fn within_names(entity: &str, naming: &NamingConstraints) -> bool {
    let Some(host) = url::Url::parse(entity)
        .ok()
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
    else {
        return false;
    };
    let matches = |name: &String| {
        let name = name.to_ascii_lowercase();
        match name.strip_prefix('.') {
            Some(_) => host.ends_with(&name),
            None => host == name,
        }
    };
    (naming.permitted.is_empty() || naming.permitted.iter().any(matches))
        && !naming.excluded.iter().any(matches)
}

/// Drops the entity types a superior does not allow (`allowed_entity_types`); the
/// `federation_entity` type always stays.
fn keep_allowed_entity_types(metadata: &mut Map<String, Value>, above: &[EntityStatement]) {
    for statement in above.iter().filter(|s| !s.is_configuration()) {
        if let Some(allowed) = statement
            .constraints
            .as_ref()
            .and_then(|c| c.allowed_entity_types.as_ref())
        {
            metadata.retain(|kind, _| kind == "federation_entity" || allowed.contains(kind));
        }
    }
}

/// The leaf's metadata by entity type: the immediate superior's `metadata` overrides
/// first, then the policies of every superior, the trust anchor's first (§6.1.4).
/// `above` is the chain above the leaf, nearest superior first.
fn resolved_metadata(
    leaf: &EntityStatement,
    above: &[EntityStatement],
) -> Result<Map<String, Value>, ResolveError> {
    let subordinate_statements: Vec<&EntityStatement> =
        above.iter().filter(|s| !s.is_configuration()).collect();
    let mut metadata = Map::new();
    for (entity_type, own) in &leaf.metadata {
        let mut values = own.as_object().cloned().unwrap_or_default();
        if let Some(overrides) = subordinate_statements
            .first()
            .and_then(|s| s.metadata_of(entity_type))
        {
            for (name, value) in overrides {
                values.insert(name.clone(), value.clone());
            }
        }
        let policies: Vec<&Map<String, Value>> = subordinate_statements
            .iter()
            .rev()
            .filter_map(|s| {
                s.metadata_policy
                    .get(entity_type)
                    .and_then(Value::as_object)
            })
            .collect();
        let failed = |error| ResolveError::Policy {
            entity_type: entity_type.clone(),
            error,
        };
        let merged = policy::merge_chain(&policies).map_err(failed)?;
        let applied = policy::apply(&merged, &values).map_err(failed)?;
        metadata.insert(entity_type.clone(), Value::Object(applied));
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::federation::statement::Constraints;

    fn statement(iss: &str, sub: &str, constraints: Option<Constraints>) -> EntityStatement {
        EntityStatement {
            iss: iss.into(),
            sub: sub.into(),
            iat: 0,
            exp: 1,
            jwks: json!({ "keys": [] }),
            authority_hints: vec![],
            metadata: Map::new(),
            metadata_policy: Map::new(),
            source_endpoint: None,
            constraints,
            trust_marks: vec![],
            trust_mark_issuers: Map::new(),
            crit: vec![],
            metadata_policy_crit: vec![],
        }
    }

    const LEAF: &str = "https://portal.b.example";
    const B: &str = "https://id.b.example";
    const TA: &str = "https://federation.example";

    /// leaf <- B <- TA, with `constraints` on TA's statement about B.
    fn chain(constraints: Constraints) -> (EntityStatement, Vec<EntityStatement>) {
        (
            statement(LEAF, LEAF, None),
            vec![
                statement(B, LEAF, None),
                statement(TA, B, Some(constraints)),
                statement(TA, TA, None),
            ],
        )
    }

    #[test]
    fn path_length_counts_the_intermediates_below_the_constrained_subject() {
        let zero = Constraints {
            max_path_length: Some(0),
            ..Constraints::default()
        };
        let (leaf, above) = chain(zero.clone());
        assert_eq!(check_constraints(&leaf, &above), Ok(()), "B's own leaves");
        // leaf <- I <- B <- TA: one intermediate below B.
        let deeper = vec![
            statement("https://i.b.example", LEAF, None),
            statement(B, "https://i.b.example", None),
            statement(TA, B, Some(zero)),
            statement(TA, TA, None),
        ];
        assert!(matches!(
            check_constraints(&leaf, &deeper),
            Err(ResolveError::Constraint { .. })
        ));
    }

    #[test]
    fn naming_constraints_hold_every_entity_below_the_subject() {
        let naming = |permitted: &[&str], excluded: &[&str]| Constraints {
            naming_constraints: Some(NamingConstraints {
                permitted: permitted.iter().map(|s| s.to_string()).collect(),
                excluded: excluded.iter().map(|s| s.to_string()).collect(),
            }),
            ..Constraints::default()
        };
        let (leaf, above) = chain(naming(&[".b.example"], &[]));
        assert_eq!(check_constraints(&leaf, &above), Ok(()));
        let (leaf, above) = chain(naming(&[".c.example"], &[]));
        assert!(check_constraints(&leaf, &above).is_err());
        let (leaf, above) = chain(naming(&[".b.example"], &["portal.b.example"]));
        assert!(check_constraints(&leaf, &above).is_err());
        // ".b.example" is not "evilb.example".
        assert!(!within_names(
            "https://evilb.example",
            &NamingConstraints {
                permitted: vec![".b.example".into()],
                excluded: vec![],
            }
        ));
    }

    #[test]
    fn entity_types_a_superior_does_not_allow_are_dropped() {
        let (_, above) = chain(Constraints {
            allowed_entity_types: Some(vec!["openid_relying_party".into()]),
            ..Constraints::default()
        });
        let mut metadata = json!({
            "openid_relying_party": {}, "openid_provider": {}, "federation_entity": {}
        })
        .as_object()
        .cloned()
        .unwrap();
        keep_allowed_entity_types(&mut metadata, &above);
        let mut kinds: Vec<&String> = metadata.keys().collect();
        kinds.sort();
        assert_eq!(kinds, ["federation_entity", "openid_relying_party"]);
    }
}
