//! The server secret: one 32-byte random value from which every server-side key is
//! derived, each for one purpose, so that no two uses ever share a key.
//!
//! It comes from the setting `keys.secret` (base64url; in production from the
//! environment, `CITIZEN_IDP__KEYS__SECRET`, or a secret store), or, when that is empty,
//! from the file `server.secret` in `keys.dir`, generated at first start with mode 0600.
//! Every instance that shares a database must have the same secret: the signing keys in
//! the database are sealed under a key derived from it.
//!
//! Purposes in use (never reuse one for something else):
//! - `"signing-key-encryption"`: AES-256-GCM key sealing the private signing keys.
//! - `"pairwise-subject"`: pairwise subject identifiers (`tokens::subject`). Changing
//!   the secret changes every pairwise `sub`: relying parties would lose their users.
//! - `"totp-secret"`: AES-256-GCM key sealing TOTP secrets (`authn::totp`), stored in
//!   `second_factors` and, while being enrolled, in the store. Changing the secret makes
//!   enrolled TOTP factors unusable; recovery codes (digests) still work, and the
//!   citizen enrols again.
//! - `"csrf"`: HMAC key of the CSRF tokens of forms outside a login flow (`http::csrf`).
//! - `"dpop-nonce"`: HMAC key of the DPoP server nonces (`protocol::dpop::Nonces`);
//!   changing the secret only makes clients fetch a new nonce.
//!
//! Reach it from a handler as `state.secret`.

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const LEN: usize = 32;
/// The file name of a generated secret inside `keys.dir`.
pub const FILE_NAME: &str = "server.secret";
/// HKDF salt (RFC 5869 §3.1): fixed, naming the scheme, so that a later scheme can
/// derive different keys from the same secret.
const SALT: &[u8] = b"citizen-idp server secret v1";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "keys.secret must be {LEN} bytes in base64url (e.g. from `head -c 32 /dev/urandom | basenc --base64url`)"
    )]
    Malformed,
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("cannot generate the server secret")]
    Random,
    #[error(
        "the database holds signing keys but there is no server secret: set keys.secret (or restore {}) to the secret of the other instances",
        .0.display()
    )]
    Missing(PathBuf),
}

/// The secret itself. Its `Debug` is redacted and it has no `Display`; only derived
/// keys ever leave this module.
#[derive(Clone)]
pub struct ServerSecret([u8; LEN]);

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret(<redacted>)")
    }
}

/// Where the secret came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Setting,
    File(PathBuf),
    Generated(PathBuf),
}

impl ServerSecret {
    /// Parses the base64url form (as in `keys.secret` and in the file).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim().trim_end_matches('='))
            .map_err(|_| SecretError::Malformed)?;
        let bytes: [u8; LEN] = bytes.try_into().map_err(|_| SecretError::Malformed)?;
        Ok(ServerSecret(bytes))
    }

    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = [0u8; LEN];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| SecretError::Random)?;
        Ok(ServerSecret(bytes))
    }

    /// The configured secret, or else the one in `dir`, generated there if missing and
    /// `may_generate` (false once the database holds keys sealed under some secret: a
    /// new one could not open them, and would only hide the real mistake).
    pub fn load(
        configured: &str,
        dir: &Path,
        may_generate: bool,
    ) -> Result<(Self, Source), SecretError> {
        if !configured.is_empty() {
            return Ok((Self::parse(configured)?, Source::Setting));
        }
        let path = dir.join(FILE_NAME);
        let file_error = |reason: String| SecretError::File {
            path: path.clone(),
            reason,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => return Ok((Self::parse(&text)?, Source::File(path))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_generate => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SecretError::Missing(path));
            }
            Err(e) => return Err(file_error(e.to_string())),
        }
        std::fs::create_dir_all(dir).map_err(|e| file_error(e.to_string()))?;
        let secret = Self::generate()?;
        // Written aside and then hard-linked into place: linking never replaces an
        // existing file, so of two processes starting at once one wins and the other
        // reads the winner's complete file, never a half-written one.
        let pending = dir.join(format!(".{FILE_NAME}.{}", uuid::Uuid::new_v4().simple()));
        let written = write_private(&pending, &secret.encode())
            .and_then(|()| std::fs::hard_link(&pending, &path));
        let _ = std::fs::remove_file(&pending);
        match written {
            Ok(()) => Ok((secret, Source::Generated(path))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).map_err(|e| file_error(e.to_string()))?;
                Ok((Self::parse(&text)?, Source::File(path)))
            }
            Err(e) => Err(file_error(e.to_string())),
        }
    }

    fn encode(&self) -> String {
        format!("{}\n", URL_SAFE_NO_PAD.encode(self.0))
    }

    /// A 32-byte key for one `purpose` (HKDF-SHA256, RFC 5869, with the purpose as
    /// `info`). The same secret and purpose always give the same key.
    pub fn derive(&self, purpose: &str) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        let info = [purpose.as_bytes()];
        #[allow(
            clippy::expect_used,
            reason = "HKDF-SHA256 can expand up to 8160 bytes; 32 cannot fail"
        )]
        Salt::new(HKDF_SHA256, SALT)
            .extract(&self.0)
            .expand(&info, HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut out))
            .expect("HKDF-SHA256 expands to 32 bytes");
        out
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_differ_by_purpose_and_secret_and_are_stable() {
        let a = ServerSecret::generate().unwrap();
        let b = ServerSecret::generate().unwrap();
        assert_eq!(a.derive("x"), a.derive("x"));
        assert_ne!(a.derive("x"), a.derive("y"));
        assert_ne!(a.derive("x"), b.derive("x"));
        assert_eq!(
            ServerSecret::parse(&a.encode()).unwrap().derive("x"),
            a.derive("x")
        );
        assert_eq!(format!("{a:?}"), "ServerSecret(<redacted>)");
    }

    #[test]
    fn a_secret_of_the_wrong_length_is_refused() {
        assert!(ServerSecret::parse("c2hvcnQ").is_err());
        assert!(ServerSecret::parse("").is_err());
    }

    #[test]
    fn the_file_is_generated_once_with_mode_0600_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            ServerSecret::load("", dir.path(), false),
            Err(SecretError::Missing(_))
        ));
        let (first, source) = ServerSecret::load("", dir.path(), true).unwrap();
        assert!(matches!(source, Source::Generated(_)));
        let (again, source) = ServerSecret::load("", dir.path(), false).unwrap();
        assert!(matches!(source, Source::File(_)));
        assert_eq!(first.derive("p"), again.derive("p"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
