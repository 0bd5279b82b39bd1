//! What the protocol's services work with, borrowed from the application state for one
//! request: the parts, not the handlers, and nothing of HTTP.

use crate::audit::AuditLog;
use crate::authn::cookies::CookiePolicy;
use crate::config::Settings;
use crate::domain::signing_alg::SigningAlg;
use crate::outbound::Outbound;
use crate::registry::identity_cache::IdentityCache;
use crate::storage::Db;
use crate::store::Store;
use crate::tokens::key_set::KeyRing;
use crate::tokens::subject::PairwiseKey;
use crate::tokens::verified::VerifiedTokens;

use super::client_keys::ClientKeyCache;
use super::clients::ClientCache;

pub struct Context<'a> {
    pub settings: &'a Settings,
    /// The issuer URL, without a trailing slash: `iss` of what we sign, and the audience
    /// a client assertion names.
    pub issuer: &'a str,
    /// The token endpoint's URL, which clients registered with
    /// `assertion_audience = "oidc"` may name as an assertion's audience.
    pub token_endpoint: &'a str,
    pub db: &'a Db,
    pub store: &'a dyn Store,
    /// Take `keys.current()` once per request, so that every token of a response is
    /// signed by keys of one generation.
    pub keys: &'a KeyRing,
    pub access_token_alg: SigningAlg,
    pub pairwise_key: &'a PairwiseKey,
    pub audit: &'a AuditLog,
    pub clients: &'a ClientCache,
    pub client_keys: &'a ClientKeyCache,
    /// What introspection and userinfo read from the register (a pass-through unless
    /// the operator turned the cache on).
    pub identities: &'a IdentityCache,
    /// Access tokens already verified, for introspection and userinfo.
    pub verified_tokens: &'a VerifiedTokens,
    /// For a client's `jwks_uri` and back-channel logout URI, under the outbound
    /// address policy.
    pub outbound: &'a Outbound,
    /// Wakes this server's logout worker after work was queued for it.
    pub logout_wakeup: &'a tokio::sync::Notify,
    /// The cookies' names and the browser secret's MAC, for a flow's new browser secret.
    pub cookies: &'a CookiePolicy,
    /// Makes and checks the DPoP server nonces (`protocol::dpop`).
    pub dpop_nonces: &'a super::dpop::Nonces,
    /// Whether passkeys can be presented here (not on an IP-address issuer), so count
    /// as a second factor.
    pub passkeys_on: bool,
    /// Resolves the trust chains of relying parties registered through the federation.
    pub federation: &'a crate::federation::resolve::Resolver,
}

impl Context<'_> {
    /// The client `client_id`: one an operator registered, or, when the id is an
    /// entity identifier and federation is on with a trust anchor, a relying party of
    /// the federation, registered automatically (`federation::registration`).
    pub async fn client(
        &self,
        client_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<crate::domain::client::Client>, crate::storage::StorageError> {
        let federation = &self.settings.federation;
        let allow_http = self.settings.outbound.allow_private_networks;
        if federation.enabled
            && self.federation.anchor_ids().next().is_some()
            && crate::federation::registration::is_entity_id(client_id, allow_http)
        {
            return self.clients.find_federated(self, client_id, now).await;
        }
        self.clients.find(self.db, client_id, now).await
    }
}
