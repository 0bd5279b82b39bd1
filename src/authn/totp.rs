//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA-1, 6 digits,
//! 30-second steps, the form every authenticator app understands.
//!
//! A code is accepted for the current step and one step either side (clock drift of
//! the phone), and each step at most once per factor: the caller records the step a
//! code matched and refuses it, and any earlier one, afterwards (RFC 6238 §5.2).
//! Secrets are stored only sealed with AES-256-GCM under the server secret's
//! `totp-secret` key, the factor id as associated data, so a database dump alone gives
//! no codes and a sealed secret cannot be moved to another factor.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use chrono::{DateTime, Utc};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::server_secret::ServerSecret;
use crate::tokens::random;

/// RFC 6238 §4.1: the time step X.
pub const STEP_SECS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// RFC 4226 §4 asks for at least 128 bits; 160 bits is the HMAC-SHA-1 block output.
pub const SECRET_LEN: usize = 20;
/// Steps accepted either side of the current one.
const WINDOW: i64 = 1;

const SEALING_PURPOSE: &str = "totp-secret";

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("the random generator failed")]
    Random,
    #[error("a TOTP secret cannot be sealed or opened")]
    Sealing,
}

/// A shared TOTP secret. Redacted `Debug`, no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    pub fn generate() -> Result<Self, TotpError> {
        let mut bytes = vec![0u8; SECRET_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| TotpError::Random)?;
        Ok(TotpSecret(bytes))
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        TotpSecret(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without padding: what a citizen types into an app by hand.
    pub fn base32(&self) -> String {
        base32(&self.0)
    }

    /// The `otpauth://` URI of the QR code (the de-facto Key URI format that
    /// authenticator apps read).
    pub fn otpauth_uri(&self, issuer: &str, account_label: &str) -> String {
        let label: String =
            url::form_urlencoded::byte_serialize(format!("{issuer}:{account_label}").as_bytes())
                .collect::<String>()
                .replace('+', "%20");
        let issuer: String = url::form_urlencoded::byte_serialize(issuer.as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        format!(
            "otpauth://totp/{label}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            self.base32()
        )
    }
}

/// The time step of `now` (RFC 6238 §4.2: T = floor((now - T0) / X), T0 = 0).
pub fn step_of(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(STEP_SECS)
}

/// The code of `step`, zero-padded to [`DIGITS`].
pub fn code_at(secret: &TotpSecret, step: i64) -> String {
    hotp(secret.expose(), step, DIGITS)
}

/// The step, within the window around `now`, whose code `given` is; `None` when none.
/// Every step of the window is compared, in constant time, so the answer takes the
/// same time whichever step (if any) matches.
pub fn matching_step(secret: &TotpSecret, given: &str, now: DateTime<Utc>) -> Option<i64> {
    let given = normalise_code(given)?;
    let current = step_of(now);
    let mut found = None;
    for step in current - WINDOW..=current + WINDOW {
        if random::constant_time_eq(code_at(secret, step).as_bytes(), given.as_bytes()) {
            found = found.or(Some(step));
        }
    }
    found
}

/// A typed code without the spaces apps show in the middle; `None` unless 6 digits.
pub fn normalise_code(given: &str) -> Option<String> {
    let digits: String = given.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

/// RFC 4226 §5.3: HMAC-SHA-1 of the counter, dynamic truncation, modulo 10^digits.
fn hotp(key: &[u8], counter: i64, digits: u32) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = (u32::from(mac[offset]) & 0x7f) << 24
        | u32::from(mac[offset + 1]) << 16
        | u32::from(mac[offset + 2]) << 8
        | u32::from(mac[offset + 3]);
    let code = binary % 10u32.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Seals and opens TOTP secrets under the server secret.
pub struct SecretSealer(RandomizedNonceKey);

impl SecretSealer {
    pub fn new(secret: &ServerSecret) -> Result<Self, TotpError> {
        RandomizedNonceKey::new(&AES_256_GCM, &secret.derive(SEALING_PURPOSE))
            .map(SecretSealer)
            .map_err(|_| TotpError::Sealing)
    }

    /// nonce || ciphertext || tag, bound to `context` (the factor id).
    pub fn seal(&self, context: &str, secret: &TotpSecret) -> Result<Vec<u8>, TotpError> {
        let mut in_out = secret.expose().to_vec();
        let nonce = self
            .0
            .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| TotpError::Sealing)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + in_out.len());
        sealed.extend_from_slice(nonce.as_ref());
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<TotpSecret, TotpError> {
        let (nonce, ciphertext) = sealed
            .split_at_checked(NONCE_LEN)
            .ok_or(TotpError::Sealing)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| TotpError::Sealing)?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| TotpError::Sealing)?;
        Ok(TotpSecret(plain.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// RFC 6238 Appendix B, SHA-1 rows: the 20-byte ASCII seed, 8-digit codes.
    #[test]
    fn rfc_6238_test_vectors_for_sha1() {
        let key = b"12345678901234567890";
        for (time, expected) in [
            (59i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let step = step_of(Utc.timestamp_opt(time, 0).unwrap());
            assert_eq!(hotp(key, step, 8), expected, "T = {time}");
        }
        // Six digits are the last six of the same number.
        let secret = TotpSecret::from_bytes(key.to_vec());
        assert_eq!(code_at(&secret, 1), "287082");
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_not_two() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        let now = Utc.timestamp_opt(1_234_567_890, 0).unwrap();
        let step = step_of(now);
        for delta in [-1, 0, 1] {
            let code = code_at(&secret, step + delta);
            assert_eq!(matching_step(&secret, &code, now), Some(step + delta));
        }
        for delta in [-2, 2] {
            let code = code_at(&secret, step + delta);
            assert_eq!(matching_step(&secret, &code, now), None);
        }
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn base32_matches_rfc_4648_vectors() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"f"), "MY");
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_factor() {
        let sealer = SecretSealer::new(&ServerSecret::generate().unwrap()).unwrap();
        let secret = TotpSecret::generate().unwrap();
        let sealed = sealer.seal("factor-a", &secret).unwrap();
        assert_eq!(sealer.open("factor-a", &sealed).unwrap(), secret);
        assert!(sealer.open("factor-b", &sealed).is_err());
    }
}
