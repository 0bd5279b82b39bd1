//! Pure types and rules of the identity domain. Nothing here performs I/O or
//! knows about HTTP, the database or the store, so every rule can be tested alone.

pub mod acr;
pub mod authn_facts;
pub mod citizen;
pub mod client;
pub mod client_keys;
pub mod client_security;
pub mod contact;
pub mod interaction;
pub mod national_id;
pub mod officer;
pub mod parameter;
pub mod province;
pub mod scope;
pub mod secret;
pub mod signing_alg;
