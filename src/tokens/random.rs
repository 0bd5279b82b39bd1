//! Unguessable values and digests, from ring.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

/// 256 random bits, base64url-encoded: codes, session ids, CSRF tokens, secrets.
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    fill_or_abort(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

// Without the OS random source no secret can be made, and an empty or predictable
// token would be worse than stopping, so the process aborts.
fn fill_or_abort(bytes: &mut [u8]) {
    if SystemRandom::new().fill(bytes).is_err() {
        eprintln!("the operating system's random number generator failed");
        std::process::abort();
    }
}

/// `len` random decimal digits, each uniform (bytes of 250 and more are drawn again,
/// so that no digit is likelier): codes a citizen types from a message.
pub fn digits(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut byte = [0u8; 1];
    while out.len() < len {
        fill_or_abort(&mut byte);
        if byte[0] < 250 {
            out.push(char::from(b'0' + byte[0] % 10));
        }
    }
    out
}

/// SHA-256 of `input`.
pub fn sha256(input: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, input).as_ref().to_vec()
}

/// SHA-256 of `input`, base64url-encoded: the form stored as a key for a secret token,
/// so that a dump of the store does not hand out live codes or sessions.
pub fn sha256_b64(input: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(input.as_bytes()))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}
