//! The admin API over HTTP, for operators' tools: relying parties ([`api`], over
//! [`crate::registration::admin`]), signing keys and accounts. Every route answers only
//! with the admin token (`api::authorize`).

pub mod account_level;
pub mod account_status;
pub mod api;
pub mod signing_keys;
