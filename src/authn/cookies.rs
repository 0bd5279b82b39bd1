//! The names and the browser secret of the two cookies citizen-idp sets: the login
//! session's, and the browser's binding secret that login flows and CSRF tokens are
//! tied to. Reading and writing them over HTTP is `http::cookies`.
//!
//! On an https issuer both names carry the `__Host-` prefix (RFC 6265bis §4.1.3.2): the
//! browser then accepts them only with `Secure`, `Path=/` and no `Domain`, so a sibling
//! domain (another service under the same parent domain) cannot plant or overwrite
//! them. On an http issuer (development) the plain names are used, since browsers
//! refuse `__Host-` cookies without `Secure`.
//!
//! The browser secret is `{random}.{mac}`, an HMAC under a key derived from the server
//! secret: a value the server did not issue (planted over http, or written by a script
//! of a sibling domain on an http deployment) is ignored and replaced, never adopted,
//! so an attacker cannot bind a victim's browser to a flow or CSRF token made for a
//! value they chose.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

use crate::server_secret::ServerSecret;
use crate::tokens::random;

/// The purpose under which the server secret yields the browser cookie's MAC key.
pub const BROWSER_KEY_PURPOSE: &str = "browser-cookie";
/// The browser cookie's name without the prefix.
pub const BROWSER: &str = "cidp_browser";
const HOST_PREFIX: &str = "__Host-";

pub struct CookiePolicy {
    session: String,
    browser: String,
    secure: bool,
    browser_key: hmac::Key,
}

impl std::fmt::Debug for CookiePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookiePolicy")
            .field("session", &self.session)
            .field("browser", &self.browser)
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

impl CookiePolicy {
    /// `session_name` is the setting (`session.cookie_name`); `secure` is whether the
    /// issuer is https.
    pub fn new(session_name: &str, secure: bool, secret: &ServerSecret) -> Self {
        let name = |base: &str| {
            if secure {
                format!("{HOST_PREFIX}{base}")
            } else {
                base.to_owned()
            }
        };
        CookiePolicy {
            session: name(session_name),
            browser: name(BROWSER),
            secure,
            browser_key: hmac::Key::new(hmac::HMAC_SHA256, &secret.derive(BROWSER_KEY_PURPOSE)),
        }
    }

    pub fn session_name(&self) -> &str {
        &self.session
    }

    pub fn browser_name(&self) -> &str {
        &self.browser
    }

    /// Whether the cookies carry `Secure` (an https issuer).
    pub fn secure(&self) -> bool {
        self.secure
    }

    pub fn new_browser_secret(&self) -> String {
        let nonce = random::token();
        let mac = hmac::sign(&self.browser_key, nonce.as_bytes());
        format!("{nonce}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
    }

    /// Whether `value` is a browser secret this server issued.
    pub fn issued_by_us(&self, value: &str) -> bool {
        // 43 characters of nonce, a dot, 43 of MAC: nothing longer is even decoded.
        if value.len() != 87 {
            return false;
        }
        let Some((nonce, mac)) = value.split_once('.') else {
            return false;
        };
        let Ok(mac) = URL_SAFE_NO_PAD.decode(mac) else {
            return false;
        };
        hmac::verify(&self.browser_key, nonce.as_bytes(), &mac).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(secure: bool) -> CookiePolicy {
        let secret = ServerSecret::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        CookiePolicy::new("cidp_session", secure, &secret)
    }

    #[test]
    fn an_https_issuer_prefixes_both_names_with_host() {
        let c = policy(true);
        assert_eq!(c.session_name(), "__Host-cidp_session");
        assert_eq!(c.browser_name(), "__Host-cidp_browser");
        let plain = policy(false);
        assert_eq!(plain.session_name(), "cidp_session");
        assert_eq!(plain.browser_name(), "cidp_browser");
    }

    #[test]
    fn only_browser_secrets_this_server_issued_are_adopted() {
        let c = policy(false);
        let issued = c.new_browser_secret();
        assert!(c.issued_by_us(&issued));
        // A bare random value (the old format, or one chosen by an attacker).
        assert!(!c.issued_by_us(&random::token()));
        // A changed nonce or MAC.
        let mut forged = issued.clone().into_bytes();
        forged[0] = if forged[0] == b'A' { b'B' } else { b'A' };
        assert!(!c.issued_by_us(std::str::from_utf8(&forged).unwrap()));
        let (nonce, _) = issued.split_once('.').unwrap();
        assert!(!c.issued_by_us(&format!("{nonce}.{nonce}")));
        // Another server secret's value.
        let other = ServerSecret::parse(&format!("{}A", "B".repeat(42))).unwrap();
        let other = CookiePolicy::new("cidp_session", false, &other);
        assert!(!c.issued_by_us(&other.new_browser_secret()));
    }
}
