//! What a trust chain brings from the network: an entity statement or a trust mark as
//! a compact JWS (`federation::statement::{unverified, verify}`,
//! `federation::trust_mark::{issuer_of, verify}`), or (first byte `{` or `[`) a JSON
//! array of a superior's metadata policy, a subordinate's, and metadata, merged and
//! applied as resolution does (`federation::policy::{merge, apply}`).
//!
//! Invariants: a statement over the byte bound is refused before anything is read;
//! nothing verifies with an empty key set; an accepted merge is valid again when
//! merged with itself; applying it keeps no parameter its policy sets to `null`, and
//! adds no parameter that neither the metadata nor the policy names.
#![no_main]

use citizen_idp::federation::{policy, statement, trust_mark};
use jsonwebtoken::jwk::JwkSet;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const MAX_BYTES: usize = 8 * 1024;
const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    if matches!(data.first(), Some(b'{' | b'[')) {
        policies(data);
        return;
    }
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let empty = JwkSet { keys: Vec::new() };
    if token.len() > MAX_BYTES {
        assert_eq!(
            statement::unverified(token, MAX_BYTES),
            Err(statement::StatementError::TooLarge(MAX_BYTES))
        );
    }
    let _ = statement::unverified(token, MAX_BYTES);
    assert!(statement::verify(token, &empty, NOW, MAX_BYTES).is_err());
    let _ = trust_mark::issuer_of(token, MAX_BYTES);
    assert!(
        trust_mark::verify(
            token,
            "https://t.example/m",
            "https://e.example",
            &empty,
            NOW,
            MAX_BYTES
        )
        .is_err()
    );
});

fn policies(data: &[u8]) {
    let Ok(Value::Array(parts)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let object = |i: usize| -> Map<String, Value> {
        parts
            .get(i)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (superior, subordinate, metadata) = (object(0), object(1), object(2));
    let Ok(merged) = policy::merge(&superior, &subordinate) else {
        return;
    };
    assert!(
        policy::merge(&merged, &merged).is_ok(),
        "a merged policy conflicts with itself: {merged:?}"
    );
    let Ok(applied) = policy::apply(&merged, &metadata) else {
        return;
    };
    for (name, value) in &applied {
        assert!(
            metadata.contains_key(name) || merged.contains_key(name),
            "{name} appeared from nowhere"
        );
        let removed = merged
            .get(name)
            .and_then(|rules| rules.get("value"))
            .is_some_and(Value::is_null);
        assert!(
            !removed,
            "{name} is set to null by the policy but kept: {value}"
        );
    }
}
