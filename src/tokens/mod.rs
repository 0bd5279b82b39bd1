//! Signing keys and the tokens citizen-idp issues. Nothing here knows HTTP: every
//! function takes plain values (the issuer, `now`, the client) and returns tokens.

pub mod access_token;
pub mod code;
pub mod id_token;
pub mod jwe;
pub mod jwt;
pub mod key_set;
pub mod keyring;
pub mod keys;
pub mod logout_token;
pub mod pkce;
pub mod random;
pub mod refresh;
pub mod revocation;
pub mod strict_json;
pub mod subject;
#[cfg(test)]
pub(crate) mod test_support;
pub mod thumbprint;
pub mod verified;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("signing failed")]
    Signing,
    #[error("token encoding failed: {0}")]
    Encoding(String),
    #[error("key error: {0}")]
    Key(String),
}
