//! What a login established: who, in which session, when and how strongly. One value,
//! made once when the session starts, and carried unchanged by the session, the code,
//! the refresh family and the tokens they yield, so that `auth_time`, `acr`, `amr` and
//! `sid` in an ID token are always those of the login itself (OIDC Core §2).

use serde::{Deserialize, Serialize};

use super::acr::{Acr, Amr};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthnFacts {
    pub account_id: String,
    /// The login session's public identifier (OIDC `sid`), which logout names.
    pub sid: String,
    /// When the citizen authenticated (OIDC `auth_time`), in seconds since the epoch.
    pub auth_time: i64,
    /// The level reached, as it was at the login; a later downgrade of the account caps
    /// it where tokens are issued.
    pub acr: Acr,
    /// The methods presented, in order.
    pub amr: Amr,
}
