//! The strict JSON reader of JWT parts (`tokens::strict_json`), which every JWT we read
//! goes through: `object`, `header` and `claims` on the bytes, and `decode_part` on
//! them as text.
//!
//! Invariants, against serde_json as an independent reader:
//! - nothing over `MAX_PART_BYTES` is accepted;
//! - what is accepted is the object serde_json reads (so nothing was lost or changed);
//! - a member named twice anywhere (found by a second, sorting check) is refused as
//!   a duplicate, and a refusal as a duplicate names a real one;
//! - an accepted header has no `crit`, and its `alg`, `kid`, `typ` are the strings
//!   serde_json sees; accepted claims have `iss`, `sub`, `jti` strings, `aud` a string
//!   or strings, and `exp`, `iat`, `nbf` numbers, equal to what serde_json sees.
#![no_main]

use std::fmt;

use citizen_idp::tokens::strict_json::{
    self, Audience, MAX_PART_BYTES, StrictJsonError, claims, header, object,
};
use libfuzzer_sys::fuzz_target;
use serde::Deserializer;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(decoded) = strict_json::decode_part(text)
    {
        assert!(decoded.len() <= MAX_PART_BYTES + 2);
    }

    let strict = object(data);
    if data.len() > MAX_PART_BYTES {
        assert_eq!(strict.unwrap_err(), StrictJsonError::TooLarge);
        return;
    }
    let lenient: Option<Value> = serde_json::from_slice(data).ok();
    let duplicated = has_duplicate(data);
    match (&strict, &lenient, duplicated) {
        (Ok(members), Some(value), Some(false)) => {
            assert_eq!(&Value::Object(members.clone()), value);
        }
        (Ok(_), _, dup) => panic!("accepted, but serde_json: {lenient:?}, duplicate: {dup:?}"),
        (Err(StrictJsonError::Duplicate), _, dup) => {
            // The duplicate may come before a syntax error that the oracle hits too.
            assert!(dup != Some(false), "refused as a duplicate without one");
        }
        (Err(_), Some(Value::Object(_)), Some(true)) => {
            panic!("a duplicate refused for another reason")
        }
        (Err(e), Some(Value::Object(_)), Some(false)) => {
            panic!("a valid object without duplicates refused: {e:?}")
        }
        (Err(_), _, _) => {}
    }

    let value = match (strict, lenient) {
        (Ok(_), Some(Value::Object(value))) => value,
        _ => return,
    };
    if let Ok(read) = header(data) {
        assert!(!value.contains_key("crit"));
        assert_eq!(value["alg"], read.alg.as_str());
        assert_eq!(
            value.get("kid").and_then(Value::as_str),
            read.kid.as_deref()
        );
        assert_eq!(
            value.get("typ").and_then(Value::as_str),
            read.typ.as_deref()
        );
    } else {
        let typed = |name| value.get(name).is_none_or(Value::is_string);
        assert!(
            value.contains_key("crit")
                || !value.get("alg").is_some_and(Value::is_string)
                || !typed("kid")
                || !typed("typ")
                || !typed("cty"),
            "a plain header refused"
        );
    }
    if let Ok(read) = claims(data) {
        let read = read.registered;
        for (name, got) in [("iss", &read.iss), ("sub", &read.sub), ("jti", &read.jti)] {
            assert_eq!(value.get(name).and_then(Value::as_str), got.as_deref());
        }
        match (value.get("aud"), &read.aud) {
            (None, None) => {}
            (Some(Value::String(one)), Some(Audience::One(read))) => assert_eq!(one, read),
            (Some(Value::Array(many)), Some(Audience::Many(read))) => {
                assert_eq!(many.len(), read.len());
                assert!(many.iter().zip(read).all(|(a, b)| a == b.as_str()));
            }
            other => panic!("aud read as {other:?}"),
        }
        for (name, got) in [("exp", read.exp), ("iat", read.iat), ("nbf", read.nbf)] {
            match value.get(name) {
                None => assert_eq!(got, None),
                Some(Value::Number(n)) => match n.as_i64() {
                    Some(i) => assert_eq!(got, Some(i)),
                    None => assert!(got.is_some()),
                },
                Some(other) => panic!("{name} = {other} accepted"),
            }
        }
    }
});

/// Whether any object in `json` names a member twice (by sorting each object's names):
/// `None` when serde_json cannot read it.
fn has_duplicate(json: &[u8]) -> Option<bool> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let found = deserializer.deserialize_any(Duplicates).ok()?;
    deserializer.end().ok()?;
    Some(found)
}

struct Duplicates;

impl<'de> DeserializeSeed<'de> for Duplicates {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Duplicates {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(inner) = seq.next_element_seed(Duplicates)? {
            found |= inner;
        }
        Ok(found)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut names = Vec::new();
        let mut found = false;
        while let Some(name) = map.next_key::<String>()? {
            found |= map.next_value_seed(Duplicates)?;
            names.push(name);
        }
        names.sort();
        Ok(found || names.windows(2).any(|pair| pair[0] == pair[1]))
    }
}
