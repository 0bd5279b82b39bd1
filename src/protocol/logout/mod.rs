//! What a login or a logout tells the relying parties: back-channel logout tokens queued
//! for the clients of an ended session (`backchannel`), and the end of the session a new
//! login replaces (`replaced`). The endpoints and the outbox worker that sends the
//! tokens are in `oidc::logout`.

pub mod backchannel;
mod replaced;

pub use replaced::end_replaced_session;
