//! Argon2id password hashing, off the async workers and bounded in concurrency.
//!
//! Each hash costs about 19 MiB and tens of milliseconds of CPU by design. Hashes run
//! on the blocking pool so that they never stall request handling, and a semaphore
//! caps how many run at once so that a login storm cannot exhaust memory: one per core
//! by default, since more at once only share the same cores and hold more memory.
//! The queue for a turn is bounded too: past it, [`PasswordError::Busy`] comes back at
//! once and the login page says "busy, try again" (503) instead of timing out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version,
};
use ring::rand::{SecureRandom, SystemRandom};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::PasswordSettings;
use crate::domain::secret::Password;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// Every hashing slot is taken and the queue for one is full.
    #[error("too many password hashes waiting")]
    Busy,
}

/// One place in the queue for a hashing slot; given back however the wait ends (a
/// client that disconnects drops the future).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A hash of a random password, verified when no account exists so that an unknown
    /// number costs the same time as a wrong password (no user enumeration by timing).
    dummy_hash: Arc<str>,
    permits: Arc<Semaphore>,
    /// 0: every hash is refused as busy.
    concurrent: usize,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
}

impl PasswordHasher {
    pub fn new(settings: &PasswordSettings) -> Result<Self, PasswordError> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )
        .map_err(|e| PasswordError::Hashing(e.to_string()))?;
        let concurrent = settings
            .max_concurrent_hashes
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
        let mut hasher = PasswordHasher {
            params,
            dummy_hash: Arc::from(""),
            permits: Arc::new(Semaphore::new(concurrent)),
            concurrent,
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting: settings.max_queued_hashes,
        };
        hasher.dummy_hash = Arc::from(hasher.hash_now(&crate::tokens::random::token())?);
        Ok(hasher)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes on the calling thread; for the CLI and seeding only.
    pub fn hash_now(&self, password: &str) -> Result<String, PasswordError> {
        let mut salt = [0u8; 16];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| PasswordError::Hashing("no randomness".into()))?;
        self.argon2()
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| PasswordError::Hashing(e.to_string()))
    }

    /// A hashing slot: at once if one is free, after a wait if the queue has room, else
    /// `Busy` at once.
    async fn slot(&self) -> Result<OwnedSemaphorePermit, PasswordError> {
        if self.concurrent == 0 {
            return Err(PasswordError::Busy);
        }
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(permit);
        }
        let place = Waiting(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            drop(place);
            return Err(PasswordError::Busy);
        }
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| PasswordError::Hashing(e.to_string()));
        drop(place);
        permit
    }

    pub async fn hash(&self, password: Password) -> Result<String, PasswordError> {
        let _permit = self.slot().await?;
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || hasher.hash_now(password.expose()))
            .await
            .map_err(|e| PasswordError::Hashing(e.to_string()))?
    }

    /// Verifies `password` against `stored`, or against the dummy hash when there is
    /// no stored hash, so both paths take the same time. Malformed hashes never match.
    pub async fn verify(
        &self,
        password: Password,
        stored: Option<String>,
    ) -> Result<bool, PasswordError> {
        let _permit = self.slot().await?;
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || {
            let is_real = stored.is_some();
            let hash_text = stored.unwrap_or_else(|| hasher.dummy_hash.to_string());
            let matches = PasswordHash::new(&hash_text)
                .map(|hash| {
                    hasher
                        .argon2()
                        .verify_password(password.expose().as_bytes(), &hash)
                        .is_ok()
                })
                .unwrap_or(false);
            is_real && matches
        })
        .await
        .map_err(|e| PasswordError::Hashing(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PasswordSettings {
        PasswordSettings {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
            max_concurrent_hashes: None,
            max_queued_hashes: 32,
        }
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let hasher = PasswordHasher::new(&settings()).unwrap();
        let hash = hasher
            .hash(Password::new("correct horse".into()))
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            hasher
                .verify(Password::new("correct horse".into()), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Password::new("wrong horse".into()), Some(hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Password::new("anything".into()), None)
                .await
                .unwrap()
        );
    }
}
