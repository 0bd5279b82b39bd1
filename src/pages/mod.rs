//! Server-rendered pages for citizens: login, errors, and the demo relying party.
//! Every page is in Vietnamese (the default) and English.

pub mod account;
pub mod consent;
pub mod contact_texts;
pub mod contacts;
pub mod demo;
pub mod enrol;
pub mod factor_texts;
pub mod factors;
pub mod login;
pub mod login_protection;
pub mod officer;
pub mod passkeys;
pub mod recover;
pub mod second_factor;
pub mod static_files;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::page_error::PageError;

/// The citizens' pages: login, second factor, consent, enrolment, the account and its
/// factors, the home redirect, and the pages' static files. The demo portal's pages
/// are registered apart, only where the demo is on ([`demo::routes`]).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home_get))
        .route("/login", web::get().to(login::login_get))
        .route("/login", web::post().to(login::login_post))
        .route(
            "/login/second-factor",
            web::get().to(second_factor::second_factor_get),
        )
        .route(
            "/login/second-factor",
            web::post().to(second_factor::second_factor_post),
        )
        .route("/consent", web::get().to(consent::consent_get))
        .route("/consent", web::post().to(consent::consent_post))
        .route("/enrol", web::get().to(enrol::enrol_get))
        .route("/enrol", web::post().to(enrol::enrol_post))
        .route("/recover", web::get().to(recover::recover_get))
        .route("/recover", web::post().to(recover::recover_post))
        .route("/recover/reset", web::post().to(recover::reset_post))
        .route("/officer", web::get().to(officer::home_get))
        .route("/officer/citizen", web::post().to(officer::citizen_post))
        .route("/officer/citizen/act", web::post().to(officer::act_post))
        .route("/officer/audit", web::post().to(officer::audit_post))
        .route("/officer/clients", web::get().to(officer::clients_get))
        .route("/officer/clients", web::post().to(officer::clients_post))
        .route("/officer/tokens", web::get().to(officer::tokens_get))
        .route("/officer/tokens", web::post().to(officer::tokens_post))
        .route("/account", web::get().to(account::account_get))
        .route(
            "/account/sessions/end",
            web::post().to(account::end_session_post),
        )
        .route(
            "/account/services/withdraw",
            web::post().to(account::withdraw_post),
        )
        .route("/account/password", web::post().to(account::password_post))
        .route("/account/contacts", web::get().to(contacts::contacts_get))
        .route("/account/contacts", web::post().to(contacts::contacts_post))
        .route(
            "/account/contacts/verify",
            web::get().to(contacts::verify_get),
        )
        .route(
            "/account/contacts/verify",
            web::post().to(contacts::verify_post),
        )
        .route("/account/factors", web::get().to(factors::factors_get))
        .route(
            "/account/factors/totp",
            web::get().to(factors::totp_enrol_get),
        )
        .route(
            "/account/factors/totp",
            web::post().to(factors::totp_enrol_post),
        )
        .route(
            "/account/factors/passkey",
            web::get().to(passkeys::passkey_add_get),
        )
        .route(
            "/account/factors/passkey",
            web::post().to(passkeys::passkey_add_post),
        )
        .route(
            "/account/factors/remove",
            web::post().to(factors::factor_remove_post),
        )
        .route(
            "/account/factors/recovery-codes",
            web::post().to(factors::recovery_codes_post),
        )
        .route("/static/style.css", web::get().to(static_files::style_get))
        .route(
            "/static/passkey.js",
            web::get().to(static_files::passkey_js_get),
        )
        .route(
            "/static/form_post.js",
            web::get().to(static_files::form_post_js_get),
        );
}

/// `/` leads to the demo portal where it runs, and to the discovery document elsewhere.
async fn home_get(req: HttpRequest) -> HttpResponse {
    let target = if req
        .app_data::<web::Data<demo::DemoRelyingParty>>()
        .is_some()
    {
        "/demo"
    } else {
        "/.well-known/openid-configuration"
    };
    crate::http::redirect::redirect(target, false)
}

/// Every path no route serves: the not-found page, in the visitor's language.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, PageError> {
    Err(PageError::not_found().in_lang(crate::http::lang::page_lang(&req, None)))
}
