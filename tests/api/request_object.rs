//! Signed request objects (RFC 9101, OIDC Core §6): an authorization request signed by
//! its client, by value at /authorize and through /par; and every way one can be
//! forged, stretched or replayed. A `request_uri` that is not ours is never fetched.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use citizen_idp::clock::Clock;
use citizen_idp::registration::NewClient;
use citizen_idp::tokens::jwt;
use citizen_idp::tokens::keys::{SigningAlg, SigningKey};
use openidconnect::PkceCodeChallenge;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::client_assertion::{JWT_BEARER, jwks_of};
use crate::helpers::{
    ClientAuth, PASSWORD, TestApp, assert_oauth_error, assert_redirected_error, query_param,
    token_request_as,
};
use crate::par::{URN, authorize_url, push_as};

const REDIRECT_URI: &str = "https://insurance.example.gov.vn/callback";

/// A confidential client that authenticates with `private_key_jwt` and signs its
/// request objects with the same key.
struct Signer {
    id: String,
    key: SigningKey,
}

fn register(app: &TestApp, security: impl FnOnce(&mut NewClient)) -> Signer {
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let mut new = NewClient {
        name: "Bảo hiểm xã hội".into(),
        redirect_uris: vec![
            REDIRECT_URI.into(),
            "https://insurance.example.gov.vn/other".into(),
        ],
        scopes: "openid profile".into(),
        jwks: Some(jwks_of(&[&key])),
        subject_type: citizen_idp::domain::client::SubjectType::Public,
        ..NewClient::default()
    };
    security(&mut new);
    let client = app.register_client(new);
    Signer { id: client.id, key }
}

impl Signer {
    /// A client assertion for /par and /token.
    fn assertion(&self, app: &TestApp) -> String {
        let now = app.clock.now().timestamp();
        let claims = json!({
            "iss": self.id, "sub": self.id, "aud": app.issuer,
            "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4().to_string(),
        });
        jwt::sign(&self.key, "JWT", &claims).unwrap()
    }

    /// A valid request object's claims, and the PKCE verifier of its challenge.
    fn claims(&self, app: &TestApp, state: &str) -> (Value, String) {
        let now = app.clock.now().timestamp();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let claims = json!({
            "iss": self.id, "aud": app.issuer, "client_id": self.id,
            "nbf": now, "exp": now + 300, "iat": now,
            "jti": uuid::Uuid::new_v4().to_string(),
            "response_type": "code", "redirect_uri": REDIRECT_URI,
            "scope": "openid profile", "state": state, "nonce": "n-1",
            "code_challenge": challenge.as_str(), "code_challenge_method": "S256",
            "max_age": 3600,
        });
        (claims, verifier.secret().clone())
    }

    fn sign(&self, claims: &Value) -> String {
        jwt::sign(&self.key, "oauth-authz-req+jwt", claims).unwrap()
    }

    /// POST /par with `request` and this client's assertion.
    async fn push(&self, app: &TestApp, request: &str) -> (StatusCode, Value) {
        let params = [
            ("request", request.to_owned()),
            ("client_assertion_type", JWT_BEARER.to_owned()),
            ("client_assertion", self.assertion(app)),
        ];
        push_as(app, ClientAuth::Form, &params).await
    }

    async fn exchange(&self, app: &TestApp, redirect: &str, verifier: &str) -> Value {
        let code = query_param(redirect, "code").expect("a code");
        let assertion = self.assertion(app);
        let (status, tokens) = token_request_as(
            app,
            ClientAuth::Form,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &assertion),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        tokens
    }
}

fn by_value(app: &TestApp, client_id: &str, request: &str, extra: &[(&str, &str)]) -> String {
    let mut query = vec![("client_id", client_id), ("request", request)];
    query.extend_from_slice(extra);
    format!(
        "{}?{}",
        app.url("/authorize"),
        serde_urlencoded::to_string(query).unwrap()
    )
}

#[tokio::test]
async fn a_request_object_by_value_leads_to_tokens_and_outweighs_the_query() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = register(&app, |_| {});
    let (claims, verifier) = client.claims(&app, "signed-state");
    // OIDC Core §6.1 clients repeat response_type and scope in the query; RFC 9101 §5:
    // only the object's parameters count, whatever the query says.
    let url = by_value(
        &app,
        &client.id,
        &client.sign(&claims),
        &[
            ("response_type", "code"),
            ("scope", "openid"),
            ("state", "query-state"),
            ("redirect_uri", "https://insurance.example.gov.vn/other"),
        ],
    );
    let redirect = app.log_in(&url, &citizen.number, PASSWORD).await;
    assert!(redirect.starts_with(REDIRECT_URI), "{redirect}");
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some("signed-state")
    );
    let tokens = client.exchange(&app, &redirect, &verifier).await;
    assert_eq!(tokens["scope"], "openid profile");

    // The same object again: its jti is spent. The error goes to the query's
    // redirect URI, registered for the client (never the object's, unverified).
    let (status, location, _) = app.browse(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.unwrap();
    assert!(
        location.starts_with("https://insurance.example.gov.vn/other?"),
        "{location}"
    );
    assert_redirected_error(&location, "invalid_request_object", "query-state");
    // With no redirect URI in the query, nowhere is trusted: a page.
    let (claims, _) = client.claims(&app, "s");
    let signed = client.sign(&claims);
    app.browse(&by_value(&app, &client.id, &signed, &[])).await;
    let (status, location, _) = app.browse(&by_value(&app, &client.id, &signed, &[])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{location:?}");
    assert!(location.is_none());
}

#[tokio::test]
async fn a_request_object_through_par_leads_to_tokens() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let client = register(&app, |new| {
        new.security.request_object_signing_alg = Some("ES256".into());
        new.security.require_pushed_authorization_requests = true;
    });
    let (claims, verifier) = client.claims(&app, "par-signed");
    let (status, body) = client.push(&app, &client.sign(&claims)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let request_uri = body["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with(URN));
    let redirect = app
        .log_in(
            &authorize_url(&app, &client.id, request_uri, &[]),
            &citizen.number,
            PASSWORD,
        )
        .await;
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some("par-signed")
    );
    client.exchange(&app, &redirect, &verifier).await;

    // The same object pushed again: its jti is spent.
    let replayed = client.push(&app, &client.sign(&claims)).await;
    assert_oauth_error(&replayed, StatusCode::BAD_REQUEST, "invalid_request_object");
    // By value, not pushed: this client must push.
    let (claims, _) = client.claims(&app, "by-value");
    let url = by_value(
        &app,
        &client.id,
        &client.sign(&claims),
        &[("redirect_uri", REDIRECT_URI), ("state", "q")],
    );
    let (status, location, _) = app.browse(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_redirected_error(&location.unwrap(), "invalid_request", "q");
}

#[tokio::test]
async fn forged_stretched_and_misaddressed_request_objects_are_refused() {
    let app = TestApp::spawn().await;
    let client = register(&app, |_| {});
    let other = register(&app, |_| {});
    let now = app.clock.now().timestamp();
    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let (valid, _) = client.claims(&app, "s");
    let changed = |change: &dyn Fn(&mut Value)| {
        let mut claims = valid.clone();
        claims["jti"] = json!(uuid::Uuid::new_v4().to_string());
        change(&mut claims);
        claims
    };

    let unsigned = format!("{}.{}.", encode(&json!({"alg": "none"})), encode(&valid));
    let public = client.key.public_jwk().to_string();
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some(client.key.kid().to_owned()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &changed(&|_| {}),
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    let (stranger, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let mut tampered: Vec<String> = client
        .sign(&changed(&|_| {}))
        .split('.')
        .map(str::to_owned)
        .collect();
    tampered[1] = encode(&changed(&|c| c["scope"] = json!("openid profile address")));

    let cases: Vec<(String, &str)> = vec![
        (unsigned, "alg none"),
        (hs256, "HS256 with the public key as secret"),
        (
            jwt::sign(&stranger, "oauth-authz-req+jwt", &changed(&|_| {})).unwrap(),
            "another key",
        ),
        (other.sign(&changed(&|_| {})), "another client's key"),
        (tampered.join("."), "tampered claims"),
        (
            client.sign(&changed(&|c| c["exp"] = json!(now - 60))),
            "expired",
        ),
        (
            client.sign(&changed(&|c| c["exp"] = json!(now + 3700))),
            "exp more than 60 minutes after nbf",
        ),
        (
            client.sign(&changed(&|c| c["nbf"] = json!(now + 600))),
            "nbf in the future",
        ),
        // Numbers at the ends of i64 (the assertion checks once overflowed on them).
        (
            client.sign(&changed(&|c| {
                c["exp"] = json!(i64::MAX);
                c["nbf"] = json!(i64::MIN);
            })),
            "exp i64::MAX, nbf i64::MIN",
        ),
        (
            client.sign(&changed(&|c| c["exp"] = json!(i64::MIN))),
            "exp i64::MIN",
        ),
        (
            client.sign(&changed(&|c| {
                c.as_object_mut().unwrap().remove("nbf");
            })),
            "no nbf",
        ),
        (
            client.sign(&changed(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
            "no exp",
        ),
        (
            client.sign(&changed(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            })),
            "no jti",
        ),
        (
            client.sign(&changed(&|c| c["aud"] = json!("https://other-idp.example"))),
            "wrong aud",
        ),
        (
            client.sign(&changed(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            })),
            "no aud",
        ),
        (
            client.sign(&changed(&|c| c["iss"] = json!(other.id))),
            "wrong iss",
        ),
        (
            client.sign(&changed(&|c| c["client_id"] = json!(other.id))),
            "another client_id claim",
        ),
        (
            client.sign(&changed(&|c| c["request_uri"] = json!(format!("{URN}x")))),
            "a request_uri inside",
        ),
        (
            jwt::sign(&client.key, "dpop+jwt", &changed(&|_| {})).unwrap(),
            "another JWT type",
        ),
        ("not-a-jwt".to_owned(), "garbage"),
    ];
    for (request, case) in &cases {
        let (status, body) = client.push(&app, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
        assert_eq!(body["error"], "invalid_request_object", "{case}: {body}");
    }
    // The valid object passes, once.
    let signed = client.sign(&valid);
    let (status, body) = client.push(&app, &signed).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_oauth_error(
        &client.push(&app, &signed).await,
        StatusCode::BAD_REQUEST,
        "invalid_request_object",
    );

    // At /authorize: an error page where no redirect URI is trusted, and the error at
    // the registered redirect URI the query names.
    let (status, location, _) = app
        .browse(&by_value(&app, &client.id, &cases[0].0, &[]))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(location.is_none(), "{location:?}");
    let url = by_value(
        &app,
        &client.id,
        &cases[0].0,
        &[("redirect_uri", REDIRECT_URI), ("state", "q")],
    );
    let (status, location, _) = app.browse(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_redirected_error(&location.unwrap(), "invalid_request_object", "q");
}

#[tokio::test]
async fn only_the_registered_algorithm_signs_a_clients_request_objects() {
    let app = TestApp::spawn().await;
    // An RSA key registered beside the EC one; the client registered ES256 for its
    // request objects.
    let (ec, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let (rsa, _) = SigningKey::generate(SigningAlg::Rs256).unwrap();
    let client = app.register_client(NewClient {
        name: "Kho bạc".into(),
        redirect_uris: vec![REDIRECT_URI.into()],
        scopes: "openid".into(),
        jwks: Some(jwks_of(&[&ec, &rsa])),
        security: citizen_idp::domain::client_security::SecurityMetadata {
            request_object_signing_alg: Some("ES256".into()),
            ..Default::default()
        },
        ..NewClient::default()
    });
    let signer = Signer {
        id: client.id.clone(),
        key: ec,
    };
    let (mut claims, _) = signer.claims(&app, "s");
    claims["scope"] = json!("openid");
    // Signed by a registered key, but not with the registered algorithm.
    let by_rsa = jwt::sign(&rsa, "oauth-authz-req+jwt", &claims).unwrap();
    assert_oauth_error(
        &signer.push(&app, &by_rsa).await,
        StatusCode::BAD_REQUEST,
        "invalid_request_object",
    );
    claims["jti"] = json!("ec-1");
    let (status, body) = signer.push(&app, &signer.sign(&claims)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_request_uri_that_is_not_ours_is_never_fetched() {
    let app = TestApp::spawn().await;
    let client = register(&app, |_| {});
    // A listener where the request_uri points: nothing may arrive.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    for uri in [
        format!("http://127.0.0.1:{port}/request.jwt"),
        format!("https://127.0.0.1:{port}/request.jwt"),
    ] {
        let url = authorize_url(
            &app,
            &client.id,
            &uri,
            &[("redirect_uri", REDIRECT_URI), ("state", "q")],
        );
        let (status, location, _) = app.browse(&url).await;
        assert_eq!(status, StatusCode::FOUND);
        assert_redirected_error(&location.unwrap(), "request_uri_not_supported", "q");
        let (status, location, _) = app
            .browse(&authorize_url(&app, &client.id, &uri, &[]))
            .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "no redirect URI to trust: a page"
        );
        assert!(location.is_none());
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((mut stream, _)) => {
            let mut seen = Vec::new();
            let _ = stream.read_to_end(&mut seen);
            panic!(
                "the request_uri was fetched: {}",
                String::from_utf8_lossy(&seen)
            );
        }
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn discovery_lists_request_objects_and_their_algorithms() {
    let app = TestApp::spawn().await;
    let document: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(document["request_parameter_supported"], true);
    // RFC 9126 §5: our own request_uri values need no such support.
    assert_eq!(document["request_uri_parameter_supported"], false);
    let algs = document["request_object_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&json!("ES256")) && algs.contains(&json!("PS256")));
    assert!(
        !algs
            .iter()
            .any(|a| a == "none" || a.as_str().unwrap().starts_with("HS"))
    );
}

#[tokio::test]
async fn a_fapi2_client_pushes_and_signs_with_the_profiles_algorithms_only() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let (ec, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let (rsa, _) = SigningKey::generate(SigningAlg::Rs256).unwrap();
    let client = app.register_client(NewClient {
        name: "Cổng thuế điện tử".into(),
        redirect_uris: vec![REDIRECT_URI.into()],
        scopes: "openid profile".into(),
        jwks: Some(jwks_of(&[&ec, &rsa])),
        id_token_alg: "ES256".into(),
        subject_type: citizen_idp::domain::client::SubjectType::Public,
        security: citizen_idp::domain::client_security::SecurityMetadata {
            profile: Some("fapi2".into()),
            ..Default::default()
        },
        ..NewClient::default()
    });
    let signer = Signer {
        id: client.id.clone(),
        key: ec,
    };

    // The profile requires PAR: a request object by value is refused.
    let (claims, _) = signer.claims(&app, "by-value");
    let url = by_value(
        &app,
        &signer.id,
        &signer.sign(&claims),
        &[("redirect_uri", REDIRECT_URI), ("state", "q")],
    );
    let (status, location, _) = app.browse(&url).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_redirected_error(&location.unwrap(), "invalid_request", "q");

    // RS256 is outside the profile, even by a registered key.
    let (claims, _) = signer.claims(&app, "rs256");
    let by_rsa = jwt::sign(&rsa, "oauth-authz-req+jwt", &claims).unwrap();
    assert_oauth_error(
        &signer.push(&app, &by_rsa).await,
        StatusCode::BAD_REQUEST,
        "invalid_request_object",
    );

    // ES256 through PAR: the login, and a code.
    let (claims, _) = signer.claims(&app, "fapi2");
    let (status, body) = signer.push(&app, &signer.sign(&claims)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let url = authorize_url(&app, &signer.id, body["request_uri"].as_str().unwrap(), &[]);
    let redirect = app.log_in(&url, &citizen.number, PASSWORD).await;
    assert!(redirect.starts_with(REDIRECT_URI), "{redirect}");
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("fapi2"));
    assert!(query_param(&redirect, "code").is_some());
}
