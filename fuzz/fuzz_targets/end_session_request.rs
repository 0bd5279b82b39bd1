//! The end-session (RP-initiated logout) request: decoding, then
//! `LogoutRequest::from_pairs`.
//!
//! Invariants: an accepted request holds no empty and no oversized value, each the
//! one non-empty value sent for its parameter; a request that sends two non-empty
//! values for one parameter is refused, whatever the order of its pairs.
#![no_main]

use citizen_idp::http::params;
use citizen_idp::protocol::logout::request::LogoutRequest;
use libfuzzer_sys::fuzz_target;

const MAX_VALUE_LEN: usize = 4096;
const KNOWN: [&str; 5] = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "ui_locales",
];

fuzz_target!(|data: &[u8]| {
    let Some(pairs) = params::parse(data) else {
        return;
    };
    // An empty value counts as absent (RFC 6749 §3.1), wherever it comes.
    let repeated = KNOWN.iter().any(|name| {
        pairs
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .count()
            > 1
    });
    let oversized = pairs.iter().any(|(_, v)| v.len() > MAX_VALUE_LEN);
    let Some(request) = LogoutRequest::from_pairs(pairs.clone()) else {
        return;
    };
    assert!(!repeated && !oversized);
    let values = [
        &request.id_token_hint,
        &request.client_id,
        &request.post_logout_redirect_uri,
        &request.state,
        &request.ui_locales,
    ];
    for (name, value) in KNOWN.iter().zip(values) {
        let sent = pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str());
        assert_eq!(value.as_deref(), sent);
    }
});
