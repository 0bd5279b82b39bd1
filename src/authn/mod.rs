//! Proving who the person is: passwords (Argon2id), second factors (TOTP, recovery
//! codes, passkeys), login sessions, and the login decision that combines the account with the
//! population register.

pub mod enrolment;
pub mod factor_lockout;
pub mod login;
pub mod passkey;
pub mod password;
pub mod password_policy;
pub mod recovery_codes;
pub mod second_factor;
pub mod session;
pub mod throttle;
pub mod totp;
