//! Requests this server makes to URLs a relying party chose: its `jwks_uri` and its
//! `backchannel_logout_uri`. One shared client ([`Outbound`]) carries the policy of
//! [`address`] to every such request.
//!
//! **Where the check happens.** A name is checked when it is resolved, at each new
//! connection, by the client's own resolver ([`GuardedResolver`]): a name that
//! resolved to a public address at registration and is later pointed at 127.0.0.1
//! (DNS rebinding) is refused then, whatever it resolved to before. The connector
//! skips the resolver for a URL whose host is an IP literal, so [`Outbound::request`]
//! checks literal hosts itself before anything is sent; callers cannot build a request
//! any other way. Redirects are never followed (a public host must not bounce us to an
//! internal one) and proxies from the environment are ignored (through a proxy, the
//! proxy would resolve the name, not us).
//!
//! **Development.** `outbound.allow_private_networks` turns the address checks off and
//! allows http, for relying parties on a developer's machine or in the tests. Never in
//! production: it reopens every internal service to whoever registers a client.

pub mod address;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Resolving a name at registration gives up after this long (the name is then
/// accepted: it is checked again at every connection).
const REGISTRATION_LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// What the server may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Development only: http, loopback and private networks allowed.
    pub allow_private_networks: bool,
}

impl Policy {
    pub fn strict() -> Self {
        Policy {
            allow_private_networks: false,
        }
    }
}

/// Why a URL may not be called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("not an absolute URL with a host")]
    NotUrl,
    #[error("must be an https URL")]
    NotHttps,
    #[error("names {0}")]
    Address(address::Forbidden),
    #[error("names this host (localhost)")]
    LocalName,
    #[error("resolves to {0}")]
    Resolves(address::Forbidden),
}

/// Checks what can be checked without resolving: the scheme and an IP-literal host.
/// (A name is checked by the resolver, when it is resolved.)
pub fn check_url(url: &Url, policy: Policy) -> Result<(), Refused> {
    let host = url.host().ok_or(Refused::NotUrl)?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_private_networks => {}
        "http" => return Err(Refused::NotHttps),
        _ => return Err(Refused::NotUrl),
    }
    if policy.allow_private_networks {
        return Ok(());
    }
    // `url` has already turned every IPv4 spelling (2130706433, 0x7f.1, 127.1) into
    // the dotted form, and reqwest connects to what it serialises.
    match host {
        Host::Ipv4(ip) => address::check(ip.into()).map_err(Refused::Address),
        Host::Ipv6(ip) => address::check(ip.into()).map_err(Refused::Address),
        Host::Domain(_) => Ok(()),
    }
}

/// The registration check of a URL the server will call: [`check_url`], the names
/// that always mean this host (RFC 6761 §6.3), then the addresses the name resolves to
/// now, every one of which must be allowed. A name that does not resolve (yet) is
/// accepted: the check at each connection still holds.
pub async fn vet(uri: &str, policy: Policy) -> Result<(), Refused> {
    let url = Url::parse(uri).map_err(|_| Refused::NotUrl)?;
    check_url(&url, policy)?;
    if policy.allow_private_networks {
        return Ok(());
    }
    let Some(Host::Domain(name)) = url.host() else {
        return Ok(());
    };
    let bare = name.trim_end_matches('.').to_ascii_lowercase();
    if bare == "localhost" || bare.ends_with(".localhost") {
        return Err(Refused::LocalName);
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup = tokio::net::lookup_host((name, port));
    match tokio::time::timeout(REGISTRATION_LOOKUP_TIMEOUT, lookup).await {
        Ok(Ok(addrs)) => {
            for addr in addrs {
                address::check(addr.ip()).map_err(Refused::Resolves)?;
            }
            Ok(())
        }
        Ok(Err(_)) | Err(_) => Ok(()),
    }
}

/// Resolves with the system resolver, then drops every forbidden address; a name left
/// with none fails with [`Refused::Resolves`].
struct GuardedResolver {
    policy: Policy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(resolve_allowed(name.as_str().to_owned(), self.policy))
    }
}

async fn resolve_allowed(
    host: String,
    policy: Policy,
) -> Result<Addrs, Box<dyn std::error::Error + Send + Sync>> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
    if policy.allow_private_networks {
        return Ok(Box::new(resolved.into_iter()));
    }
    let mut refused = None;
    let allowed: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|addr| match address::check(addr.ip()) {
            Ok(()) => true,
            Err(why) => {
                refused.get_or_insert(why);
                false
            }
        })
        .collect();
    match refused {
        Some(why) if allowed.is_empty() => {
            tracing::warn!(target: "security", host = %host, reason = %why, "outbound connection refused");
            Err(Box::new(Refused::Resolves(why)))
        }
        _ => Ok(Box::new(allowed.into_iter())),
    }
}

/// The client for requests to relying parties' URLs, with the policy built in.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    policy: Policy,
}

impl Outbound {
    pub fn new(policy: Policy) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { policy }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(!policy.allow_private_networks)
            .user_agent(concat!("citizen-idp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Outbound { client, policy })
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// A request to `uri`, once the checks the resolver cannot make have passed.
    pub fn request(
        &self,
        method: reqwest::Method,
        uri: &str,
    ) -> Result<reqwest::RequestBuilder, Refused> {
        let url = Url::parse(uri).map_err(|_| Refused::NotUrl)?;
        if let Err(why) = check_url(&url, self.policy) {
            tracing::warn!(target: "security", reason = %why, "outbound request refused");
            return Err(why);
        }
        Ok(self.client.request(method, url))
    }
}

/// The policy's refusal behind a failed request, if that is why it failed (the
/// resolver's error travels inside the connector's).
pub fn refusal(error: &reqwest::Error) -> Option<&Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        source = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(uri: &str, allow: bool) -> Result<(), Refused> {
        check_url(
            &Url::parse(uri).unwrap(),
            Policy {
                allow_private_networks: allow,
            },
        )
    }

    #[test]
    fn literal_hosts_and_plain_http_are_refused_unless_allowed() {
        use address::Forbidden::*;
        let cases = [
            ("http://127.0.0.1:9/jwks", Refused::NotHttps),
            ("https://127.0.0.1/jwks", Refused::Address(Loopback)),
            ("https://2130706433/jwks", Refused::Address(Loopback)),
            ("https://0x7f.1/jwks", Refused::Address(Loopback)),
            (
                "https://169.254.169.254/latest",
                Refused::Address(LinkLocal),
            ),
            ("https://[::1]/jwks", Refused::Address(Loopback)),
            (
                "https://[::ffff:127.0.0.1]/jwks",
                Refused::Address(Loopback),
            ),
            ("https://[fd00::1]/jwks", Refused::Address(UniqueLocal)),
            ("https://10.0.0.5/jwks", Refused::Address(Private)),
            (
                "https://100.64.1.1/jwks",
                Refused::Address(SharedAddressSpace),
            ),
            ("ftp://keys.example.vn/jwks", Refused::NotUrl),
            ("file:///etc/passwd", Refused::NotUrl),
        ];
        for (uri, expected) in cases {
            assert_eq!(checked(uri, false), Err(expected), "{uri}");
        }
        assert_eq!(checked("https://keys.example.vn/jwks", false), Ok(()));
        assert_eq!(checked("https://8.8.8.8/jwks", false), Ok(()));
        assert_eq!(checked("http://127.0.0.1:9/jwks", true), Ok(()));
        assert_eq!(checked("https://[::1]/jwks", true), Ok(()));
        assert_eq!(checked("file:///etc/passwd", true), Err(Refused::NotUrl));
    }

    #[tokio::test]
    async fn registration_refuses_the_names_of_this_host_before_resolving() {
        let strict = Policy::strict();
        for uri in [
            "https://localhost/jwks",
            "https://LOCALHOST./jwks",
            "https://api.localhost/jwks",
        ] {
            assert_eq!(vet(uri, strict).await, Err(Refused::LocalName), "{uri}");
        }
        // `.invalid` never resolves (RFC 6761 §6.4): accepted, checked at connection.
        assert_eq!(vet("https://keys.bhxh.invalid/jwks", strict).await, Ok(()));
        assert_eq!(
            vet("http://keys.bhxh.invalid/jwks", strict).await,
            Err(Refused::NotHttps)
        );
    }

    #[tokio::test]
    async fn a_request_to_a_literal_internal_host_is_never_built() {
        let outbound = Outbound::new(Policy::strict()).unwrap();
        let refused = outbound.request(reqwest::Method::GET, "https://[::1]:9/jwks");
        assert_eq!(
            refused.err(),
            Some(Refused::Address(address::Forbidden::Loopback))
        );
    }

    #[tokio::test]
    async fn the_resolver_drops_internal_addresses_and_fails_when_none_is_left() {
        let strict = GuardedResolver {
            policy: Policy::strict(),
        };
        let Err(error) = strict.resolve("localhost".parse().unwrap()).await else {
            panic!("localhost resolved under the strict policy");
        };
        assert_eq!(
            error.downcast_ref::<Refused>(),
            Some(&Refused::Resolves(address::Forbidden::Loopback))
        );
        let open = GuardedResolver {
            policy: Policy {
                allow_private_networks: true,
            },
        };
        let Ok(addrs) = open.resolve("localhost".parse().unwrap()).await else {
            panic!("localhost did not resolve");
        };
        assert!(addrs.into_iter().all(|a| a.ip().is_loopback()));
    }
}
