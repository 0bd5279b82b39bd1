//! `Authorization` headers: Basic client credentials at the token endpoint
//! (`client_auth::credentials`), and Bearer tokens at userinfo
//! (`userinfo::access_token`) and the admin API (`api::presented_token`).
//!
//! An input is the header value's bytes (those that HTTP allows in a header). An input
//! that starts with 0xFF is instead `ID\0SECRET`: the target encodes them the way
//! RFC 6749 §2.3.1 says a client must, and the parser must give back exactly those.
//!
//! Invariants: accepted Basic credentials are the form-urlencoded decoding of
//! everything before and after the first colon (nothing dropped or cut short);
//! accepted Bearer tokens are non-empty, bounded and trimmed.
#![no_main]

use actix_web::http::header::HeaderValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use citizen_idp::client_admin::api::presented_token;
use citizen_idp::oidc::userinfo::access_token;
use citizen_idp::protocol::client_auth::{self, AssertionParams};
use libfuzzer_sys::fuzz_target;
use url::form_urlencoded::byte_serialize;

fuzz_target!(|data: &[u8]| {
    if let Some(rest) = data.strip_prefix(&[0xFF]) {
        round_trip(rest);
        return;
    }
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    // As the token endpoint reads the header.
    let header = value.to_str().unwrap_or("<non-ascii>");
    if let Ok(credentials) =
        client_auth::credentials(Some(header), None, None, AssertionParams::default())
    {
        let secret = credentials.secret.as_ref().expect("Basic carries a secret");
        let (raw_id, raw_secret) = basic_parts(header).expect("accepted, so well formed");
        assert_eq!(credentials.client_id, form_decode(&raw_id));
        assert_eq!(secret.expose(), form_decode(&raw_secret));
        assert!(!credentials.client_id.is_empty() && !secret.expose().is_empty());
    }

    if let Ok(token) = access_token(Some(&value), None) {
        assert!(!token.is_empty() && token.len() <= 8192);
        assert_eq!(token, token.trim());
    }
    // The same token in the header and the form is refused (RFC 6750 §2).
    assert!(access_token(Some(&value), Some("t".to_owned())).is_err());

    let admin = presented_token(Some(&value));
    assert_eq!(admin, admin.trim());
    assert!(admin.is_empty() || header.len() > admin.len());
});

/// An id and a secret, encoded as a client must, come back unchanged.
fn round_trip(data: &[u8]) {
    let (Some(id), Some(secret)) = ({
        let (id, secret) = citizen_idp_fuzz::split(data, 0);
        (
            std::str::from_utf8(id).ok(),
            std::str::from_utf8(secret).ok(),
        )
    }) else {
        return;
    };
    let encode = |s: &str| byte_serialize(s.as_bytes()).collect::<String>();
    let header = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    );
    let parsed = client_auth::credentials(Some(&header), None, None, AssertionParams::default());
    let fits = header.len() <= 1024 + "Basic ".len();
    if id.is_empty() || secret.is_empty() || !fits {
        assert!(parsed.is_err());
        return;
    }
    let credentials = parsed.expect("well-formed credentials are accepted");
    assert_eq!(credentials.client_id, id);
    assert_eq!(
        credentials.secret.as_ref().map(|s| s.expose()),
        Some(secret)
    );
}

/// The two halves of `Basic base64(id:secret)`, still form-urlencoded.
fn basic_parts(header: &str) -> Option<(String, String)> {
    let (_, encoded) = header.trim().split_once(' ')?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// `application/x-www-form-urlencoded` decoding of one value (a `+` is a space), kept
/// independent of the server's so that the two check each other.
fn form_decode(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}
