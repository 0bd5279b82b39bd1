//! Consent: what a citizen agreed to share with each service.
//!
//! The consent work decides, per account, client and scope set, whether the consent
//! page must be shown before a code is issued.

use crate::authn::session::Session;
use crate::oidc::authorize::request::AuthorizationRequest;
use crate::pages::PageError;
use crate::state::AppState;

/// Whether the citizen of `session` must grant consent to `request` first.
pub async fn due(
    _state: &AppState,
    _session: &Session,
    _request: &AuthorizationRequest,
) -> Result<bool, PageError> {
    Ok(false)
}
