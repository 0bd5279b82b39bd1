//! Server-rendered pages for citizens: login, errors, and the demo relying party.
//! Every page is in Vietnamese (the default) and English.

pub mod account;
pub mod consent;
pub mod demo;
pub mod enrol;
pub mod factor_texts;
pub mod factors;
pub mod login;
pub mod login_protection;
pub mod passkeys;
pub mod second_factor;
pub mod static_files;
