//! The login decision: the password, the account's status, and the citizen's record in
//! the population register must all agree before anyone is signed in.

use crate::authn::password::{PasswordError, PasswordHasher};
use crate::domain::national_id::NationalId;
use crate::domain::secret::Password;
use crate::registry::{self, Ineligible};
use crate::storage::accounts::Account;
use crate::storage::{Db, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown number, malformed number or wrong password: deliberately one answer,
    /// so the login form cannot tell which numbers have accounts.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The password was right but the account or the citizen's record forbids login.
    #[error("login not permitted: {0}")]
    NotPermitted(Ineligible),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

pub async fn authenticate(
    db: &Db,
    hasher: &PasswordHasher,
    unverified_national_id: &str,
    password: Password,
) -> Result<Account, LoginError> {
    let identity = match NationalId::parse(unverified_national_id) {
        Ok(id) => registry::identity_by_national_id(db, id).await?,
        Err(_) => None,
    };
    let stored_hash = identity
        .as_ref()
        .map(|(account, _)| account.password_hash.clone());
    // Always verify, against a dummy hash when there is no account, so that both
    // answers take the same time.
    if !hasher.verify(password, stored_hash).await? {
        return Err(LoginError::InvalidCredentials);
    }
    let Some((account, citizen)) = identity else {
        return Err(LoginError::InvalidCredentials);
    };
    registry::check_eligible(&account, &citizen).map_err(LoginError::NotPermitted)?;
    Ok(account)
}
