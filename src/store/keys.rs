//! Every key citizen-idp writes in the store, in one place: its namespace, and how the
//! value that names it is written. A value that opens something (a session token, a
//! code, a flow id, a browser secret) or names a person (an account, a national number)
//! is stored under its SHA-256, so that a copy of the store opens nothing and names
//! no one. The in-process store's evictable namespaces are named here too.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};

/// Pending login flows (`protocol::authorize::flow`).
const LOGIN_FLOW: &str = "login:";
/// Each browser's count of pending logins.
const FLOWS_PER_BROWSER: &str = "flows:browser:";
/// Each network's count of pending logins.
const FLOWS_PER_NETWORK: &str = "flows:ip:";
/// Each network's requests in the current minute (`http::limits`).
const REQUEST_RATE: &str = "ratelimit:ip:";
/// Spent client assertions, DPoP proofs and request objects, by their `jti`.
const CLIENT_ASSERTION: &str = "assertion:";
const DPOP_PROOF: &str = "dpop:";
const REQUEST_OBJECT: &str = "request-object:";

/// What the in-process store may drop under pressure, oldest first (`store::memory`
/// says why these and no others).
pub const EVICTABLE: [&str; 4] = [LOGIN_FLOW, FLOWS_PER_BROWSER, REQUEST_RATE, SPENT_CODE];

const SPENT_CODE: &str = "code-spent:";

/// Replay markers: written once with `put_new` and no value, read only for their
/// presence. Anyone holding a client key or a DPoP key writes one per request, so the
/// in-process store keeps them apart, in a budget of their own (`store::memory`).
pub const REPLAY_MARKERS: [&str; 3] = [CLIENT_ASSERTION, DPOP_PROOF, REQUEST_OBJECT];

/// The SHA-256 of `value`, base64url: the same digest `tokens::random::sha256_b64`
/// gives, so that keys written before this module kept their names.
pub fn hashed(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, value.as_bytes()))
}

pub fn session(token: &str) -> String {
    session_by_hash(&hashed(token))
}

/// A session by the hash its account's index holds.
pub fn session_by_hash(token_hash: &str) -> String {
    format!("session:{token_hash}")
}

/// The clients a session signed in to, for logout.
pub fn session_clients(sid: &str) -> String {
    format!("session_clients:{sid}")
}

/// The index of an account's sessions.
pub fn account_sessions(account_id: &str) -> String {
    format!("account_sessions:{account_id}")
}

pub fn code(code: &str) -> String {
    format!("code:{}", hashed(code))
}

/// What a redeemed code gave, while a replay of it may still revoke that.
pub fn spent_code(code: &str) -> String {
    format!("{SPENT_CODE}{}", hashed(code))
}

/// A client assertion's `jti`, spent once per client (RFC 7523 §3).
pub fn client_assertion(client_id: &str, jti: &str) -> String {
    format!(
        "{CLIENT_ASSERTION}{}",
        hashed(&format!("{client_id}\u{0}{jti}"))
    )
}

/// A DPoP proof's `jti`, spent once per key (RFC 9449 §11.1).
pub fn dpop_proof(jkt: &str, jti: &str) -> String {
    format!("{DPOP_PROOF}{}", hashed(&format!("{jkt}\u{0}{jti}")))
}

/// A request object's `jti`, spent once per client: a captured object starts no second login.
pub fn request_object(client_id: &str, jti: &str) -> String {
    format!(
        "{REQUEST_OBJECT}{}",
        hashed(&format!("{client_id}\u{0}{jti}"))
    )
}

/// A pushed authorization request (RFC 9126), by the random part of its `request_uri`,
/// which opens it.
pub fn pushed_request(id: &str) -> String {
    format!("par:{}", hashed(id))
}

pub fn login_flow(flow_id: &str) -> String {
    format!("{LOGIN_FLOW}{}", hashed(flow_id))
}

pub fn flows_per_browser(browser_secret: &str) -> String {
    format!("{FLOWS_PER_BROWSER}{}", hashed(browser_secret))
}

/// `network` is an IPv4 address or an IPv6 /64 (`authn::throttle::client_bucket`).
pub fn flows_per_network(network: &str) -> String {
    format!("{FLOWS_PER_NETWORK}{network}")
}

pub fn request_rate(network: &str) -> String {
    format!("{REQUEST_RATE}{network}")
}

pub fn enrolment_rate(network: &str) -> String {
    format!("throttle:enrol-ip:{network}")
}

/// A login throttle's count of `kind` for an unverified national number.
pub fn login_throttle_by_number(kind: &str, unverified_number: &str) -> String {
    format!("throttle:{kind}:{}", hashed(unverified_number.trim()))
}

pub fn login_throttle_by_network(kind: &str, network: &str) -> String {
    format!("throttle:{kind}:{network}")
}

/// The turns of a national number's login attempts (`authn::throttle::Turns` adds
/// `:free` and `:phase:{id}` below it).
pub fn login_turns(unverified_number: &str) -> String {
    format!("throttle:turns:{}", hashed(unverified_number.trim()))
}

/// The turns of an account's second-factor attempts.
pub fn factor_turns(account_id: &str) -> String {
    format!("2fa-turns:{}", hashed(account_id))
}

/// Consecutive second-factor failures of an account.
pub fn factor_failures(account_id: &str) -> String {
    format!("2fa-failures:{}", hashed(account_id))
}

/// A TOTP secret shown to the citizen and not yet confirmed.
pub fn totp_enrolment(account_id: &str) -> String {
    format!("totp-enrol:{}", hashed(account_id))
}

pub fn passkey_registration(account_id: &str) -> String {
    format!("passkey-reg:{}", hashed(account_id))
}

pub fn passkey_login(flow_id: &str) -> String {
    format!("passkey-login:{}", hashed(flow_id))
}

/// A logout waiting for the citizen's confirmation.
pub fn logout_confirmation(id: &str) -> String {
    format!("logout:{}", hashed(id))
}

/// The demo portal's pending login, by its `state`.
pub fn demo_login(state: &str) -> String {
    format!("demo:{state}")
}

/// A revoked access token's `jti`. On a Redis Cluster every key of the list carries the
/// hash tag `{revoked}`, so that the list lives on one node (`tokens::revocation`).
pub fn revoked_token(jti: &str) -> String {
    format!("{{revoked}}:{jti}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_keys_are_base64url_sha256() {
        // FIPS 180-2's "abc".
        assert_eq!(hashed("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
        assert_eq!(
            code("abc"),
            "code:ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn replay_markers_are_the_spent_jtis_and_nothing_else() {
        let marker = |key: String| REPLAY_MARKERS.iter().any(|p| key.starts_with(p));
        assert!(marker(client_assertion("c", "j")));
        assert!(marker(dpop_proof("k", "j")));
        assert!(marker(request_object("c", "j")));
        for other in [
            session("t"),
            code("c"),
            pushed_request("p"),
            revoked_token("j"),
        ] {
            assert!(!marker(other.clone()), "{other}");
        }
    }

    #[test]
    fn only_flows_and_load_counts_are_evictable() {
        assert!(EVICTABLE.iter().any(|p| login_flow("f").starts_with(p)));
        assert!(
            EVICTABLE
                .iter()
                .any(|p| flows_per_browser("b").starts_with(p))
        );
        assert!(EVICTABLE.iter().any(|p| request_rate("n").starts_with(p)));
        assert!(EVICTABLE.iter().any(|p| spent_code("c").starts_with(p)));
        for kept in [
            flows_per_network("n"),
            session("t"),
            code("c"),
            revoked_token("j"),
            login_throttle_by_number("fail", "001090000002"),
            factor_failures("a"),
        ] {
            assert!(!EVICTABLE.iter().any(|p| kept.starts_with(p)), "{kept}");
        }
    }
}
