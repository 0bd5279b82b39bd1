//! Encrypted ID tokens and userinfo answers (RFC 7516, OIDC Core §10.2, §5.3.2): the
//! relying party of these tests holds the private keys, decrypts what the server sent
//! and checks the signature inside against the server's JWKS, as a real one would.

use std::sync::{Arc, Mutex};

use citizen_idp::clock::Clock;
use citizen_idp::domain::client_security::SecurityMetadata;
use citizen_idp::registration::NewClient;
use citizen_idp::tokens::jwt;
use citizen_idp::tokens::keys::{SigningAlg, SigningKey};
use josekit::jwe::{self, ECDH_ES_A256KW, JweDecrypter, RSA_OAEP_256};
use josekit::jwk::Jwk;
use josekit::jwk::alg::ec::EcCurve;
use openidconnect::core::{CoreIdToken, CoreJwsSigningAlgorithm};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::client_assertion::JWT_BEARER;
use crate::helpers::{
    ClientAuth, Fetch, PASSWORD, TestApp, TestCitizen, TestClient, query_param, token_request_as,
};

/// A relying party's encryption key pair: the private half stays in the test.
struct EncKey {
    private: Jwk,
    alg: &'static str,
}

impl EncKey {
    fn ec(kid: &str) -> EncKey {
        let mut private = Jwk::generate_ec_key(EcCurve::P256).unwrap();
        private.set_key_id(kid);
        EncKey {
            private,
            alg: "ECDH-ES+A256KW",
        }
    }

    fn rsa(kid: &str) -> EncKey {
        let mut private = Jwk::generate_rsa_key(2048).unwrap();
        private.set_key_id(kid);
        EncKey {
            private,
            alg: "RSA-OAEP-256",
        }
    }

    fn for_alg(alg: &str, kid: &str) -> EncKey {
        match alg {
            "ECDH-ES+A256KW" => EncKey::ec(kid),
            _ => EncKey::rsa(kid),
        }
    }

    /// The public half as the client publishes it: `use: enc`.
    fn public(&self) -> Value {
        let mut public = self.private.to_public_key().unwrap();
        public.set_key_use("enc");
        if let Some(kid) = self.private.key_id() {
            public.set_key_id(kid);
        }
        serde_json::to_value(public.as_ref()).unwrap()
    }

    fn decrypter(&self) -> Box<dyn JweDecrypter> {
        match self.alg {
            "ECDH-ES+A256KW" => Box::new(ECDH_ES_A256KW.decrypter_from_jwk(&self.private).unwrap()),
            _ => Box::new(RSA_OAEP_256.decrypter_from_jwk(&self.private).unwrap()),
        }
    }

    /// Decrypts a compact JWE: the payload and the protected header.
    fn decrypt(&self, token: &str) -> Result<(Vec<u8>, Value), String> {
        let (payload, header) = jwe::deserialize_compact(token, self.decrypter().as_ref())
            .map_err(|e| e.to_string())?;
        Ok((payload, Value::Object(header.claims_set().clone())))
    }
}

fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

fn encrypted_portal(
    jwks: Option<String>,
    jwks_uri: Option<String>,
    security: SecurityMetadata,
) -> NewClient {
    NewClient {
        jwks,
        jwks_uri,
        security,
        ..TestClient::portal()
    }
}

fn id_token_encryption(alg: &str, enc: &str) -> SecurityMetadata {
    SecurityMetadata {
        id_token_encrypted_response_alg: Some(alg.into()),
        id_token_encrypted_response_enc: Some(enc.into()),
        ..SecurityMetadata::default()
    }
}

/// A login at `client` and the code it brings back, with what the exchange needs.
struct CodeFlow {
    code: String,
    verifier: String,
    nonce: openidconnect::Nonce,
}

async fn log_in(app: &TestApp, citizen: &TestCitizen, client: &TestClient) -> CodeFlow {
    log_in_for(app, citizen, client, &["profile"]).await
}

async fn log_in_for(
    app: &TestApp,
    citizen: &TestCitizen,
    client: &TestClient,
    scopes: &[&str],
) -> CodeFlow {
    let rp = app.relying_party(client).await;
    let start = rp.authorize_url(scopes);
    let redirect = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    CodeFlow {
        code: query_param(&redirect, "code").expect("a code"),
        verifier: start.verifier.secret().clone(),
        nonce: start.nonce,
    }
}

async fn redeem(
    app: &TestApp,
    client: &TestClient,
    auth: ClientAuth<'_>,
    flow: &CodeFlow,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", flow.code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code_verifier", flow.verifier.as_str()),
    ];
    form.extend_from_slice(extra);
    token_request_as(app, auth, &form).await
}

/// Checks a signed ID token (the inner JWT) against the server's JWKS, as the
/// openidconnect relying party does: signature, `iss`, `aud`, `exp`, `nonce`.
async fn verify_signed(
    app: &TestApp,
    client: &TestClient,
    signed: &str,
    nonce: &openidconnect::Nonce,
) -> String {
    let rp = app.relying_party(client).await;
    let verifier = rp
        .client
        .id_token_verifier()
        .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    let id_token: CoreIdToken = signed.parse().expect("a signed JWT inside");
    let claims = id_token.claims(&verifier, nonce).expect("a valid ID token");
    claims.subject().as_str().to_owned()
}

/// Parts of a compact serialization: 3 for a JWS, 5 for a JWE.
fn parts(token: &str) -> usize {
    token.split('.').count()
}

#[tokio::test]
async fn the_id_token_is_encrypted_to_the_registered_key_and_only_that_key_opens_it() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    for (alg, enc) in [
        ("ECDH-ES+A256KW", "A256GCM"),
        ("ECDH-ES+A256KW", "A128CBC-HS256"),
        ("RSA-OAEP-256", "A256GCM"),
        ("RSA-OAEP-256", "A128CBC-HS256"),
    ] {
        let case = format!("{alg} {enc}");
        let key = EncKey::for_alg(alg, "enc-1");
        let client = app.register_client(encrypted_portal(
            Some(jwks(&[key.public()])),
            None,
            id_token_encryption(alg, enc),
        ));
        let flow = log_in(&app, &citizen, &client).await;
        let (status, body) = redeem(&app, &client, client.auth(), &flow, &[]).await;
        assert_eq!(status, StatusCode::OK, "{case}: {body}");
        let id_token = body["id_token"].as_str().unwrap();
        assert_eq!(parts(id_token), 5, "{case}: a JWE");

        let (payload, header) = key.decrypt(id_token).expect(&case);
        assert_eq!(header["alg"], alg, "{case}");
        assert_eq!(header["enc"], enc, "{case}");
        assert_eq!(header["cty"], "JWT", "{case}: a nested JWT");
        assert_eq!(header["kid"], "enc-1", "{case}");
        let signed = String::from_utf8(payload).unwrap();
        let sub = verify_signed(&app, &client, &signed, &flow.nonce).await;
        assert_eq!(sub, citizen.subject, "{case}");

        // Another key of the same kind, even under the same kid, opens nothing.
        let stranger = EncKey::for_alg(alg, "enc-1");
        assert!(
            stranger.decrypt(id_token).is_err(),
            "{case}: a stranger decrypted it"
        );
        // Nor does a tampered token decrypt (the tag covers the header and the content).
        let mut pieces: Vec<String> = id_token.split('.').map(str::to_owned).collect();
        pieces[3] = pieces[3].chars().rev().collect();
        assert!(key.decrypt(&pieces.join(".")).is_err(), "{case}: tampered");
    }
}

#[tokio::test]
async fn a_client_that_registered_no_encryption_gets_a_signed_id_token() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    // Keys for encryption alone do not encrypt anything the client did not ask for.
    let key = EncKey::ec("enc-1");
    for new in [
        TestClient::portal(),
        encrypted_portal(
            Some(jwks(&[key.public()])),
            None,
            SecurityMetadata::default(),
        ),
    ] {
        let client = app.register_client(new);
        let flow = log_in(&app, &citizen, &client).await;
        let (status, body) = redeem(&app, &client, client.auth(), &flow, &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let id_token = body["id_token"].as_str().unwrap();
        assert_eq!(parts(id_token), 3, "a JWS");
        verify_signed(&app, &client, id_token, &flow.nonce).await;
    }
}

#[tokio::test]
async fn registration_refuses_encryption_it_cannot_honour() {
    let app = TestApp::spawn_with_admin(|_| {}).await;
    let ec = EncKey::ec("ec-enc").public();
    let rsa = EncKey::rsa("rsa-enc").public();
    let small_rsa = {
        let mut private = Jwk::generate_rsa_key(1024).unwrap();
        private.set_key_id("small");
        let mut public = private.to_public_key().unwrap();
        public.set_key_use("enc");
        serde_json::to_value(public.as_ref()).unwrap()
    };
    let ec_for_signing = {
        let mut key = ec.clone();
        key["use"] = json!("sig");
        key
    };
    let ec_private = {
        let key = EncKey::ec("leaked");
        let mut private = serde_json::to_value(key.private.as_ref()).unwrap();
        private["use"] = json!("enc");
        private
    };
    let ec_declared_rsa = {
        let mut key = ec.clone();
        key["alg"] = json!("RSA-OAEP-256");
        key
    };
    let portal = |extra: Value| {
        let mut body = json!({
            "client_name": "Cổng thuế",
            "redirect_uris": ["https://thue.gov.vn/cb"],
        });
        for (name, value) in extra.as_object().unwrap() {
            body[name] = value.clone();
        }
        body
    };
    let cases = [
        (
            "no keys at all",
            portal(json!({ "id_token_encrypted_response_alg": "RSA-OAEP-256" })),
        ),
        (
            "ECDH-ES with an RSA key",
            portal(
                json!({ "jwks": { "keys": [rsa] }, "id_token_encrypted_response_alg": "ECDH-ES+A256KW" }),
            ),
        ),
        (
            "RSA-OAEP-256 with an EC key",
            portal(
                json!({ "jwks": { "keys": [ec] }, "userinfo_encrypted_response_alg": "RSA-OAEP-256" }),
            ),
        ),
        (
            "an RSA key under 2048 bits",
            portal(
                json!({ "jwks": { "keys": [small_rsa] }, "id_token_encrypted_response_alg": "RSA-OAEP-256" }),
            ),
        ),
        (
            "a key for signatures only",
            portal(
                json!({ "jwks": { "keys": [ec_for_signing] }, "id_token_encrypted_response_alg": "ECDH-ES+A256KW" }),
            ),
        ),
        (
            "a key declared for another algorithm",
            portal(
                json!({ "jwks": { "keys": [ec_declared_rsa] }, "id_token_encrypted_response_alg": "ECDH-ES+A256KW" }),
            ),
        ),
        (
            "a private key",
            portal(
                json!({ "jwks": { "keys": [ec_private] }, "id_token_encrypted_response_alg": "ECDH-ES+A256KW" }),
            ),
        ),
        (
            "RSA1_5",
            portal(
                json!({ "jwks": { "keys": [rsa] }, "id_token_encrypted_response_alg": "RSA1_5" }),
            ),
        ),
        (
            "dir",
            portal(json!({ "jwks": { "keys": [ec] }, "id_token_encrypted_response_alg": "dir" })),
        ),
        (
            "A128GCM",
            portal(
                json!({ "jwks": { "keys": [ec] }, "id_token_encrypted_response_alg": "ECDH-ES+A256KW", "id_token_encrypted_response_enc": "A128GCM" }),
            ),
        ),
        (
            "enc without alg",
            portal(
                json!({ "jwks": { "keys": [ec] }, "userinfo_encrypted_response_enc": "A256GCM" }),
            ),
        ),
        (
            "userinfo signed with none",
            portal(json!({ "userinfo_signed_response_alg": "none" })),
        ),
        (
            "userinfo signed with HS256",
            portal(json!({ "userinfo_signed_response_alg": "HS256" })),
        ),
    ];
    for (case, body) in cases {
        let (status, answer) = app.admin(Method::POST, "/admin/clients", Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {answer}");
        assert_eq!(answer["error"], "invalid_client_metadata", "{case}");
    }
    let (_, listed) = app.admin(Method::GET, "/admin/clients", None).await;
    assert_eq!(listed["clients"], json!([]), "nothing was created");

    // The same keys, with what they fit, are accepted; a secret still authenticates
    // a client whose keys are for encryption alone.
    let good = portal(json!({
        "jwks": { "keys": [EncKey::ec("ec-enc").public(), EncKey::rsa("rsa-enc").public()] },
        "id_token_encrypted_response_alg": "ECDH-ES+A256KW",
        "id_token_encrypted_response_enc": "A256GCM",
        "userinfo_signed_response_alg": "ES256",
        "userinfo_encrypted_response_alg": "RSA-OAEP-256",
    }));
    let (status, answer) = app.admin(Method::POST, "/admin/clients", Some(&good)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["token_endpoint_auth_method"], "client_secret_basic");
    assert!(answer["client_secret"].is_string());
    assert_eq!(
        answer["userinfo_encrypted_response_enc"], "A128CBC-HS256",
        "the default enc"
    );
}

#[tokio::test]
async fn discovery_lists_the_encryption_algorithms() {
    let app = TestApp::spawn().await;
    let metadata = app.get_json("/.well-known/openid-configuration").await;
    for name in [
        "id_token_encryption_alg_values_supported",
        "userinfo_encryption_alg_values_supported",
    ] {
        assert_eq!(
            metadata[name],
            json!(["ECDH-ES+A256KW", "RSA-OAEP-256"]),
            "{name}"
        );
    }
    for name in [
        "id_token_encryption_enc_values_supported",
        "userinfo_encryption_enc_values_supported",
    ] {
        assert_eq!(
            metadata[name],
            json!(["A256GCM", "A128CBC-HS256"]),
            "{name}"
        );
    }
    assert_eq!(
        metadata["userinfo_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );
}

/// GET /userinfo: the status, the content type and the body as text.
async fn userinfo(app: &TestApp, token: &str) -> (StatusCode, String, String) {
    let response = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .fetch()
        .await;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// Verifies a JWS signed by the server with its published keys: the claims.
async fn server_signed(app: &TestApp, token: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(app.get_json("/jwks.json").await).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("a published key");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("signed by the server")
        .claims
}

/// A client that asked for `security` on its userinfo answers, with its keys inline, and
/// an access token of a citizen's login there.
async fn userinfo_client(
    app: &TestApp,
    citizen: &TestCitizen,
    key: &EncKey,
    security: SecurityMetadata,
) -> (TestClient, String) {
    let client = app.register_client(encrypted_portal(
        Some(jwks(&[key.public()])),
        None,
        security,
    ));
    let flow = log_in(app, citizen, &client).await;
    let (status, body) = redeem(app, &client, client.auth(), &flow, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (client, body["access_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn userinfo_answers_as_a_signed_jwt_an_encrypted_one_or_encrypted_json() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let key = EncKey::ec("enc-1");

    // Signed: application/jwt, the claims with iss and aud.
    let signed_only = SecurityMetadata {
        userinfo_signed_response_alg: Some("ES256".into()),
        ..SecurityMetadata::default()
    };
    let (client, token) = userinfo_client(&app, &citizen, &key, signed_only).await;
    let (status, content_type, body) = userinfo(&app, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "application/jwt");
    assert_eq!(parts(&body), 3);
    let header = jsonwebtoken::decode_header(&body).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let claims = server_signed(&app, &body).await;
    assert_eq!(claims["sub"], citizen.subject);
    assert_eq!(claims["given_name"], citizen.record.given_name);
    assert_eq!(claims["iss"], app.issuer);
    assert_eq!(claims["aud"], client.id);

    // Signed, then encrypted: a nested JWT.
    let nested = SecurityMetadata {
        userinfo_signed_response_alg: Some("RS256".into()),
        userinfo_encrypted_response_alg: Some("ECDH-ES+A256KW".into()),
        userinfo_encrypted_response_enc: Some("A256GCM".into()),
        ..SecurityMetadata::default()
    };
    let (client, token) = userinfo_client(&app, &citizen, &key, nested).await;
    let (status, content_type, body) = userinfo(&app, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "application/jwt");
    assert_eq!(parts(&body), 5);
    let (payload, header) = key.decrypt(&body).unwrap();
    assert_eq!(
        (header["cty"].as_str(), header["kid"].as_str()),
        (Some("JWT"), Some("enc-1"))
    );
    let claims = server_signed(&app, std::str::from_utf8(&payload).unwrap()).await;
    assert_eq!(claims["sub"], citizen.subject);
    assert_eq!(claims["aud"], client.id);
    assert!(
        EncKey::ec("enc-1").decrypt(&body).is_err(),
        "only the client's key opens it"
    );

    // Encrypted only: the JSON claims inside, still application/jwt (OIDC Core §5.3.2).
    let encrypted_only = SecurityMetadata {
        userinfo_encrypted_response_alg: Some("ECDH-ES+A256KW".into()),
        ..SecurityMetadata::default()
    };
    let (_, token) = userinfo_client(&app, &citizen, &key, encrypted_only).await;
    let (status, content_type, body) = userinfo(&app, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(content_type, "application/jwt");
    let (payload, header) = key.decrypt(&body).unwrap();
    assert_eq!(header["enc"], "A128CBC-HS256");
    assert!(header.get("cty").is_none(), "JSON, not a JWT: {header}");
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["sub"], citizen.subject);

    // A client that asked for none of it gets JSON as before.
    let plain = app.confidential_client();
    let token = app.access_token(&citizen, &plain, &["profile"]).await;
    let (status, content_type, body) = userinfo(&app, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["sub"],
        citizen.subject
    );
}

/// A client's key endpoint, whose document the test changes (or takes down, `None`).
struct KeyEndpoint {
    uri: String,
    document: Arc<Mutex<Option<String>>>,
    _server: actix_web::dev::ServerHandle,
}

impl KeyEndpoint {
    async fn serve(document: Option<String>) -> KeyEndpoint {
        use actix_web::{App, HttpResponse, HttpServer, web};
        let shared = Arc::new(Mutex::new(document));
        let served = shared.clone();
        let server = HttpServer::new(move || {
            let served = served.clone();
            App::new().route(
                "/jwks.json",
                web::get().to(move || {
                    let document = served.lock().unwrap().clone();
                    async move {
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
        KeyEndpoint {
            uri: format!("http://127.0.0.1:{port}/jwks.json"),
            document: shared,
            _server: handle,
        }
    }

    fn publish(&self, document: Option<String>) {
        *self.document.lock().unwrap() = document;
    }
}

/// A `private_key_jwt` assertion for `client_id`, signed by `key`.
fn assertion(app: &TestApp, client_id: &str, key: &SigningKey, jti: &str) -> String {
    let now = app.clock.now().timestamp();
    let claims = json!({
        "iss": client_id, "sub": client_id, "aud": app.issuer,
        "iat": now, "exp": now + 60, "jti": jti,
    });
    jwt::sign(key, "JWT", &claims).unwrap()
}

fn key_set(signing: &SigningKey, encryption: &EncKey) -> String {
    jwks(&[signing.public_jwk().clone(), encryption.public()])
}

#[tokio::test]
async fn keys_come_from_the_jwks_uri_and_a_rotation_is_picked_up_at_the_new_kid() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let (signing, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let old = EncKey::ec("enc-old");
    let endpoint = KeyEndpoint::serve(Some(key_set(&signing, &old))).await;
    // A FAPI-style client: private_key_jwt and encryption keys at one jwks_uri.
    let client = app.register_client(encrypted_portal(
        None,
        Some(endpoint.uri.clone()),
        id_token_encryption("ECDH-ES+A256KW", "A256GCM"),
    ));
    assert!(client.secret.is_none(), "a client with a jwks_uri signs");

    let flow = log_in(&app, &citizen, &client).await;
    let proof = assertion(&app, &client.id, &signing, "a-1");
    let auth = [
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", proof.as_str()),
    ];
    let (status, body) = redeem(&app, &client, ClientAuth::Form, &flow, &auth).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id_token = body["id_token"].as_str().unwrap();
    let (payload, header) = old.decrypt(id_token).unwrap();
    assert_eq!(header["kid"], "enc-old");
    verify_signed(
        &app,
        &client,
        std::str::from_utf8(&payload).unwrap(),
        &flow.nonce,
    )
    .await;

    // The client rotates both keys; the old ones are gone from its endpoint at once.
    let (new_signing, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let new = EncKey::ec("enc-new");
    endpoint.publish(Some(key_set(&new_signing, &new)));
    // Past the floor between two fetches of one jwks_uri.
    app.advance_clock(chrono::Duration::seconds(31));
    let flow = log_in(&app, &citizen, &client).await;
    let proof = assertion(&app, &client.id, &new_signing, "a-2");
    let auth = [
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", proof.as_str()),
    ];
    let (status, body) = redeem(&app, &client, ClientAuth::Form, &flow, &auth).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the unknown kid fetched the set again: {body}"
    );
    let id_token = body["id_token"].as_str().unwrap();
    assert!(
        old.decrypt(id_token).is_err(),
        "the retired key opens nothing"
    );
    let (_, header) = new.decrypt(id_token).expect("encrypted to the new key");
    assert_eq!(header["kid"], "enc-new");
}

#[tokio::test]
async fn a_key_endpoint_that_fails_gets_an_oauth_error_and_the_code_survives() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let key = EncKey::rsa("enc-1");
    let endpoint = KeyEndpoint::serve(None).await;
    // Keys for encryption only: the client authenticates with its secret.
    let client = app.register_client(NewClient {
        token_endpoint_auth_method: Some("client_secret_basic".into()),
        ..encrypted_portal(
            None,
            Some(endpoint.uri.clone()),
            id_token_encryption("RSA-OAEP-256", "A256GCM"),
        )
    });
    let flow = log_in(&app, &citizen, &client).await;
    let (status, body) = redeem(&app, &client, client.auth(), &flow, &[]).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "neither a 500 nor a plain token: {body}"
    );
    assert_eq!(body["error"], "invalid_request");
    assert!(body.get("id_token").is_none() && body.get("access_token").is_none());

    // Once the endpoint serves the key, the same code is still good: nothing was spent.
    // (Codes live 60 s, and a jwks_uri is fetched again after 30 s.)
    endpoint.publish(Some(jwks(&[EncKey::ec("ec").public(), key.public()])));
    app.advance_clock(chrono::Duration::seconds(31));
    let (status, body) = redeem(&app, &client, client.auth(), &flow, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (payload, _) = key.decrypt(body["id_token"].as_str().unwrap()).unwrap();
    verify_signed(
        &app,
        &client,
        std::str::from_utf8(&payload).unwrap(),
        &flow.nonce,
    )
    .await;

    // A set without a key for RSA-OAEP-256 is no better than none.
    endpoint.publish(Some(jwks(&[EncKey::ec("ec").public()])));
    app.advance_clock(chrono::Duration::seconds(301));
    let flow = log_in(&app, &citizen, &client).await;
    let (status, body) = redeem(&app, &client, client.auth(), &flow, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{body}"
    );
}

#[tokio::test]
async fn a_refreshed_id_token_is_encrypted_too_and_a_refresh_token_outlives_a_key_outage() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let key = EncKey::ec("enc-1");
    let endpoint = KeyEndpoint::serve(Some(jwks(&[key.public()]))).await;
    let client = app.register_client(NewClient {
        scopes: "openid profile offline_access".into(),
        token_endpoint_auth_method: Some("client_secret_basic".into()),
        ..encrypted_portal(
            None,
            Some(endpoint.uri.clone()),
            id_token_encryption("ECDH-ES+A256KW", "A128CBC-HS256"),
        )
    });
    let flow = log_in_for(&app, &citizen, &client, &["offline_access"]).await;
    let (status, body) = redeem(&app, &client, client.auth(), &flow, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(key.decrypt(body["id_token"].as_str().unwrap()).is_ok());
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
    ];

    // The cached set grows stale while the endpoint is down: the refresh is refused,
    // and the refresh token is not rotated away.
    endpoint.publish(None);
    app.advance_clock(chrono::Duration::seconds(301));
    let (status, body) = token_request_as(&app, client.auth(), &refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{body}"
    );

    endpoint.publish(Some(jwks(&[key.public()])));
    app.advance_clock(chrono::Duration::seconds(31));
    let (status, body) = token_request_as(&app, client.auth(), &refresh).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same refresh token still works: {body}"
    );
    let id_token = body["id_token"].as_str().expect("an ID token on refresh");
    let (payload, header) = key.decrypt(id_token).unwrap();
    assert_eq!(header["enc"], "A128CBC-HS256");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            std::str::from_utf8(&payload)
                .unwrap()
                .split('.')
                .nth(1)
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], citizen.subject);
    assert_eq!(claims["aud"], client.id);
}
