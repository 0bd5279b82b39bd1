//! The FAPI 2.0 switch: the client metadata of the high-assurance profile through the
//! admin API and the CLI, what registration refuses under the profile, and what the
//! server-wide profile imposes on clients registered before it was turned on.

use citizen_idp::domain::client_security::Profile;
use citizen_idp::tokens::keys::{SigningAlg, SigningKey};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::client_assertion::{self, JWT_BEARER, KeyClient};
use crate::helpers::{ClientAuth, TestApp, assert_succeeded, token_request_as};

fn es256_jwks() -> Value {
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    json!({ "keys": [key.public_jwk()] })
}

/// `jwks` with an EC P-256 and an RSA key for encryption added.
fn with_encryption_keys(jwks: &Value) -> Value {
    let mut keys = jwks["keys"].as_array().unwrap().clone();
    for private in [
        josekit::jwk::Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap(),
        josekit::jwk::Jwk::generate_rsa_key(2048).unwrap(),
    ] {
        let mut public = private.to_public_key().unwrap();
        public.set_key_use("enc");
        keys.push(serde_json::to_value(public.as_ref()).unwrap());
    }
    json!({ "keys": keys })
}

/// Client metadata that meets the profile.
fn fapi2_metadata() -> Value {
    json!({
        "client_name": "Cổng thuế điện tử",
        "redirect_uris": ["https://thue.example.gov.vn/cb"],
        "profile": "fapi2",
        "jwks": es256_jwks(),
        "id_token_signed_response_alg": "ES256",
        "token_endpoint_auth_signing_alg": "ES256",
        "request_object_signing_alg": "PS256",
    })
}

#[tokio::test]
async fn a_fapi2_client_is_registered_shown_and_changed_with_every_setting() {
    let app = TestApp::spawn_with_admin(|_| {}).await;
    let (status, created) = app
        .admin(Method::POST, "/admin/clients", Some(&fapi2_metadata()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["profile"], "fapi2");
    assert_eq!(created["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(created["request_object_signing_alg"], "PS256");
    assert_eq!(created["require_pushed_authorization_requests"], false);
    assert_eq!(created["dpop_bound_access_tokens"], false);
    assert!(created.get("client_secret").is_none());
    let id = created["client_id"].as_str().unwrap().to_owned();

    // A full replacement with the other settings, read back as sent.
    let mut changed = fapi2_metadata();
    // Encryption needs a public key marked use=enc that fits each algorithm.
    changed["jwks"] = with_encryption_keys(&changed["jwks"]);
    changed["require_pushed_authorization_requests"] = json!(true);
    changed["dpop_bound_access_tokens"] = json!(true);
    changed["userinfo_signed_response_alg"] = json!("ES256");
    changed["id_token_encrypted_response_alg"] = json!("ECDH-ES+A256KW");
    changed["userinfo_encrypted_response_alg"] = json!("RSA-OAEP-256");
    changed["userinfo_encrypted_response_enc"] = json!("A256GCM");
    let path = format!("/admin/clients/{id}");
    let (status, updated) = app.admin(Method::PUT, &path, Some(&changed)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let (_, shown) = app.admin(Method::GET, &path, None).await;
    for (name, value) in [
        ("require_pushed_authorization_requests", json!(true)),
        ("dpop_bound_access_tokens", json!(true)),
        ("userinfo_signed_response_alg", json!("ES256")),
        ("id_token_encrypted_response_alg", json!("ECDH-ES+A256KW")),
        // OIDC Registration §2: enc defaults to A128CBC-HS256 when only alg is given.
        ("id_token_encrypted_response_enc", json!("A128CBC-HS256")),
        ("userinfo_encrypted_response_alg", json!("RSA-OAEP-256")),
        ("userinfo_encrypted_response_enc", json!("A256GCM")),
        ("profile", json!("fapi2")),
    ] {
        assert_eq!(shown[name], value, "{name}: {shown}");
    }

    // Back to the standard profile: the settings left out are gone.
    let standard = json!({
        "client_name": "Cổng thuế điện tử",
        "redirect_uris": ["https://thue.example.gov.vn/cb"],
        "jwks": es256_jwks(),
    });
    let (status, _) = app.admin(Method::PUT, &path, Some(&standard)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, shown) = app.admin(Method::GET, &path, None).await;
    assert_eq!(shown["profile"], "standard");
    assert!(
        shown.get("id_token_encrypted_response_alg").is_none(),
        "{shown}"
    );
    assert_eq!(shown["dpop_bound_access_tokens"], false);
}

#[tokio::test]
async fn registration_refuses_what_the_profile_forbids_and_changes_nothing() {
    let app = TestApp::spawn_with_admin(|_| {}).await;
    let with = |changes: Value| {
        let mut metadata = fapi2_metadata();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                metadata.as_object_mut().unwrap().remove(name);
            } else {
                metadata[name] = value.clone();
            }
        }
        metadata
    };
    let refused = [
        // A client with a secret, or none at all.
        with(json!({ "jwks": null, "id_token_signed_response_alg": "ES256" })),
        with(json!({ "jwks": null, "kind": "public", "token_endpoint_auth_method": "none" })),
        // An assertion audience beyond the issuer.
        with(json!({ "assertion_audience": "oidc" })),
        // Algorithms FAPI 2.0 does not admit, for us or for the client.
        with(json!({ "id_token_signed_response_alg": "RS256" })),
        with(json!({ "id_token_signed_response_alg": null })),
        with(json!({ "userinfo_signed_response_alg": "RS256" })),
        with(json!({ "token_endpoint_auth_signing_alg": "RS256" })),
        with(json!({ "request_object_signing_alg": "RS256" })),
        // Names that are no profile or algorithm at all.
        with(json!({ "profile": "fapi1" })),
        with(json!({ "request_object_signing_alg": "none" })),
        with(json!({ "request_object_signing_alg": "HS256" })),
        with(json!({ "id_token_encrypted_response_alg": "RSA1_5" })),
        with(json!({ "id_token_encrypted_response_alg": "dir" })),
        with(
            json!({ "id_token_encrypted_response_alg": "RSA-OAEP-256", "id_token_encrypted_response_enc": "A128GCM" }),
        ),
        with(json!({ "userinfo_encrypted_response_enc": "A256GCM" })),
    ];
    for metadata in refused {
        let (status, body) = app
            .admin(Method::POST, "/admin/clients", Some(&metadata))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{metadata}: {body}");
        assert_eq!(
            body["error"], "invalid_client_metadata",
            "{metadata}: {body}"
        );
    }
    // Encryption needs the client's keys, whatever the profile.
    let no_keys = json!({
        "client_name": "Cổng",
        "redirect_uris": ["https://cong.example.gov.vn/cb"],
        "id_token_encrypted_response_alg": "ECDH-ES+A256KW",
    });
    let (status, body) = app
        .admin(Method::POST, "/admin/clients", Some(&no_keys))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, list) = app.admin(Method::GET, "/admin/clients", None).await;
    let names: Vec<&str> = list["clients"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["client_name"].as_str())
        .collect();
    assert!(
        !names.contains(&"Cổng thuế điện tử") && !names.contains(&"Cổng"),
        "nothing refused was stored: {names:?}"
    );
}

#[tokio::test]
async fn the_clients_command_sets_and_shows_the_profile() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, es256_jwks().to_string()).unwrap();
    let jwks = jwks.to_str().unwrap();
    let created = app
        .cli(
            &[
                "clients",
                "create",
                "--confidential",
                "--id",
                "cong-thue",
                "--name",
                "Cổng thuế",
                "--redirect-uri",
                "https://thue.example.gov.vn/cb",
                "--jwks-file",
                jwks,
                "--id-token-alg",
                "ES256",
                "--profile",
                "fapi2",
                "--dpop-bound-access-tokens",
                "true",
            ],
            None,
        )
        .await;
    assert_succeeded(&created);
    let shown = app.cli(&["clients", "show", "cong-thue"], None).await;
    assert_succeeded(&shown);
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains("profile: fapi2"), "{shown}");
    assert!(shown.contains("dpop_bound_access_tokens: true"), "{shown}");

    // RS256 ID tokens are outside the profile: refused, and the client stays as it was.
    let refused = app
        .cli(
            &["clients", "update", "cong-thue", "--id-token-alg", "RS256"],
            None,
        )
        .await;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("fapi2"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let updated = app
        .cli(
            &[
                "clients",
                "update",
                "cong-thue",
                "--profile",
                "standard",
                "--id-token-alg",
                "RS256",
            ],
            None,
        )
        .await;
    assert_succeeded(&updated);
    let shown = app.cli(&["clients", "show", "cong-thue"], None).await;
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains("profile: standard"), "{shown}");
}

/// A key client registered under the standard profile, with an RS256 key.
fn rs256_client(app: &TestApp) -> KeyClient {
    let (key, _) = SigningKey::generate(SigningAlg::Rs256).unwrap();
    let id = client_assertion::register(app, Some(client_assertion::jwks_of(&[&key])), None);
    KeyClient { id, key }
}

#[tokio::test]
async fn the_server_wide_profile_refuses_clients_registered_outside_it() {
    let app = TestApp::spawn_with(|s| s.server.profile = Profile::Fapi2).await;

    // A client with a secret: refused at the token endpoint, however right its secret.
    let portal = app.confidential_client();
    let secret = portal.secret.clone().unwrap();
    let (status, body) = token_request_as(
        &app,
        ClientAuth::Basic(&portal.id, &secret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");

    // A client with keys whose assertions are RS256: refused too.
    let client = rs256_client(&app);
    let assertion =
        client_assertion::assertion(&app, &client, &app.issuer, 60, "fapi-rs256-assertion");
    let (status, body) = client_assertion::token_with(&app, &assertion).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");

    // The same client without the server-wide profile is accepted: the refusal above
    // was the profile's.
    let standard = TestApp::spawn().await;
    let client = rs256_client(&standard);
    let assertion = client_assertion::assertion(
        &standard,
        &client,
        &standard.issuer,
        60,
        "standard-rs256-assertion",
    );
    let (status, body) = client_assertion::token_with(&standard, &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn under_the_profile_an_assertion_for_the_token_endpoint_is_refused() {
    let app = TestApp::spawn_with(|s| s.server.profile = Profile::Fapi2).await;
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let id = client_assertion::register(&app, Some(client_assertion::jwks_of(&[&key])), None);
    let client = KeyClient { id, key };
    let token_endpoint = app.url("/token");
    let for_endpoint =
        client_assertion::assertion(&app, &client, &token_endpoint, 60, "fapi-aud-endpoint");
    let (status, body) = client_assertion::token_with(&app, &for_endpoint).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");

    // With the issuer as its audience, the same client gets a token: DPoP-bound, as the
    // profile binds every token (FAPI 2.0 §5.3.2.2); without a proof it gets none.
    let for_issuer = client_assertion::assertion(&app, &client, &app.issuer, 60, "fapi-aud-iss");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", for_issuer.as_str()),
    ];
    let (status, body) = token_request_as(&app, ClientAuth::Form, &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_dpop_proof", "{body}");
    let for_issuer =
        client_assertion::assertion(&app, &client, &app.issuer, 60, "fapi-aud-iss-dpop");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", for_issuer.as_str()),
    ];
    let holder = crate::dpop::Holder::new();
    let proof = holder.proof(&app, "POST", &crate::dpop::endpoint(&app, "/token"));
    let response =
        crate::dpop::post_with_proofs(&app, "/token", ClientAuth::Form, &form, &[&proof]).await;
    let (status, body) = crate::helpers::status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP", "{body}");
}

/// A FAPI 2.0 portal registered through the admin API with an ES256 signing key and an
/// EC key for encryption, naming no encryption algorithm: the profile encrypts its ID
/// tokens all the same.
struct Fapi2Portal {
    client: KeyClient,
    enc: josekit::jwk::Jwk,
    redirect_uri: String,
}

async fn register_fapi2_portal(app: &TestApp) -> Fapi2Portal {
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let mut enc = josekit::jwk::Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
    enc.set_key_id("portal-enc-1");
    let mut public = enc.to_public_key().unwrap();
    public.set_key_use("enc");
    public.set_key_id("portal-enc-1");
    let redirect_uri = "https://thue.example.gov.vn/cb".to_owned();
    let metadata = json!({
        "client_name": "Cổng thuế điện tử",
        "redirect_uris": [redirect_uri],
        "profile": "fapi2",
        "first_party": true,
        "subject_type": "public",
        "scope": "openid profile",
        "jwks": { "keys": [key.public_jwk(), serde_json::to_value(public.as_ref()).unwrap()] },
        "id_token_signed_response_alg": "ES256",
    });
    let (status, created) = app
        .admin(Method::POST, "/admin/clients", Some(&metadata))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id_token_encrypted_response_alg"], "ECDH-ES+A256KW");
    assert_eq!(created["id_token_encrypted_response_enc"], "A256GCM");
    Fapi2Portal {
        client: KeyClient {
            id: created["client_id"].as_str().unwrap().to_owned(),
            key,
        },
        enc,
        redirect_uri,
    }
}

fn pushed_params(
    portal: &Fapi2Portal,
    app: &TestApp,
    pkce: bool,
) -> (Vec<(&'static str, String)>, String) {
    let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
    let mut params = vec![
        ("response_type", "code".to_owned()),
        ("client_id", portal.client.id.clone()),
        ("redirect_uri", portal.redirect_uri.clone()),
        ("scope", "openid profile".to_owned()),
        ("state", "fapi-state".to_owned()),
        ("nonce", "fapi-nonce".to_owned()),
        ("client_assertion_type", JWT_BEARER.to_owned()),
        (
            "client_assertion",
            client_assertion::assertion(
                app,
                &portal.client,
                &app.issuer,
                60,
                &uuid::Uuid::new_v4().to_string(),
            ),
        ),
    ];
    if pkce {
        params.push(("code_challenge", challenge.as_str().to_owned()));
        params.push(("code_challenge_method", "S256".to_owned()));
    }
    (params, verifier.secret().clone())
}

#[tokio::test]
async fn a_fapi2_portal_logs_a_citizen_in_through_par_dpop_and_an_encrypted_id_token() {
    let app = TestApp::spawn_with_admin(|_| {}).await;
    let portal = register_fapi2_portal(&app).await;
    let citizen = app.citizen();

    // A plain authorization request: refused, the profile needs PAR.
    // Everything but the client authentication, PKCE included: only PAR is missing.
    let (plain, _) = pushed_params(&portal, &app, true);
    let plain: Vec<_> = plain
        .into_iter()
        .filter(|(name, _)| !name.starts_with("client_assertion"))
        .collect();
    let url = format!(
        "{}?{}",
        app.url("/authorize"),
        serde_urlencoded::to_string(&plain).unwrap()
    );
    let (_, location, _) = app
        .browse_in(&crate::helpers::http_client(true), &url)
        .await;
    let location = location.expect("an error redirect to the registered URI");
    assert!(location.starts_with(&portal.redirect_uri), "{location}");
    assert_eq!(
        crate::helpers::query_param(&location, "error").as_deref(),
        Some("invalid_request"),
        "{location}"
    );
    assert!(
        crate::helpers::query_param(&location, "error_description")
            .is_some_and(|why| why.contains("push")),
        "{location}"
    );

    // Pushed without PKCE: refused, confidential client or not.
    let (no_pkce, _) = pushed_params(&portal, &app, false);
    let (status, body) = crate::par::push_as(&app, ClientAuth::Form, &no_pkce).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");

    // Pushed as the profile wants it, then the citizen logs in.
    let (params, verifier) = pushed_params(&portal, &app, true);
    let (status, body) = crate::par::push_as(&app, ClientAuth::Form, &params).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let request_uri = body["request_uri"].as_str().unwrap();
    let url = crate::par::authorize_url(&app, &portal.client.id, request_uri, &[]);
    let redirect = app
        .log_in(&url, &citizen.number, crate::helpers::PASSWORD)
        .await;
    assert!(redirect.starts_with(&portal.redirect_uri), "{redirect}");
    let code = crate::helpers::query_param(&redirect, "code").unwrap();

    let token_form = |jti: &str| {
        let assertion = client_assertion::assertion(&app, &portal.client, &app.issuer, 60, jti);
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", portal.redirect_uri.clone()),
            ("code_verifier", verifier.clone()),
            ("client_assertion_type", JWT_BEARER.to_owned()),
            ("client_assertion", assertion),
        ]
    };
    // Without a DPoP proof: no token, and the code is not spent.
    let form = token_form("fapi-token-1");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response =
        crate::dpop::post_with_proofs(&app, "/token", ClientAuth::Form, &form, &[]).await;
    let (status, body) = crate::helpers::status_and_json(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_dpop_proof", "{body}");

    let holder = crate::dpop::Holder::new();
    let proof = holder.proof(&app, "POST", &crate::dpop::endpoint(&app, "/token"));
    let form = token_form("fapi-token-2");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response =
        crate::dpop::post_with_proofs(&app, "/token", ClientAuth::Form, &form, &[&proof]).await;
    let (status, tokens) = crate::helpers::status_and_json(response).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");

    // The ID token is a JWE that the portal's key alone opens, holding our ES256 JWS.
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(id_token.split('.').count(), 5, "a compact JWE");
    let decrypter = josekit::jwe::ECDH_ES_A256KW
        .decrypter_from_jwk(&portal.enc)
        .unwrap();
    let (inner, header) = josekit::jwe::deserialize_compact(id_token, &decrypter).unwrap();
    assert_eq!(header.claim("cty"), Some(&json!("JWT")));
    assert_eq!(header.claim("enc"), Some(&json!("A256GCM")));
    assert_eq!(header.claim("kid"), Some(&json!("portal-enc-1")));
    let inner = String::from_utf8(inner).unwrap();
    let inner_header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            inner.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(inner_header["alg"], "ES256");
    let other = josekit::jwk::Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
    let wrong = josekit::jwe::ECDH_ES_A256KW
        .decrypter_from_jwk(&other)
        .unwrap();
    assert!(josekit::jwe::deserialize_compact(id_token, &wrong).is_err());
}
