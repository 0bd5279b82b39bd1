//! Argon2id password hashing, off the async workers and bounded in concurrency.
//!
//! Each hash costs about 19 MiB and tens of milliseconds of CPU by design. Hashes run
//! on the blocking pool so that they never stall request handling, and a semaphore
//! caps how many run at once so that a login storm cannot exhaust memory: one per core
//! by default, since more at once only share the same cores and hold more memory.
//! The queue for a turn is bounded too: past it, [`PasswordError::Busy`] comes back at
//! once and the login page says "busy, try again" (503) instead of timing out. A caller
//! that must not start something it cannot finish (a counted login attempt) takes its
//! turn first with [`PasswordHasher::reserve`].
//!
//! Passwords are hashed in Unicode NFC: "ệ" typed precomposed by one keyboard and as
//! e + two combining marks by another is one password (the policy counts it in NFC
//! too). Hashes made before that, from the form as typed, still match: a login
//! verifies the NFC form, then, only if the typed text is not NFC, the typed form, and
//! reports [`PasswordMatch::AsTyped`] so that the caller stores an NFC hash instead.
//!
//! **Memory.** Argon2's working memory ([`WorkingMemory`]) is mapped for the hashes and
//! unmapped when the last turn ends ([`WarmMemory`] keeps it between turns that follow
//! one another): the server's RSS at rest does not depend on how many passwords it has
//! hashed, and under a login storm it grows by at most one Argon2 memory per hashing
//! slot.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use unicode_normalization::{UnicodeNormalization, is_nfc};

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

/// How a password matched its stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordMatch {
    No,
    /// Its NFC form matched.
    Yes,
    /// Only the form as typed, which is not NFC, matched: a hash made before passwords
    /// were normalised. Hash the password again.
    AsTyped,
}

impl PasswordMatch {
    pub fn matched(self) -> bool {
        self != PasswordMatch::No
    }
}

/// The password in Unicode NFC (borrowed when it already is).
fn nfc(password: &str) -> Cow<'_, str> {
    if is_nfc(password) {
        Cow::Borrowed(password)
    } else {
        Cow::Owned(password.nfc().collect())
    }
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
    warm: Arc<WarmMemory>,
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
            warm: Arc::default(),
        };
        hasher.dummy_hash = Arc::from(hasher.hash_now(&crate::tokens::random::token())?);
        Ok(hasher)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes (the NFC form) on the calling thread; for the CLI and seeding only.
    pub fn hash_now(&self, password: &str) -> Result<String, PasswordError> {
        self.hash_form(nfc(password).as_bytes())
    }

    /// Hashes exactly these bytes.
    fn hash_form(&self, password: &[u8]) -> Result<String, PasswordError> {
        let mut salt = [0u8; 16];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| PasswordError::Hashing("no randomness".into()))?;
        self.hash_with_salt(password, &salt)
    }

    /// The PHC string of `password` hashed with `salt` under the configured parameters.
    fn hash_with_salt(&self, password: &[u8], salt: &[u8]) -> Result<String, PasswordError> {
        let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let mut memory = self.memory(&self.params)?;
        let hashed =
            self.argon2()
                .hash_password_into_with_memory(password, salt, &mut output, &mut memory);
        self.done_with(memory);
        hashed.map_err(hashing)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(hashing)?,
            salt: Some(Salt::new(salt).map_err(hashing)?),
            hash: Some(Output::new(&output).map_err(hashing)?),
        };
        Ok(phc.to_string())
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

    /// A hashing turn held in advance: at once if one is free, after a wait if the
    /// queue has room, else `Busy` at once.
    pub async fn reserve(&self) -> Result<HashTurn, PasswordError> {
        // Counted from the wait on: a turn about to start keeps the memory warm.
        let user = WarmUser::new(&self.warm);
        Ok(HashTurn {
            hasher: self.clone(),
            _permit: self.slot().await?,
            _user: user,
        })
    }

    /// Working memory for `params`: a warm one if it fits, else a new one.
    fn memory(&self, params: &Params) -> Result<WorkingMemory, PasswordError> {
        if params.block_count() == self.params.block_count()
            && let Some(memory) = self.warm.take()
        {
            return Ok(memory);
        }
        WorkingMemory::for_params(params)
    }

    /// Keeps `memory` warm while turns are held or awaited; unmaps it otherwise.
    fn done_with(&self, memory: WorkingMemory) {
        if memory.0.len() == self.params.block_count() {
            self.warm.keep(memory, self.concurrent);
        }
    }

    pub async fn hash(&self, password: Password) -> Result<String, PasswordError> {
        self.reserve().await?.hash(password).await
    }

    /// Whether `password` matches `stored` (in either form, see [`PasswordMatch`]); a
    /// missing hash never matches, after as long a check as a real one.
    pub async fn verify(
        &self,
        password: Password,
        stored: Option<String>,
    ) -> Result<bool, PasswordError> {
        Ok(self
            .reserve()
            .await?
            .check(password, stored)
            .await?
            .matched())
    }

    /// The Argon2 checks of [`HashTurn::check`], on the calling thread.
    fn check_now(&self, password: &str, stored: Option<String>) -> PasswordMatch {
        let is_real = stored.is_some();
        let hash_text = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        // A malformed stored hash never matches.
        let parsed = StoredHash::parse(&hash_text);
        let matches = |form: &[u8]| parsed.as_ref().is_some_and(|hash| hash.matches(form, self));
        let normalized = nfc(password);
        // The dummy hash goes through the same checks, so that an unknown number takes
        // as long as a wrong password typed the same way.
        let verdict = if matches(normalized.as_bytes()) {
            PasswordMatch::Yes
        } else if normalized != password && matches(password.as_bytes()) {
            PasswordMatch::AsTyped
        } else {
            PasswordMatch::No
        };
        if is_real { verdict } else { PasswordMatch::No }
    }
}

fn hashing(e: impl std::fmt::Display) -> PasswordError {
    PasswordError::Hashing(e.to_string())
}

/// Blocks (of 1 KiB) reserved for every computation, at least: 33 MiB, above glibc's
/// largest dynamic mmap threshold (`DEFAULT_MMAP_THRESHOLD_MAX`, 32 MiB on 64-bit).
const RESERVED_BLOCKS: usize = 33 * 1024;

/// The working memory of one Argon2 computation, allocated for it alone and returned to
/// the system when dropped.
///
/// Why the reservation is larger than the memory used: glibc serves a large request
/// with its own mmap and unmaps it when freed, but it also raises its mmap threshold to
/// the size of the freed block (up to 32 MiB). Left to the argon2 crate, which asks for
/// exactly `m_cost` KiB, the first hash's 19 MiB went back to the system and every later
/// one was carved from the heap of its blocking thread's arena, where it stayed once
/// freed: 19 MiB per thread that had ever hashed (187 MB after ten enrolments and a few
/// logins). A request above 32 MiB is mmapped whatever the threshold, never moves it,
/// and is unmapped when freed; the reserved pages past the `m_cost` blocks are never
/// touched, so they never become resident. (The crate forbids `unsafe`, so `mallopt`
/// cannot fix the threshold instead; musl always maps requests of this size.)
struct WorkingMemory(Vec<Block>);

impl WorkingMemory {
    fn for_params(params: &Params) -> Result<Self, PasswordError> {
        let used = params.block_count();
        let mut blocks = Vec::new();
        // A stored hash names its own cost: one too large for this machine is an
        // error, not an abort.
        blocks
            .try_reserve_exact(used.max(RESERVED_BLOCKS))
            .map_err(hashing)?;
        blocks.resize(used, Block::new());
        Ok(WorkingMemory(blocks))
    }
}

impl AsMut<[Block]> for WorkingMemory {
    fn as_mut(&mut self) -> &mut [Block] {
        &mut self.0
    }
}

/// Working memories kept between the hashes of turns that follow one another.
///
/// A new mapping costs a page fault per 4 KiB on every hash: 4,864 of them for 19 MiB,
/// about 10 ms more per login on the project's machine (a wrong password answered in
/// 25–30 ms instead of 14–19; glibc did the same with `MALLOC_MMAP_THRESHOLD_`). So while turns are held or awaited (a
/// login storm, or the two checks of one login), a finished hash leaves its memory here
/// for the next one, at most one per hashing slot; when the last turn ends, the memory
/// goes back to the system. One login at a time pays the faults, a storm does not.
#[derive(Default)]
struct WarmMemory {
    idle: Mutex<Vec<WorkingMemory>>,
    /// Turns held or awaited.
    users: AtomicUsize,
}

impl WarmMemory {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<WorkingMemory>> {
        // A panic cannot leave the list half-changed (each use is one push or pop).
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take(&self) -> Option<WorkingMemory> {
        self.idle().pop()
    }

    fn keep(&self, memory: WorkingMemory, slots: usize) {
        let mut idle = self.idle();
        // Checked under the lock that the last user's exit takes to empty the list.
        if self.users.load(Ordering::Acquire) > 0 && idle.len() < slots {
            idle.push(memory);
        }
    }
}

/// A turn held or awaited; the last one to end unmaps the warm memory.
struct WarmUser(Arc<WarmMemory>);

impl WarmUser {
    fn new(warm: &Arc<WarmMemory>) -> Self {
        warm.users.fetch_add(1, Ordering::AcqRel);
        WarmUser(Arc::clone(warm))
    }
}

impl Drop for WarmUser {
    fn drop(&mut self) {
        let mut idle = self.0.idle();
        if self.0.users.fetch_sub(1, Ordering::AcqRel) == 1 {
            idle.clear();
        }
    }
}

/// A stored PHC string, parsed: the algorithm and cost it was made with, its salt and
/// its hash. Hashes made under older settings keep verifying under their own.
struct StoredHash {
    argon2: Argon2<'static>,
    salt: Salt,
    expected: Output,
}

impl StoredHash {
    fn parse(text: &str) -> Option<Self> {
        let phc = PasswordHash::new(text).ok()?;
        let algorithm = Algorithm::try_from(phc.algorithm.as_str()).ok()?;
        let version = match phc.version {
            Some(version) => Version::try_from(version).ok()?,
            None => Version::default(),
        };
        // The output length comes from the stored hash.
        let params = Params::try_from(&phc).ok()?;
        Some(StoredHash {
            argon2: Argon2::new(algorithm, version, params),
            salt: phc.salt?,
            expected: phc.hash?,
        })
    }

    /// Whether `password` gives the stored hash; compared in constant time.
    fn matches(&self, password: &[u8], hasher: &PasswordHasher) -> bool {
        let mut computed = [0u8; Output::MAX_LENGTH];
        let Some(computed) = computed.get_mut(..self.expected.len()) else {
            return false;
        };
        let Ok(mut memory) = hasher.memory(self.argon2.params()) else {
            return false;
        };
        let hashed =
            self.argon2
                .hash_password_into_with_memory(password, &self.salt, computed, &mut memory);
        hasher.done_with(memory);
        hashed.is_ok() && bool::from(computed.ct_eq(self.expected.as_bytes()))
    }
}

/// A turn of the password hasher, held until dropped: what is done with it cannot be
/// turned away as busy.
pub struct HashTurn {
    hasher: PasswordHasher,
    _permit: OwnedSemaphorePermit,
    _user: WarmUser,
}

impl HashTurn {
    /// Hashes the NFC form of `password`, off the async workers.
    pub async fn hash(&self, password: Password) -> Result<String, PasswordError> {
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || hasher.hash_now(password.expose()))
            .await
            .map_err(|e| PasswordError::Hashing(e.to_string()))?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is
    /// none (never a match), so both paths take the same time.
    pub async fn check(
        &self,
        password: Password,
        stored: Option<String>,
    ) -> Result<PasswordMatch, PasswordError> {
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || hasher.check_now(password.expose(), stored))
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

    #[tokio::test]
    async fn a_password_matches_in_either_unicode_form_and_an_old_hash_of_another_form_is_flagged()
    {
        let hasher = PasswordHasher::new(&settings()).unwrap();
        let composed = "mật khẩu tiếng Việt";
        let decomposed: String = composed.nfd().collect();
        assert_ne!(composed, decomposed);
        let check = |typed: &str, stored: &str| {
            let turn = hasher.reserve();
            let (typed, stored) = (typed.to_owned(), stored.to_owned());
            async move {
                turn.await
                    .unwrap()
                    .check(Password::new(typed), Some(stored))
                    .await
                    .unwrap()
            }
        };
        // Hashed from either form, the hash is the NFC one's.
        let hash = hasher
            .hash(Password::new(decomposed.clone()))
            .await
            .unwrap();
        assert_eq!(check(composed, &hash).await, PasswordMatch::Yes);
        assert_eq!(check(&decomposed, &hash).await, PasswordMatch::Yes);
        // A hash made of the decomposed bytes themselves (before normalisation).
        let old = hasher.hash_form(decomposed.as_bytes()).unwrap();
        assert_eq!(check(&decomposed, &old).await, PasswordMatch::AsTyped);
        assert_eq!(check(composed, &old).await, PasswordMatch::No);
        assert_eq!(check("wrong", &old).await, PasswordMatch::No);
    }

    /// Hashing into our own memory gives the argon2 crate's PHC string, and hashes the
    /// crate made (under these settings or older, cheaper ones) verify.
    #[tokio::test]
    async fn hashes_match_the_argon2_crates_own_and_older_settings_still_verify() {
        use argon2::PasswordHasher as _;
        let hasher = PasswordHasher::new(&settings()).unwrap();
        let salt = [7u8; 16];
        let theirs = hasher
            .argon2()
            .hash_password_with_salt(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            hasher.hash_with_salt(b"correct horse", &salt).unwrap(),
            theirs
        );
        let older = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, Some(16)).unwrap(),
        )
        .hash_password_with_salt(b"correct horse", &salt)
        .unwrap()
        .to_string();
        for stored in [theirs, older] {
            let turn = hasher.reserve().await.unwrap();
            let check = |typed: &str| turn.check(Password::new(typed.into()), Some(stored.clone()));
            assert_eq!(check("correct horse").await.unwrap(), PasswordMatch::Yes);
            assert_eq!(check("correct horsf").await.unwrap(), PasswordMatch::No);
        }
        for malformed in ["", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ", "plain"] {
            assert!(
                !hasher
                    .verify(Password::new("x".into()), Some(malformed.into()))
                    .await
                    .unwrap()
            );
        }
    }

    /// While turns overlap, a finished hash leaves its memory for the next; when the
    /// last turn ends, none is kept.
    #[tokio::test]
    async fn warm_memory_is_kept_while_turns_overlap_and_released_when_the_last_ends() {
        let hasher = PasswordHasher::new(&PasswordSettings {
            max_concurrent_hashes: Some(2),
            ..settings()
        })
        .unwrap();
        let idle = || hasher.warm.idle().len();
        assert_eq!(idle(), 0, "the dummy hash at start keeps nothing");
        let first = hasher.reserve().await.unwrap();
        let second = hasher.reserve().await.unwrap();
        first.hash(Password::new("a".into())).await.unwrap();
        assert_eq!(idle(), 1);
        second.check(Password::new("b".into()), None).await.unwrap();
        assert_eq!(idle(), 1, "taken and given back");
        drop(first);
        assert_eq!(idle(), 1);
        drop(second);
        assert_eq!(idle(), 0);
        // A turn refused as busy ends too.
        let busy = PasswordHasher::new(&PasswordSettings {
            max_concurrent_hashes: Some(0),
            ..settings()
        })
        .unwrap();
        assert!(matches!(busy.reserve().await, Err(PasswordError::Busy)));
        assert_eq!(busy.warm.users.load(Ordering::Acquire), 0);
    }

    #[test]
    fn working_memory_is_reserved_past_glibcs_largest_mmap_threshold() {
        let params = settings();
        let params = Params::new(params.memory_kib, 2, 1, None).unwrap();
        let memory = WorkingMemory::for_params(&params).unwrap();
        assert_eq!(memory.0.len(), 19456);
        assert!(memory.0.capacity() * Block::SIZE > 32 << 20);
    }
}
