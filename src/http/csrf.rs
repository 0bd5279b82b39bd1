//! CSRF tokens for the forms that are not part of a login flow (enrolment, the account
//! pages, factor enrolment, consent may use the flow's own token).
//!
//! A token is `{expiry}.{mac}`: an HMAC-SHA256, under a key derived from the server
//! secret, of the browser's binding secret (the browser cookie, see `http::cookies`), the form's
//! purpose and the expiry. So a token works only in the browser it was made for, for
//! the form it was made for, until it expires, and needs no server-side state: every
//! instance checks it alone.

use actix_web::HttpRequest;
use actix_web::cookie::Cookie;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ring::hmac;

use crate::http::cookies;
use crate::http::page_error::PageError;
use crate::state::AppState;
use crate::tokens::random;

/// How long a form may stay open before it must be reloaded.
pub const LIFETIME_SECS: i64 = 30 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfError {
    /// No token, no browser cookie, or a token that is not ours.
    Invalid,
    /// A genuine token whose form was open too long.
    Expired,
}

/// A submitted form's token, once it is known to be ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    /// The caller shows its form again with a "form expired" message.
    Expired,
}

/// [`verify`] for a form handler: a token that is not ours is logged and answered with
/// the 403 page here, once for every form; an expired one is left to the caller.
pub fn check_form(
    req: &HttpRequest,
    state: &AppState,
    purpose: &str,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Freshness, PageError> {
    match verify(req, state, purpose, token, now) {
        Ok(()) => Ok(Freshness::Fresh),
        Err(CsrfError::Expired) => Ok(Freshness::Expired),
        Err(CsrfError::Invalid) => {
            tracing::warn!(target: "security", purpose, "form rejected: CSRF token mismatch");
            Err(PageError::csrf_failed())
        }
    }
}

/// The browser's binding secret, and a cookie to set when it is new.
pub fn browser(req: &HttpRequest, state: &AppState) -> (String, Option<Cookie<'static>>) {
    cookies::browser(&state.cookies, req)
}

/// A token for `purpose` (a fixed name per form, e.g. "enrol") in this browser.
pub fn issue(state: &AppState, browser_secret: &str, purpose: &str, now: DateTime<Utc>) -> String {
    let expiry = now.timestamp() + LIFETIME_SECS;
    format!("{expiry}.{}", mac(state, browser_secret, purpose, expiry))
}

/// Checks a submitted token against the browser's cookie, in constant time.
pub fn verify(
    req: &HttpRequest,
    state: &AppState,
    purpose: &str,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), CsrfError> {
    let browser_secret = cookies::browser_secret(&state.cookies, req).ok_or(CsrfError::Invalid)?;
    let (expiry, given) = token
        .and_then(|t| t.split_once('.'))
        .ok_or(CsrfError::Invalid)?;
    let expiry: i64 = expiry.parse().map_err(|_| CsrfError::Invalid)?;
    let expected = mac(state, &browser_secret, purpose, expiry);
    if !random::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(CsrfError::Invalid);
    }
    if expiry <= now.timestamp() {
        return Err(CsrfError::Expired);
    }
    Ok(())
}

fn mac(state: &AppState, browser_secret: &str, purpose: &str, expiry: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &state.secret.derive("csrf"));
    let message = format!(
        "{purpose}\n{expiry}\n{}",
        random::sha256_b64(browser_secret)
    );
    URL_SAFE_NO_PAD.encode(hmac::sign(&key, message.as_bytes()).as_ref())
}
