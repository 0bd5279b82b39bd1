//! `private_key_jwt` client authentication (RFC 7523, OIDC Core §9): keys registered
//! inline or published at a `jwks_uri`, and every way an assertion can be wrong.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use citizen_idp::clock::Clock;
use citizen_idp::registration::NewClient;
use citizen_idp::tokens::jwt;
use citizen_idp::tokens::keys::{SigningAlg, SigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ClientAuth, Fetch, TestApp, token_request_as};

pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(crate) struct KeyClient {
    pub(crate) id: String,
    pub(crate) key: SigningKey,
}

pub(crate) fn jwks_of(keys: &[&SigningKey]) -> String {
    json!({ "keys": keys.iter().map(|k| k.public_jwk().clone()).collect::<Vec<_>>() }).to_string()
}

pub(crate) fn register(app: &TestApp, jwks: Option<String>, jwks_uri: Option<String>) -> String {
    let client = app.register_client(NewClient {
        name: "Hệ thống bảo hiểm".into(),
        redirect_uris: Vec::new(),
        grant_types: vec!["client_credentials".into()],
        scopes: "insurance.read".into(),
        jwks,
        jwks_uri,
        ..NewClient::default()
    });
    assert!(
        client.secret.is_none(),
        "a key-holding client gets no secret"
    );
    client.id
}

fn inline_client(app: &TestApp) -> KeyClient {
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let id = register(app, Some(jwks_of(&[&key])), None);
    KeyClient { id, key }
}

fn claims(app: &TestApp, client_id: &str, aud: &str, lifetime: i64, jti: &str) -> Value {
    let now = app.clock.now().timestamp();
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "iat": now, "exp": now + lifetime, "jti": jti,
    })
}

pub(crate) fn assertion(
    app: &TestApp,
    client: &KeyClient,
    aud: &str,
    lifetime: i64,
    jti: &str,
) -> String {
    jwt::sign(
        &client.key,
        "JWT",
        &claims(app, &client.id, aud, lifetime, jti),
    )
    .unwrap()
}

/// POST /token for client_credentials, authenticated by `client_assertion` alone.
pub(crate) async fn token_with(app: &TestApp, client_assertion: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", client_assertion),
    ];
    token_request_as(app, ClientAuth::Form, &form).await
}

async fn assert_refused(app: &TestApp, client_assertion: &str, case: &str) {
    let (status, body) = token_with(app, client_assertion).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
    assert_eq!(body["error"], "invalid_client", "{case}");
}

#[tokio::test]
async fn a_client_authenticates_with_an_assertion_signed_by_its_registered_key() {
    let app = TestApp::spawn().await;
    let client = inline_client(&app);
    let token_endpoint = app.url("/token");

    let first = assertion(&app, &client, &app.issuer, 60, "jti-1");
    let (status, body) = token_with(&app, &first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "insurance.read");
    // A new client accepts the issuer alone (assertion_audience = "issuer"; the token
    // endpoint is for clients registered with "oidc", see strict_jose).
    assert_refused(
        &app,
        &assertion(&app, &client, &token_endpoint, 60, "jti-2"),
        "the token endpoint as aud",
    )
    .await;

    assert_refused(&app, &first, "a replayed jti").await;
}

#[tokio::test]
async fn wrong_audience_lifetime_or_missing_jti_are_refused() {
    let app = TestApp::spawn().await;
    let client = inline_client(&app);
    // The audience a new client's assertions must carry.
    let audience = app.issuer.clone();
    assert_refused(
        &app,
        &assertion(&app, &client, "https://other-idp.example/token", 60, "a"),
        "wrong aud",
    )
    .await;
    assert_refused(
        &app,
        &assertion(&app, &client, &audience, -120, "b"),
        "expired",
    )
    .await;
    assert_refused(
        &app,
        &assertion(&app, &client, &audience, 3600, "c"),
        "exp too far ahead",
    )
    .await;
    let mut no_jti = claims(&app, &client.id, &audience, 60, "");
    no_jti.as_object_mut().unwrap().remove("jti");
    assert_refused(
        &app,
        &jwt::sign(&client.key, "JWT", &no_jti).unwrap(),
        "no jti",
    )
    .await;
    // Found while fuzzing (fuzz/regressions/client_assertion/exp-i64-max): adding the
    // leeway to this `exp` overflowed.
    for (exp, case) in [(i64::MAX, "exp = i64::MAX"), (i64::MIN, "exp = i64::MIN")] {
        let mut extreme = claims(&app, &client.id, &audience, 60, case);
        extreme["exp"] = json!(exp);
        assert_refused(
            &app,
            &jwt::sign(&client.key, "JWT", &extreme).unwrap(),
            case,
        )
        .await;
    }
    let mut other_sub = claims(&app, &client.id, &audience, 60, "d");
    other_sub["iss"] = json!("someone-else");
    assert_refused(
        &app,
        &jwt::sign(&client.key, "JWT", &other_sub).unwrap(),
        "iss",
    )
    .await;
}

#[tokio::test]
async fn forged_assertions_are_refused() {
    let app = TestApp::spawn().await;
    let client = inline_client(&app);
    let audience = app.issuer.clone();
    let body = claims(&app, &client.id, &audience, 60, "forged");
    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());

    let none = format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "typ": "JWT"})),
        encode(&body)
    );
    assert_refused(&app, &none, "alg none").await;

    // HS256 "signed" with the public key as the HMAC secret (the classic confusion).
    let public = client.key.public_jwk().to_string();
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some(client.key.kid().to_owned()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &body,
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    assert_refused(&app, &hs256, "HS256 with the public key").await;

    let (stranger, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let unknown_kid = jwt::sign(&stranger, "JWT", &body).unwrap();
    assert_refused(&app, &unknown_kid, "unknown kid").await;

    let signed = assertion(&app, &client, &audience, 60, "tampered");
    let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
    let mut tampered = body.clone();
    tampered["exp"] = json!(body["exp"].as_i64().unwrap() + 100);
    parts[1] = encode(&tampered);
    assert_refused(&app, &parts.join("."), "tampered claims").await;
    assert_refused(&app, "not-a-jwt", "garbage").await;
}

#[tokio::test]
async fn the_registered_method_is_the_only_one_accepted() {
    let app = TestApp::spawn().await;
    let key_client = inline_client(&app);
    // A key-holding client has no secret to present.
    let response = app
        .http
        .post(app.url("/token"))
        .basic_auth(&key_client.id, Some("guess"))
        .form(&[("grant_type", "client_credentials")])
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A secret-holding client cannot switch to an assertion signed by any key.
    let portal = app.confidential_client();
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let impostor = KeyClient {
        id: portal.id.clone(),
        key,
    };
    assert_refused(
        &app,
        &assertion(&app, &impostor, &app.issuer, 60, "x"),
        "secret client with an assertion",
    )
    .await;
}

/// Serves a JWK Set at a loopback URL, like a client's key endpoint.
async fn key_server(document: Option<String>) -> (String, actix_web::dev::ServerHandle) {
    slow_key_server(document, std::time::Duration::ZERO).await
}

/// A key endpoint that takes `delay` to answer.
pub(crate) async fn slow_key_server(
    document: Option<String>,
    delay: std::time::Duration,
) -> (String, actix_web::dev::ServerHandle) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let server = HttpServer::new(move || {
        let document = document.clone();
        App::new().route(
            "/jwks.json",
            web::get().to(move || {
                let document = document.clone();
                async move {
                    tokio::time::sleep(delay).await;
                    match document {
                        Some(d) => HttpResponse::Ok().content_type("application/json").body(d),
                        None => HttpResponse::ServiceUnavailable().finish(),
                    }
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}/jwks.json"), handle)
}

#[tokio::test]
async fn keys_are_fetched_from_the_jwks_uri_and_an_unreachable_one_fails_cleanly() {
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate(SigningAlg::Rs256).unwrap();
    let (uri, _server) = key_server(Some(jwks_of(&[&key]))).await;
    let client = KeyClient {
        id: register(&app, None, Some(uri)),
        key,
    };
    let audience = app.issuer.clone();
    let (status, body) = token_with(&app, &assertion(&app, &client, &audience, 60, "rs-1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (down_uri, _down) = key_server(None).await;
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let down = KeyClient {
        id: register(&app, None, Some(down_uri)),
        key,
    };
    assert_refused(
        &app,
        &assertion(&app, &down, &audience, 60, "down-1"),
        "jwks_uri answering 503",
    )
    .await;
}

#[tokio::test]
async fn discovery_lists_private_key_jwt_and_asymmetric_algorithms_only() {
    let app = TestApp::spawn().await;
    let document: Value = app.get_json("/.well-known/openid-configuration").await;
    let methods = document["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&json!("private_key_jwt")));
    let algs = document["token_endpoint_auth_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&json!("ES256")) && algs.contains(&json!("RS256")));
    assert!(
        !algs
            .iter()
            .any(|a| a == "none" || a.as_str().unwrap().starts_with("HS"))
    );
}

#[tokio::test]
async fn a_jwks_uri_that_never_answers_fails_the_assertion_after_the_fetch_timeout() {
    let app = TestApp::spawn().await;
    // Accepts connections and reads nothing, like a hung key server.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}/jwks.json", silent.local_addr().unwrap());
    let held = std::thread::spawn(move || silent.incoming().take(1).collect::<Vec<_>>());
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let client = KeyClient {
        id: register(&app, None, Some(uri)),
        key,
    };
    let started = std::time::Instant::now();
    let audience = app.issuer.clone();
    assert_refused(
        &app,
        &assertion(&app, &client, &audience, 60, "silent-1"),
        "jwks_uri never answering",
    )
    .await;
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(15),
        "bounded by the fetch timeout: {waited:?}"
    );
    drop(held);
}
