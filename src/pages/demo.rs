//! A demo relying party, served by the same binary at `/demo`: a public-service portal
//! that logs a citizen in through the real flow, over real HTTP, with the openidconnect
//! crate. It discovers the provider, sends the browser to `/authorize` with PKCE, a
//! nonce and a state, exchanges the code, verifies the ID token against the JWKS, and
//! calls userinfo. Production configurations turn it off (`demo.enabled = false`).

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::http::lang::page_lang;
use crate::http::lang::{Lang, Texts};
use crate::http::page_error::{PageError, html};
use crate::http::redirect::redirect;
use crate::state::AppState;

/// The demo portal's registration, known to this process only.
#[derive(Clone)]
pub struct DemoRelyingParty {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub http: reqwest::Client,
}

impl DemoRelyingParty {
    pub fn new(
        client_id: String,
        client_secret: String,
        issuer: &str,
    ) -> Result<Self, reqwest::Error> {
        // No redirects: an OIDC client must not follow them (SSRF), and we never need to.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(DemoRelyingParty {
            client_id,
            client_secret,
            redirect_uri: format!("{issuer}/demo/callback"),
            http,
        })
    }
}

pub const DEMO_COOKIE: &str = "cidp_demo";

#[derive(Template)]
#[template(path = "demo.html")]
struct DemoPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    other_lang: &'a str,
}

#[derive(Template)]
#[template(path = "demo_result.html")]
struct DemoResultPage<'a> {
    t: &'a Texts,
    lang: &'a str,
    id_token_claims: &'a str,
    userinfo_claims: &'a str,
    /// For RP-initiated logout, back to the demo page.
    end_session_endpoint: &'a str,
    id_token: &'a str,
    post_logout_redirect_uri: &'a str,
}

/// What the portal remembers between sending the browser away and its return.
#[derive(Serialize, Deserialize)]
struct PendingLogin {
    nonce: String,
    pkce_verifier: String,
    lang: String,
}

fn other(lang: Lang) -> Lang {
    if lang == Lang::Vi { Lang::En } else { Lang::Vi }
}

/// The demo portal's pages, with the relying party they take; registered only where
/// the demo is on.
pub fn routes(cfg: &mut web::ServiceConfig, demo: web::Data<DemoRelyingParty>) {
    cfg.app_data(demo)
        .route("/demo", web::get().to(demo_get))
        .route("/demo/login", web::get().to(demo_login_get))
        .route("/demo/callback", web::get().to(demo_callback_get));
}

/// Served only where the demo is on (see [`routes`]).
pub async fn demo_get(req: HttpRequest) -> Result<HttpResponse, PageError> {
    let lang = page_lang(&req, None);
    let page = DemoPage {
        t: lang.texts(),
        lang: lang.code(),
        other_lang: other(lang).code(),
    };
    Ok(html(StatusCode::OK, page.render()))
}

fn failed(e: &dyn std::fmt::Display, lang: Lang) -> PageError {
    PageError::internal(e, false).in_lang(lang)
}

async fn discover(state: &AppState, rp: &DemoRelyingParty) -> Result<CoreProviderMetadata, String> {
    let issuer = IssuerUrl::new(state.issuer.clone()).map_err(|e| e.to_string())?;
    CoreProviderMetadata::discover_async(issuer, &rp.http)
        .await
        .map_err(|e| format!("discovery failed: {e}"))
}

pub async fn demo_login_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    rp: web::Data<DemoRelyingParty>,
) -> Result<HttpResponse, PageError> {
    let lang = page_lang(&req, None);
    let rp = rp.as_ref();
    let metadata = discover(&state, rp).await.map_err(|e| failed(&e, lang))?;
    let redirect_url = RedirectUrl::new(rp.redirect_uri.clone()).map_err(|e| failed(&e, lang))?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(rp.client_id.clone()),
        Some(ClientSecret::new(rp.client_secret.clone())),
    )
    .set_redirect_uri(redirect_url);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let force_login = req.query_string().contains("prompt=login");
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("address".into()))
        .set_pkce_challenge(challenge)
        .add_ui_locale(openidconnect::LanguageTag::new(lang.code().into()));
    if force_login {
        request = request.add_prompt(openidconnect::core::CoreAuthPrompt::Login);
    }
    let (url, csrf_state, nonce) = request.url();

    let pending = PendingLogin {
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        lang: lang.code().into(),
    };
    let value = serde_json::to_vec(&pending).map_err(|e| failed(&e, lang))?;
    state
        .store
        .put(
            &crate::store::keys::demo_login(csrf_state.secret()),
            value,
            Duration::from_secs(600),
        )
        .await
        .map_err(|e| PageError::from(e).in_lang(lang))?;
    let cookie = Cookie::build(DEMO_COOKIE, csrf_state.secret().clone())
        .path("/demo")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .finish();
    let mut response = redirect(url.as_str(), false);
    response.add_cookie(&cookie).map_err(|e| failed(&e, lang))?;
    Ok(response)
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

pub async fn demo_callback_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    rp: web::Data<DemoRelyingParty>,
    query: Option<web::Query<CallbackQuery>>,
) -> Result<HttpResponse, PageError> {
    let lang = page_lang(&req, None);
    let rp = rp.as_ref();
    let query = query
        .ok_or_else(|| PageError::bad_request().in_lang(lang))?
        .into_inner();
    if query.error.is_some() {
        return Err(PageError::bad_request().in_lang(lang));
    }
    let (Some(code), Some(returned_state)) = (query.code, query.state) else {
        return Err(PageError::bad_request().in_lang(lang));
    };
    // The state must be the one this browser was given (CSRF protection of the RP).
    let cookie_state = req.cookie(DEMO_COOKIE).map(|c| c.value().to_owned());
    if cookie_state.as_deref() != Some(returned_state.as_str()) {
        return Err(PageError::csrf_failed().in_lang(lang));
    }
    let pending: PendingLogin = state
        .store
        .take(&crate::store::keys::demo_login(&returned_state))
        .await
        .map_err(|e| PageError::from(e).in_lang(lang))?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| PageError::login_expired().in_lang(lang))?;
    let lang = Lang::negotiate(Some(&pending.lang));

    let metadata = discover(&state, rp).await.map_err(|e| failed(&e, lang))?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(rp.client_id.clone()),
        Some(ClientSecret::new(rp.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(rp.redirect_uri.clone()).map_err(|e| failed(&e, lang))?);
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| failed(&e, lang))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
        .request_async(&rp.http)
        .await
        .map_err(|e| failed(&format!("code exchange failed: {e}"), lang))?;

    let id_token = tokens
        .id_token()
        .ok_or_else(|| failed(&"no ID token in the token response", lang))?;
    let verifier = client.id_token_verifier().set_allowed_algs([
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    ]);
    let claims = id_token
        .claims(&verifier, &Nonce::new(pending.nonce))
        .map_err(|e| failed(&format!("ID token rejected: {e}"), lang))?;
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token.signing_alg().map_err(|e| failed(&e, lang))?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(|e| failed(&e, lang))?;
        let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)
            .map_err(|e| failed(&e, lang))?;
        if actual != *expected {
            return Err(failed(&"at_hash does not match the access token", lang));
        }
    }
    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .map_err(|e| failed(&e, lang))?
        .request_async(&rp.http)
        .await
        .map_err(|e| failed(&format!("userinfo failed: {e}"), lang))?;

    let id_token_claims = serde_json::to_string_pretty(claims).map_err(|e| failed(&e, lang))?;
    let userinfo_claims = serde_json::to_string_pretty(&userinfo).map_err(|e| failed(&e, lang))?;
    let page = DemoResultPage {
        t: lang.texts(),
        lang: lang.code(),
        id_token_claims: &id_token_claims,
        userinfo_claims: &userinfo_claims,
        end_session_endpoint: &state.endpoints.end_session,
        id_token: &id_token.to_string(),
        post_logout_redirect_uri: &format!("{}/demo", state.issuer),
    };
    Ok(html(StatusCode::OK, page.render()))
}
