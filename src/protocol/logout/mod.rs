//! Logout, below HTTP: an RP-initiated logout request (`request`) and what it comes to
//! (`end_session`: the session ends at once, or the citizen is asked to confirm);
//! back-channel logout tokens queued for the clients of an ended session
//! (`backchannel`); and the end of the session a new login replaces (`replaced`). The
//! endpoints, their pages and the outbox worker that sends the tokens are in
//! `oidc::logout`.

pub mod backchannel;
pub mod end_session;
mod replaced;
pub mod request;

pub use replaced::end_replaced_session;
