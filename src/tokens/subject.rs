//! The `sub` a relying party sees (OIDC Core §8).
//!
//! A public subject is the account's id, the same for every client. A pairwise subject
//! is HMAC-SHA256 of the sector and the account id under a key derived from the server
//! secret: stable for one sector, unlinkable across sectors, and impossible to compute
//! without the secret. Because it cannot be inverted, the pairwise subjects handed out
//! are remembered (see `storage::pairwise_subjects`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

use crate::domain::client::{Client, SubjectType};

/// The purpose label under which the server secret yields the pairwise key.
pub const PAIRWISE_KEY_PURPOSE: &str = "pairwise-subject";

#[derive(Clone)]
pub struct PairwiseKey(hmac::Key);

impl PairwiseKey {
    pub fn new(key: &[u8; 32]) -> Self {
        PairwiseKey(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    pub fn subject(&self, sector: &str, account_id: &str) -> String {
        let mut context = hmac::Context::with_key(&self.0);
        // Length-prefixed so that no (sector, account) pair can collide with another.
        context.update(&(sector.len() as u64).to_be_bytes());
        context.update(sector.as_bytes());
        context.update(account_id.as_bytes());
        URL_SAFE_NO_PAD.encode(context.sign().as_ref())
    }
}

impl std::fmt::Debug for PairwiseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairwiseKey(..)")
    }
}

/// The subject `client` sees for `account_id`.
pub fn for_client(key: &PairwiseKey, client: &Client, account_id: &str) -> String {
    match client.subject_type {
        SubjectType::Public => account_id.to_owned(),
        SubjectType::Pairwise => key.subject(&client.sector_identifier, account_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_subjects_are_stable_per_sector_and_differ_across_sectors() {
        let key = PairwiseKey::new(&[7; 32]);
        let a = key.subject("dichvucong.gov.vn", "account-1");
        assert_eq!(a, key.subject("dichvucong.gov.vn", "account-1"));
        assert_ne!(a, key.subject("thue.gov.vn", "account-1"));
        assert_ne!(a, key.subject("dichvucong.gov.vn", "account-2"));
        assert_ne!(
            a,
            PairwiseKey::new(&[8; 32]).subject("dichvucong.gov.vn", "account-1")
        );
        assert_eq!(a.len(), 43);
    }
}
