//! One-time recovery codes, issued with a TOTP factor for the day the phone is lost.
//!
//! Ten codes are shown once, at enrolment, and stored only as SHA-256 digests: each has
//! 60 random bits, far too many to guess or to brute-force from a digest, so a slow
//! password hash would add nothing. A code is checked against the account's unused
//! digests in constant time, and marked used in the same statement that checks it is
//! still unused, so two requests racing with one code cannot both succeed.

use ring::rand::{SecureRandom, SystemRandom};

use crate::tokens::random;

/// Codes issued at a time.
pub const COUNT: usize = 10;
/// Characters of a code, in groups of four: 12 × 5 bits = 60 bits.
const LEN: usize = 12;
/// RFC 4648 base32, lower case: no 0, 1 or 8 to confuse with o, l or b on paper.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A recovery code as shown to the citizen (`abcd-efgh-jkmn`).
pub struct RecoveryCode(String);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

impl RecoveryCode {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// [`COUNT`] fresh codes; `None` if the random generator fails.
pub fn generate() -> Option<Vec<RecoveryCode>> {
    let rng = SystemRandom::new();
    (0..COUNT)
        .map(|_| {
            let mut bytes = [0u8; LEN];
            rng.fill(&mut bytes).ok()?;
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
                .collect();
            let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
            Some(RecoveryCode(groups.join("-")))
        })
        .collect()
}

/// What is stored: the SHA-256 of the code as typed, without dashes, spaces or case.
pub fn digest(code: &str) -> Option<String> {
    let normalised: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (normalised.len() == LEN && normalised.bytes().all(|b| ALPHABET.contains(&b)))
        .then(|| random::sha256_b64(&normalised))
}

/// The stored digest that `given` matches, compared with every candidate in constant
/// time.
pub fn find_match<'a>(given_digest: &str, unused: &'a [String]) -> Option<&'a str> {
    let mut found = None;
    for stored in unused {
        if random::constant_time_eq(stored.as_bytes(), given_digest.as_bytes()) {
            found = found.or(Some(stored.as_str()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_their_digest_ignores_case_and_dashes() {
        let codes = generate().unwrap();
        assert_eq!(codes.len(), COUNT);
        let digests: std::collections::BTreeSet<_> =
            codes.iter().map(|c| digest(c.expose()).unwrap()).collect();
        assert_eq!(digests.len(), COUNT);
        let code = codes[0].expose();
        assert_eq!(digest(&code.to_uppercase().replace('-', " ")), digest(code));
        assert_eq!(digest("too-short"), None);
    }
}
