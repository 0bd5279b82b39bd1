//! The OpenID Connect endpoints, one module each. Handlers are thin: they parse the
//! request into types, call the protocol logic, and map the result to a response.

pub mod authorize;
pub mod discovery;
pub mod introspect;
pub mod logout;
pub mod revoke;
pub mod token;
pub mod userinfo;
