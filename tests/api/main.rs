//! Integration tests: the real server on a random port, driven over HTTP, with the
//! openidconnect crate as the relying party. With TEST_DATABASE_URL and TEST_REDIS_URL
//! set, every test runs against PostgreSQL and Redis instead of SQLite and the
//! in-process store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod account;
mod admin;
mod architecture;
mod authorize;
mod backchannel_outbox;
mod browser;
mod browser_account;
mod browser_enrol;
mod browser_factors;
mod browser_officer;
mod browser_passkey;
mod browser_recovery;
mod cli;
mod client_assertion;
mod client_credentials;
mod cluster;
mod consent;
mod contacts;
mod control_chars;
mod discovery;
mod dpop;
mod encryption;
mod enrol;
mod factor_binding;
mod fapi2;
mod faults;
mod federation;
mod flow;
mod form_post;
mod guide;
mod helpers;
mod id_token_hint;
mod import;
mod instances;
mod interaction;
mod journey;
mod keys;
mod lifecycle;
mod limits;
mod login;
mod login_protection;
mod logout;
mod logs;
mod metrics;
mod officers;
mod openapi;
mod outbound;
mod pairwise;
mod par;
mod passkey;
mod password_forms;
mod recovery;
mod redis_cluster;
mod refresh;
mod request_object;
mod revocation;
mod second_factor;
mod second_factor_lockout;
mod step_up;
mod store;
mod strict_jose;
mod token;
mod userinfo;
