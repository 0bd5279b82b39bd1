//! The two cookies over HTTP: reading the session token and the browser secret a
//! request carries, and building the cookies to set, with the names and the secret's
//! MAC of [`CookiePolicy`] (see `authn::cookies` for why they are so).

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

use crate::authn::cookies::CookiePolicy;
use crate::domain::secret::SessionToken;

/// The session token the browser sent, if any.
pub fn session_token(policy: &CookiePolicy, req: &HttpRequest) -> Option<SessionToken> {
    req.cookie(policy.session_name())
        .map(|c| SessionToken::new(c.value().to_owned()))
}

pub fn session_cookie(policy: &CookiePolicy, token: String) -> Cookie<'static> {
    build(policy, policy.session_name().to_owned(), token)
}

/// Makes the browser drop its session cookie.
pub fn session_removal(policy: &CookiePolicy) -> Cookie<'static> {
    let mut removal = build(policy, policy.session_name().to_owned(), String::new());
    removal.make_removal();
    removal
}

/// The browser's binding secret, if its cookie holds one this server issued.
pub fn browser_secret(policy: &CookiePolicy, req: &HttpRequest) -> Option<String> {
    let cookie = req.cookie(policy.browser_name())?;
    let value = cookie.value();
    policy.issued_by_us(value).then(|| value.to_owned())
}

/// The browser's binding secret, and the cookie to set when it is new (none yet, or
/// one this server did not issue).
pub fn browser(policy: &CookiePolicy, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match browser_secret(policy, req) {
        Some(secret) => (secret, None),
        None => {
            let secret = policy.new_browser_secret();
            let cookie = browser_cookie(policy, secret.clone());
            (secret, Some(cookie))
        }
    }
}

/// The cookie that gives a browser `secret`, made by `policy`.
pub fn browser_cookie(policy: &CookiePolicy, secret: String) -> Cookie<'static> {
    build(policy, policy.browser_name().to_owned(), secret)
}

fn build(policy: &CookiePolicy, name: String, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(policy.secure())
        .same_site(SameSite::Lax)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server_secret::ServerSecret;

    #[test]
    fn host_prefixed_cookies_are_secure_on_the_whole_host() {
        let secret = ServerSecret::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let policy = CookiePolicy::new("cidp_session", true, &secret);
        let cookie = session_cookie(&policy, "t".into());
        assert_eq!(cookie.name(), "__Host-cidp_session");
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.path(), Some("/"));
        assert_eq!(cookie.domain(), None);
        assert_eq!(cookie.http_only(), Some(true));
    }
}
