//! `id_token_hint` at the authorization endpoint (OIDC Core §3.1.2.1): verified with our
//! own keys, for this client; a hint for another citizen never yields a silent code
//! for whoever holds the session; a forged or malformed one is `invalid_request`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use citizen_idp::domain::client::SubjectType;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Fetch, PASSWORD, TestApp, TestCitizen, TestClient, location_of, query_param};

/// A pairwise portal: the hint's `sub` must map back to the account through it.
fn pairwise_portal(app: &TestApp) -> TestClient {
    let mut registration = TestClient::portal();
    registration.subject_type = SubjectType::Pairwise;
    app.register_client(registration)
}

/// Logs `citizen` in at `client` in the app's browser (a fresh login, replacing any
/// session) and returns the ID token.
async fn id_token_of(app: &TestApp, client: &TestClient, citizen: &TestCitizen) -> String {
    let rp = app.relying_party(client).await;
    let start = rp.authorize_url(&[]);
    let redirect = app
        .log_in(
            &format!("{}&prompt=login", start.url),
            &citizen.number,
            PASSWORD,
        )
        .await;
    let code = query_param(&redirect, "code").expect("a code");
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let id_token = openidconnect::TokenResponse::id_token(&tokens).unwrap();
    serde_json::to_value(id_token)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

async fn authorize_with_hint(
    app: &TestApp,
    client: &TestClient,
    hint: &str,
    extra: &str,
) -> (StatusCode, String) {
    let rp = app.relying_party(client).await;
    let url = format!(
        "{}&id_token_hint={}{extra}",
        rp.authorize_url(&[]).url,
        urlencode(hint)
    );
    let (status, location, _) = app.browse(&url).await;
    (status, location.unwrap_or_default())
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn error_of(location: &str) -> Option<String> {
    query_param(location, "error")
}

#[tokio::test]
async fn a_hint_for_the_session_citizen_gets_a_code_silently_even_once_expired() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = pairwise_portal(&app);
    let hint = id_token_of(&app, &client, &citizen).await;
    // Long past the ID token's expiry: a hint names a citizen, it grants nothing.
    app.advance_clock(chrono::Duration::hours(3));
    let (status, location) = authorize_with_hint(&app, &client, &hint, "&prompt=none").await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.starts_with(&client.redirect_uri), "{location}");
    assert!(query_param(&location, "code").is_some(), "{location}");
}

#[tokio::test]
async fn a_hint_for_another_citizen_is_never_answered_from_the_session() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (app.citizen(), app.citizen());
    let client = pairwise_portal(&app);
    let alice_hint = id_token_of(&app, &client, &alice).await;
    // The browser now holds Bob's session.
    id_token_of(&app, &client, &bob).await;

    let (status, location) = authorize_with_hint(&app, &client, &alice_hint, "&prompt=none").await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.starts_with(&client.redirect_uri), "{location}");
    assert_eq!(error_of(&location).as_deref(), Some("login_required"));

    // Without prompt=none: the login page, not a code for Bob.
    let (_, login) = authorize_with_hint(&app, &client, &alice_hint, "").await;
    assert!(login.starts_with("/login?flow="), "{login}");
    // Bob logging in on Alice's flow is refused at the client...
    let (_, _, html) = app.browse(&app.url(&login)).await;
    let response = app.submit_login(&html, &bob.number, PASSWORD).await;
    let refused = location_of(&response);
    assert!(refused.starts_with(&client.redirect_uri), "{refused}");
    assert_eq!(error_of(&refused).as_deref(), Some("login_required"));
    assert!(query_param(&refused, "code").is_none());
    // ...and Alice logging in gets her code.
    let (_, login) = authorize_with_hint(&app, &client, &alice_hint, "").await;
    let (_, _, html) = app.browse(&app.url(&login)).await;
    let response = app.submit_login(&html, &alice.number, PASSWORD).await;
    assert!(query_param(&location_of(&response), "code").is_some());
}

#[tokio::test]
async fn a_hint_issued_to_another_client_is_invalid_request() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let (portal, other) = (app.confidential_client(), pairwise_portal(&app));
    let hint = id_token_of(&app, &other, &citizen).await;
    let (status, location) = authorize_with_hint(&app, &portal, &hint, "").await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.starts_with(&portal.redirect_uri), "{location}");
    assert_eq!(error_of(&location).as_deref(), Some("invalid_request"));
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Every way an attacker might dress up a token, built from a genuine one.
fn forgeries(genuine: &str, jwks: &str) -> Vec<(&'static str, String)> {
    let parts: Vec<&str> = genuine.split('.').collect();
    let (header, payload, signature) = (decode(parts[0]), parts[1], parts[2]);
    let kid = header["kid"].as_str().unwrap().to_owned();
    let with_header = |extra: Value| {
        let mut h = header.clone();
        for (k, v) in extra.as_object().unwrap() {
            h[k] = v.clone();
        }
        format!("{}.{payload}.{signature}", b64(&h))
    };
    let hs256 = {
        let h = b64(&json!({ "alg": "HS256", "typ": "JWT", "kid": kid }));
        let input = format!("{h}.{payload}");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, jwks.as_bytes());
        let mac = ring::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
    };
    let mut claims = decode(payload);
    claims["sub"] = json!("someone-else");
    let tampered_payload = format!("{}.{}.{signature}", parts[0], b64(&claims));
    let mut sig = signature.as_bytes().to_vec();
    sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
    let tampered_signature = format!("{}.{payload}.{}", parts[0], String::from_utf8(sig).unwrap());
    vec![
        (
            "alg none",
            format!(
                "{}.{payload}.",
                b64(&json!({ "alg": "none", "typ": "JWT", "kid": kid }))
            ),
        ),
        ("HS256 keyed with the JWKS", hs256),
        ("tampered payload", tampered_payload),
        ("tampered signature", tampered_signature),
        ("unknown kid", with_header(json!({ "kid": "no-such-key" }))),
        (
            "embedded jwk",
            with_header(json!({ "jwk": { "kty": "oct", "k": "c2VjcmV0" } })),
        ),
        (
            "jku",
            with_header(json!({ "jku": "https://attacker.example/jwks" })),
        ),
        (
            "x5u",
            with_header(json!({ "x5u": "https://attacker.example/cert" })),
        ),
        ("crit", with_header(json!({ "crit": ["exp"] }))),
        ("two parts", format!("{}.{payload}", parts[0])),
        ("four parts", format!("{genuine}.{signature}")),
        ("not base64", "!!!.???.###".to_owned()),
        ("not a JWT", "hello".to_owned()),
    ]
}

#[tokio::test]
async fn forged_and_malformed_hints_are_invalid_request_at_the_client() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = app.confidential_client();
    let genuine = id_token_of(&app, &client, &citizen).await;
    let jwks = app.http.get(app.url("/jwks.json")).fetch_text().await;
    for (what, forged) in forgeries(&genuine, &jwks) {
        for prompt in ["", "&prompt=none"] {
            let (status, location) = authorize_with_hint(&app, &client, &forged, prompt).await;
            assert_eq!(status, StatusCode::FOUND, "{what}");
            assert!(
                location.starts_with(&client.redirect_uri),
                "{what}: {location}"
            );
            assert_eq!(
                error_of(&location).as_deref(),
                Some("invalid_request"),
                "{what}: {location}"
            );
            assert!(query_param(&location, "code").is_none(), "{what}");
        }
    }
    // The genuine one still works, so the refusals above are the forgeries' own.
    let (_, location) = authorize_with_hint(&app, &client, &genuine, "&prompt=none").await;
    assert!(query_param(&location, "code").is_some(), "{location}");
}
