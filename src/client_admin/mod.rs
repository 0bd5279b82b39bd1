//! The admin API over HTTP, for operators' tools: relying parties ([`api`], over
//! [`crate::registration::admin`]), signing keys and accounts. Every route answers only
//! with the bootstrap admin token or an officer's personal token that carries the
//! operation's role (`api::authorize`).

pub mod account_level;
pub mod account_status;
pub mod api;
pub mod signing_keys;

use actix_web::web;

use crate::http::openapi;

/// The admin API's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/openapi.json", web::get().to(openapi::openapi_get))
        .route("/admin/clients", web::get().to(api::list))
        .route("/admin/clients", web::post().to(api::create))
        .route("/admin/clients/{client_id}", web::get().to(api::show))
        .route("/admin/clients/{client_id}", web::put().to(api::replace))
        .route("/admin/clients/{client_id}", web::delete().to(api::delete))
        .route(
            "/admin/clients/{client_id}/secret",
            web::post().to(api::rotate_secret),
        )
        .route(
            "/admin/clients/{client_id}/disable",
            web::post().to(api::disable),
        )
        .route(
            "/admin/clients/{client_id}/enable",
            web::post().to(api::enable),
        )
        .route(
            "/admin/keys/{kid}/revoke",
            web::post().to(signing_keys::revoke),
        )
        .route(
            "/admin/accounts/{national_id}/level",
            web::post().to(account_level::set_level),
        )
        .route(
            "/admin/accounts/{national_id}/status",
            web::post().to(account_status::set_status),
        );
}
