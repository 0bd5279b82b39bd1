//! citizen-idp: a national electronic-identity server. An OpenID Connect provider that
//! checks every citizen against the population register before it issues a token.

pub mod audit;
pub mod authn;
pub mod cache;
pub mod cli;
pub mod client_admin;
pub mod clock;
pub mod config;
pub mod consent;
pub mod domain;
pub mod federation;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod officers;
pub mod oidc;
pub mod outbound;
pub mod outbox;
pub mod pages;
pub mod protocol;
pub mod registration;
pub mod registry;
pub mod server_secret;
pub mod startup;
pub mod state;
pub mod storage;
pub mod store;
pub mod telemetry;
pub mod tokens;
