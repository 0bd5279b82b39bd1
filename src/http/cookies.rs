//! The two cookies citizen-idp sets: the login session's, and the browser's binding
//! secret that login flows and CSRF tokens are tied to.
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

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

use crate::domain::secret::SessionToken;
use crate::server_secret::ServerSecret;
use crate::tokens::random;

/// The purpose under which the server secret yields the browser cookie's MAC key.
pub const BROWSER_KEY_PURPOSE: &str = "browser-cookie";
/// The browser cookie's name without the prefix.
pub const BROWSER: &str = "cidp_browser";
const HOST_PREFIX: &str = "__Host-";

pub struct Cookies {
    session: String,
    browser: String,
    secure: bool,
    browser_key: hmac::Key,
}

impl std::fmt::Debug for Cookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cookies")
            .field("session", &self.session)
            .field("browser", &self.browser)
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

impl Cookies {
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
        Cookies {
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

    /// The session token the browser sent, if any.
    pub fn session_token(&self, req: &HttpRequest) -> Option<SessionToken> {
        req.cookie(&self.session)
            .map(|c| SessionToken::new(c.value().to_owned()))
    }

    pub fn session_cookie(&self, token: String) -> Cookie<'static> {
        self.build(self.session.clone(), token)
    }

    /// Makes the browser drop its session cookie.
    pub fn session_removal(&self) -> Cookie<'static> {
        let mut removal = self.build(self.session.clone(), String::new());
        removal.make_removal();
        removal
    }

    /// The browser's binding secret, if its cookie holds one this server issued.
    pub fn browser_secret(&self, req: &HttpRequest) -> Option<String> {
        let cookie = req.cookie(&self.browser)?;
        let value = cookie.value();
        self.issued_by_us(value).then(|| value.to_owned())
    }

    /// The browser's binding secret, and the cookie to set when it is new (none yet, or
    /// one this server did not issue).
    pub fn browser(&self, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
        match self.browser_secret(req) {
            Some(secret) => (secret, None),
            None => {
                let secret = self.new_browser_secret();
                let cookie = self.build(self.browser.clone(), secret.clone());
                (secret, Some(cookie))
            }
        }
    }

    fn new_browser_secret(&self) -> String {
        let nonce = random::token();
        let mac = hmac::sign(&self.browser_key, nonce.as_bytes());
        format!("{nonce}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
    }

    fn issued_by_us(&self, value: &str) -> bool {
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

    fn build(&self, name: String, value: String) -> Cookie<'static> {
        Cookie::build(name, value)
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(secure: bool) -> Cookies {
        let secret = ServerSecret::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        Cookies::new("cidp_session", secure, &secret)
    }

    #[test]
    fn an_https_issuer_prefixes_both_names_with_host() {
        let c = cookies(true);
        assert_eq!(c.session_name(), "__Host-cidp_session");
        assert_eq!(c.browser_name(), "__Host-cidp_browser");
        let cookie = c.session_cookie("t".into());
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.path(), Some("/"));
        assert_eq!(cookie.domain(), None);
        let plain = cookies(false);
        assert_eq!(plain.session_name(), "cidp_session");
        assert_eq!(plain.browser_name(), "cidp_browser");
    }

    #[test]
    fn only_browser_secrets_this_server_issued_are_adopted() {
        let c = cookies(false);
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
        let other = Cookies::new("cidp_session", false, &other);
        assert!(!c.issued_by_us(&other.new_browser_secret()));
    }
}
