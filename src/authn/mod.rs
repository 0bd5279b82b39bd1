//! Proving who the person is: passwords (Argon2id), login sessions, and the login
//! decision that combines the account with the population register.

pub mod login;
pub mod password;
pub mod second_factor;
pub mod session;
