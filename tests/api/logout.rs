//! Logout: RP-initiated (OIDC RP-Initiated Logout 1.0) and back-channel notices (OIDC
//! Back-Channel Logout 1.0), with a real HTTP receiver standing in for relying parties.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use citizen_idp::registration::NewClient;
use citizen_idp::storage::audit_events::{self, AuditEvent};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::helpers::{Fetch, PASSWORD, TestApp, TestCitizen, TestClient, query_param};

/// A relying party's back-channel logout endpoint: records every logout token it gets,
/// answering 500 to the first `failures` requests and 200 after.
pub(crate) struct Receiver {
    pub(crate) uri: String,
    pub(crate) tokens: mpsc::UnboundedReceiver<String>,
    _server: actix_web::dev::ServerHandle,
}

pub(crate) async fn receiver(failures: usize) -> Receiver {
    receiver_on(0, failures, 500).await
}

/// A receiver on `port` (0: any free one) answering `failure_status` to the first
/// `failures` requests, and 200 after.
pub(crate) async fn receiver_on(port: u16, failures: usize, failure_status: u16) -> Receiver {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let (sender, tokens) = mpsc::unbounded_channel();
    let remaining = Arc::new(Mutex::new(failures));
    let failure = actix_web::http::StatusCode::from_u16(failure_status).unwrap();
    let server = HttpServer::new(move || {
        let sender = sender.clone();
        let remaining = remaining.clone();
        App::new().route(
            "/backchannel",
            web::post().to(move |form: web::Form<Vec<(String, String)>>| {
                let sender = sender.clone();
                let remaining = remaining.clone();
                async move {
                    let mut left = remaining.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        return HttpResponse::build(failure).finish();
                    }
                    for (name, value) in form.into_inner() {
                        if name == "logout_token" {
                            sender.send(value).unwrap();
                        }
                    }
                    HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", port))
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    Receiver {
        uri: format!("http://127.0.0.1:{port}/backchannel"),
        tokens,
        _server: handle,
    }
}

/// The next logout token `rp` receives, within ten seconds.
pub(crate) async fn next_token(rp: &mut Receiver) -> String {
    tokio::time::timeout(Duration::from_secs(10), rp.tokens.recv())
        .await
        .expect("a logout token")
        .unwrap()
}

/// Verifies a logout token as a relying party must (OIDC Back-Channel Logout §2.6):
/// the signature against the provider's JWKS, `typ`, `iss`, `aud`, the `events` claim
/// and no `nonce`. Returns its claims.
pub(crate) async fn verify_logout_token(app: &TestApp, token: &str, client_id: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(app.get_json("/jwks.json").await).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[&app.issuer]);
    // The test clock is fixed in the past; the signature and claims are what count.
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .expect("a logout token signed by the provider")
    .claims;
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(
        claims.get("nonce").is_none(),
        "§2.4: a logout token has no nonce"
    );
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    // What we send passes the strict reader we apply to every JWT we read (no `crit`,
    // no member twice, registered claims of their types).
    use citizen_idp::tokens::strict_json;
    let parts: Vec<&str> = token.split('.').collect();
    strict_json::header(&strict_json::decode_part(parts[0]).unwrap()).expect("a strict header");
    let strict = strict_json::claims(&strict_json::decode_part(parts[1]).unwrap())
        .expect("strict claims")
        .registered;
    assert_eq!(
        strict.aud,
        Some(strict_json::Audience::One(client_id.to_owned()))
    );
    claims
}

pub(crate) const RETURN_URI: &str = "https://portal.example.gov.vn/logged-out";

pub(crate) fn portal_with_logout(app: &TestApp, backchannel: Option<&str>) -> TestClient {
    app.register_client(NewClient {
        post_logout_redirect_uris: vec![RETURN_URI.into()],
        backchannel_logout_uri: backchannel.map(str::to_owned),
        ..TestClient::portal()
    })
}

/// The JSON payload of a compact JWS, unverified (the tests verify signatures apart).
pub(crate) fn payload(jws: &str) -> Value {
    let part = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Logs in at `client` and returns the ID token.
pub(crate) async fn id_token(app: &TestApp, citizen: &TestCitizen, client: &TestClient) -> String {
    let rp = app.relying_party(client).await;
    let start = rp.authorize_url(&["profile"]);
    let redirect = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    let code = query_param(&redirect, "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    rp.verify(&tokens, &start.nonce);
    tokens.extra_fields().id_token().unwrap().to_string()
}

/// Whether the browser still has a session: an authorization request is answered
/// without the login page.
pub(crate) async fn has_session(app: &TestApp, client: &TestClient) -> bool {
    let rp = app.relying_party(client).await;
    let (_, location, _) = app.browse(&rp.authorize_url(&[]).url).await;
    !location.unwrap().starts_with("/login?")
}

pub(crate) fn logout_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap();
    app.url(&format!("/logout?{query}"))
}

/// The audit rows of `outcome`, once there are at least `count`.
pub(crate) async fn audit_trail(
    app: &TestApp,
    citizen: &TestCitizen,
    outcome: &str,
    count: usize,
) -> Vec<AuditEvent> {
    // The audit writer and the delivery run off the request: wait for the row.
    for _ in 0..100 {
        let number = citizen.number.clone();
        let rows = app
            .db
            .run(move |conn| audit_events::for_citizen(conn, &number))
            .await
            .unwrap();
        let found: Vec<AuditEvent> = rows.into_iter().filter(|r| r.outcome == outcome).collect();
        if found.len() >= count {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {count} audit rows with outcome {outcome}");
}

#[tokio::test]
async fn a_logout_with_an_id_token_hint_ends_the_session_tells_every_relying_party_and_returns() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let mut portal_rp = receiver(0).await;
    let mut tax_rp = receiver(0).await;
    let portal = portal_with_logout(&app, Some(&portal_rp.uri));
    let tax = portal_with_logout(&app, Some(&tax_rp.uri));
    let portal_id_token = id_token(&app, &citizen, &portal).await;
    // The second service is entered through the same session (SSO).
    let tax_id_token = id_token(&app, &citizen, &tax).await;
    let sid = payload(&portal_id_token)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        payload(&tax_id_token)["sid"],
        sid.as_str(),
        "one session, one sid"
    );

    let (status, location, _) = app
        .browse(&logout_url(
            &app,
            &[
                ("id_token_hint", &portal_id_token),
                ("post_logout_redirect_uri", RETURN_URI),
                ("state", "st-42"),
            ],
        ))
        .await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(location.unwrap(), format!("{RETURN_URI}?state=st-42"));
    assert!(!has_session(&app, &portal).await, "the session has ended");

    for (rp, client, id_token) in [
        (&mut portal_rp, &portal, &portal_id_token),
        (&mut tax_rp, &tax, &tax_id_token),
    ] {
        let token = next_token(rp).await;
        let claims = verify_logout_token(&app, &token, &client.id).await;
        assert_eq!(claims["sub"], payload(id_token)["sub"]);
        assert_eq!(claims["sid"], sid.as_str());
    }
    audit_trail(&app, &citizen, "logout", 1).await;
    let delivered = audit_trail(&app, &citizen, "backchannel_logout_delivered", 2).await;
    let mut reached: Vec<_> = delivered
        .iter()
        .filter_map(|e| e.client_id.clone())
        .collect();
    reached.sort();
    let mut expected = vec![portal.id.clone(), tax.id.clone()];
    expected.sort();
    assert_eq!(reached, expected);
}

#[tokio::test]
async fn an_unregistered_post_logout_redirect_uri_gets_a_page_and_the_session_stays() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let portal = portal_with_logout(&app, None);
    let hint = id_token(&app, &citizen, &portal).await;
    for uri in [
        "https://evil.example.com/",
        "https://portal.example.gov.vn/logged-out/",
        "https://portal.example.gov.vn/callback",
    ] {
        let (status, location, html) = app
            .browse(&logout_url(
                &app,
                &[("id_token_hint", &hint), ("post_logout_redirect_uri", uri)],
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(location.is_none(), "never a redirect to {uri}");
        assert!(html.contains("<html"), "an HTML error page");
    }
    // Without a hint or client_id there is no registration to check the URI against.
    let (status, location, _) = app
        .browse(&logout_url(
            &app,
            &[("post_logout_redirect_uri", RETURN_URI)],
        ))
        .await;
    assert_eq!((status, location), (StatusCode::BAD_REQUEST, None));
    assert!(has_session(&app, &portal).await, "nothing was logged out");
}

#[tokio::test]
async fn a_forged_or_mismatched_id_token_hint_is_refused() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let portal = portal_with_logout(&app, None);
    let other = portal_with_logout(&app, None);
    let hint = id_token(&app, &citizen, &portal).await;
    let mut tampered = hint.clone();
    tampered.replace_range(tampered.len() - 6.., "AAAAAA");
    for params in [
        vec![("id_token_hint", "garbage")],
        vec![("id_token_hint", tampered.as_str())],
        vec![
            ("id_token_hint", hint.as_str()),
            ("client_id", other.id.as_str()),
        ],
        vec![
            ("id_token_hint", hint.as_str()),
            ("id_token_hint", hint.as_str()),
        ],
    ] {
        let (status, location, _) = app.browse(&logout_url(&app, &params)).await;
        assert_eq!(
            (status, location),
            (StatusCode::BAD_REQUEST, None),
            "{params:?}"
        );
    }
    assert!(has_session(&app, &portal).await);
}

#[tokio::test]
async fn without_a_hint_the_citizen_confirms_on_a_page_whose_form_works_once() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let portal = portal_with_logout(&app, None);
    id_token(&app, &citizen, &portal).await;

    // A third-party page embedding the logout URL cannot log anyone out by itself.
    let (status, _, html) = app
        .browse(&logout_url(
            &app,
            &[
                ("client_id", &portal.id),
                ("post_logout_redirect_uri", RETURN_URI),
            ],
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(has_session(&app, &portal).await, "not yet");
    let pending = crate::helpers::hidden_field(&html, "logout");

    let forged = app
        .browser
        .post(app.url("/logout/confirm"))
        .form(&[("logout", "not-the-pending-id")])
        .fetch()
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(has_session(&app, &portal).await);

    let confirmed = app
        .browser
        .post(app.url("/logout/confirm"))
        .form(&[("logout", pending.as_str())])
        .fetch()
        .await;
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    assert_eq!(crate::helpers::location_of(&confirmed), RETURN_URI);
    assert!(!has_session(&app, &portal).await);

    let replayed = app
        .browser
        .post(app.url("/logout/confirm"))
        .form(&[("logout", pending.as_str())])
        .fetch()
        .await;
    assert_eq!(replayed.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_citizen_logging_out_at_the_provider_sees_a_page() {
    let app = TestApp::spawn().await;
    let (status, _, html) = app.browse(&app.url("/logout")).await;
    assert_eq!(status, StatusCode::OK, "no session: already logged out");
    assert!(html.contains("Đã đăng xuất"), "{html}");
}

#[tokio::test]
async fn a_receiver_that_is_down_is_retried_then_audited_and_one_that_recovers_is_reached() {
    let app = TestApp::spawn_with(|settings| {
        settings.logout.backchannel_attempts = 3;
        settings.logout.backchannel_retry_base_ms = 50;
        settings.logout.backchannel_timeout_ms = 1000;
    })
    .await;
    let citizen = app.citizen();
    // Nothing listens on a port just released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down_uri = format!(
        "http://127.0.0.1:{}/backchannel",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    let mut flaky = receiver(2).await;
    let down = portal_with_logout(&app, Some(&down_uri));
    let recovering = portal_with_logout(&app, Some(&flaky.uri));
    let hint = id_token(&app, &citizen, &down).await;
    id_token(&app, &citizen, &recovering).await;

    let (status, location, _) = app
        .browse(&logout_url(
            &app,
            &[
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", RETURN_URI),
            ],
        ))
        .await;
    assert_eq!(
        status,
        StatusCode::FOUND,
        "the citizen is answered regardless"
    );
    assert_eq!(location.unwrap(), RETURN_URI);

    let token = tokio::time::timeout(Duration::from_secs(10), flaky.tokens.recv())
        .await
        .expect("delivered on the third attempt")
        .unwrap();
    assert_eq!(payload(&token)["aud"], recovering.id.as_str());
    let delivered = audit_trail(&app, &citizen, "backchannel_logout_delivered", 1).await;
    assert_eq!(
        delivered[0].client_id.as_deref(),
        Some(recovering.id.as_str())
    );
    assert_eq!(delivered[0].detail.as_deref(), Some("attempts=3"));
    let failed = audit_trail(&app, &citizen, "backchannel_logout_failed", 1).await;
    assert_eq!(failed[0].client_id.as_deref(), Some(down.id.as_str()));
    assert_eq!(
        failed[0].detail.as_deref(),
        Some("attempts=3 last=connection failed")
    );
}

#[tokio::test]
async fn discovery_advertises_logout() {
    let app = TestApp::spawn().await;
    let document: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(document["end_session_endpoint"], app.url("/logout"));
    assert_eq!(document["backchannel_logout_supported"], true);
    assert_eq!(document["backchannel_logout_session_supported"], true);
    assert!(document.get("frontchannel_logout_supported").is_none());
}
