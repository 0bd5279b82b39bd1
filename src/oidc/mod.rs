//! The OpenID Connect endpoints, one module each. Handlers are thin: they parse the
//! request into types, call the protocol logic, and map the result to a response.

pub mod authorize;
pub mod discovery;
pub mod federation;
pub mod introspect;
pub mod logout;
pub mod par;
pub mod revoke;
pub mod token;
pub mod userinfo;

use actix_web::web;

/// The OpenID Connect endpoints' routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(discovery::discovery_get),
    )
    .route("/jwks.json", web::get().to(discovery::jwks_get))
    // The paths of `federation::{CONFIGURATION_PATH, FETCH_PATH, LIST_PATH,
    // RESOLVE_PATH}`, written out: the route scanners of the tests read literals.
    .route(
        "/.well-known/openid-federation",
        web::get().to(federation::configuration_get),
    )
    .route("/federation/fetch", web::get().to(federation::fetch_get))
    .route("/federation/list", web::get().to(federation::list_get))
    .route(
        "/federation/resolve",
        web::get().to(federation::resolve_get),
    )
    .route("/authorize", web::get().to(authorize::authorize_get))
    .route("/authorize", web::post().to(authorize::authorize_post))
    .route("/par", web::post().to(par::par_post))
    .route("/token", web::post().to(token::token_post))
    .route("/revoke", web::post().to(revoke::revoke_post))
    .route("/introspect", web::post().to(introspect::introspect_post))
    .route("/userinfo", web::get().to(userinfo::userinfo_get))
    .route("/userinfo", web::post().to(userinfo::userinfo_post))
    .route("/logout", web::get().to(logout::end_session_get))
    .route("/logout", web::post().to(logout::end_session_post))
    .route("/logout/confirm", web::post().to(logout::confirm_post));
}
