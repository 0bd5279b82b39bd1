//! Strict JOSE (issue 15, point 1; RFC 7515, RFC 7519, RFC 7523, RFC 7591): every JWT
//! we read is refused when its header carries `crit`, when an object names a member
//! twice, or when a registered claim has the wrong type; a client's assertions follow
//! its registered algorithm and audience policy; and each client authenticates only
//! with its registered method, at /token, /introspect and /revoke alike.
//!
//! The assertions here are signed over the bytes as written (not re-serialised), so
//! that a duplicate member reaches the server with a valid signature.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use citizen_idp::clock::Clock;
use citizen_idp::domain::client::AssertionAudience;
use citizen_idp::registration::NewClient;
use citizen_idp::tokens::keys::{SigningAlg, SigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::client_assertion::{JWT_BEARER, jwks_of};
use crate::helpers::{
    ClientAuth, Fetch, PASSWORD, TestApp, TestClient, assert_succeeded, post_as, query_param,
    shared_keys_dir, status_and_json,
};

/// A compact JWS of `header` and `claims` exactly as written, signed by `key`.
fn signed(key: &SigningKey, header: &str, claims: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn header_of(key: &SigningKey) -> String {
    format!(
        r#"{{"alg":"{}","kid":"{}","typ":"JWT"}}"#,
        key.alg().as_str(),
        key.kid()
    )
}

struct KeyClient {
    id: String,
    keys: Vec<SigningKey>,
}

impl KeyClient {
    fn key(&self) -> &SigningKey {
        &self.keys[0]
    }
}

/// A back office with keys (client credentials), under `audience` and with the
/// registered algorithm `alg`, if any.
fn key_client(
    app: &TestApp,
    audience: AssertionAudience,
    algs: &[SigningAlg],
    registered_alg: Option<&str>,
) -> KeyClient {
    let keys: Vec<SigningKey> = algs
        .iter()
        .map(|&alg| SigningKey::generate(alg).unwrap().0)
        .collect();
    let client = app.register_client(NewClient {
        name: "Hệ thống bảo hiểm".into(),
        redirect_uris: Vec::new(),
        grant_types: vec!["client_credentials".into()],
        scopes: "insurance.read".into(),
        jwks: Some(jwks_of(&keys.iter().collect::<Vec<_>>())),
        token_endpoint_auth_signing_alg: registered_alg.map(str::to_owned),
        assertion_audience: audience,
        ..NewClient::default()
    });
    KeyClient {
        id: client.id,
        keys,
    }
}

/// Claims naming `client` with audience `aud` (raw JSON) and a fresh `jti`.
fn claims_for(app: &TestApp, client: &str, aud: &str, jti: &str) -> String {
    let now = app.clock.now().timestamp();
    format!(
        r#"{{"iss":"{client}","sub":"{client}","aud":{aud},"iat":{now},"exp":{},"jti":"{jti}"}}"#,
        now + 60
    )
}

/// `value` as a JSON string literal.
fn quoted(value: &str) -> String {
    json!(value).to_string()
}

async fn post_assertion(app: &TestApp, path: &str, assertion: &str) -> (StatusCode, Value) {
    let mut form = vec![
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    form.push(if path == "/token" {
        ("grant_type", "client_credentials")
    } else {
        ("token", "not-a-token")
    });
    status_and_json(post_as(app, path, ClientAuth::Form, &form).await).await
}

async fn assert_accepted(app: &TestApp, assertion: &str, case: &str) {
    let (status, body) = post_assertion(app, "/token", assertion).await;
    assert_eq!(status, StatusCode::OK, "{case}: {body}");
}

async fn assert_refused(app: &TestApp, assertion: &str, case: &str) {
    let (status, body) = post_assertion(app, "/token", assertion).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
    assert_eq!(body["error"], "invalid_client", "{case}");
}

#[tokio::test]
async fn an_assertion_with_a_crit_header_is_refused_even_with_an_empty_list() {
    let app = TestApp::spawn().await;
    let client = key_client(&app, AssertionAudience::Issuer, &[SigningAlg::Es256], None);
    let key = client.key();
    let (alg, kid) = (key.alg().as_str(), key.kid());
    let aud = quoted(&app.issuer);
    for (header, case) in [
        (
            format!(r#"{{"alg":"{alg}","kid":"{kid}","crit":["exp"],"exp":1}}"#),
            "crit naming an extension",
        ),
        (
            format!(r#"{{"alg":"{alg}","kid":"{kid}","crit":[]}}"#),
            "an empty crit",
        ),
    ] {
        let assertion = signed(key, &header, &claims_for(&app, &client.id, &aud, case));
        assert_refused(&app, &assertion, case).await;
    }
    // The same assertion without crit passes, so the refusals are crit's.
    let plain = signed(
        key,
        &header_of(key),
        &claims_for(&app, &client.id, &aud, "ok"),
    );
    assert_accepted(&app, &plain, "no crit").await;
}

#[tokio::test]
async fn an_assertion_naming_a_member_twice_is_refused() {
    let app = TestApp::spawn().await;
    let client = key_client(&app, AssertionAudience::Issuer, &[SigningAlg::Es256], None);
    let key = client.key();
    let (alg, kid) = (key.alg().as_str(), key.kid());
    let now = app.clock.now().timestamp();
    let (id, issuer, exp) = (&client.id, &app.issuer, now + 60);
    // Each would pass if only the last member counted.
    let cases = [
        (
            header_of(key),
            format!(
                r#"{{"iss":"someone-else","iss":"{id}","sub":"{id}","aud":"{issuer}","exp":{exp},"jti":"d1"}}"#
            ),
            "iss twice",
        ),
        (
            header_of(key),
            format!(
                r#"{{"iss":"{id}","sub":"{id}","aud":"{issuer}","exp":{exp},"jti":"d2","i\u0073s":"{id}"}}"#
            ),
            "iss twice, once escaped",
        ),
        (
            header_of(key),
            format!(
                r#"{{"iss":"{id}","sub":"{id}","aud":"https://other-idp.example","aud":"{issuer}","exp":{exp},"jti":"d3"}}"#
            ),
            "aud twice",
        ),
        (
            format!(r#"{{"alg":"none","alg":"{alg}","kid":"{kid}"}}"#),
            claims_for(&app, id, &quoted(issuer), "d4"),
            "alg twice in the header",
        ),
        (
            format!(r#"{{"alg":"{alg}","kid":"other","kid":"{kid}"}}"#),
            claims_for(&app, id, &quoted(issuer), "d5"),
            "kid twice in the header",
        ),
    ];
    for (header, claims, case) in cases {
        assert_refused(&app, &signed(key, &header, &claims), case).await;
    }
}

#[tokio::test]
async fn registered_claims_of_the_wrong_type_are_refused() {
    let app = TestApp::spawn().await;
    let client = key_client(&app, AssertionAudience::Oidc, &[SigningAlg::Es256], None);
    let key = client.key();
    let now = app.clock.now().timestamp();
    let (id, issuer, exp) = (&client.id, &app.issuer, now + 60);
    for (claims, case) in [
        (
            format!(r#"{{"iss":["{id}"],"sub":"{id}","aud":"{issuer}","exp":{exp},"jti":"t1"}}"#),
            "iss as an array",
        ),
        (
            format!(
                r#"{{"iss":"{id}","sub":["{id}","x"],"aud":"{issuer}","exp":{exp},"jti":"t2"}}"#
            ),
            "sub as an array",
        ),
        (
            format!(r#"{{"iss":"{id}","sub":"{id}","aud":"{issuer}","exp":"{exp}","jti":"t3"}}"#),
            "exp as a string",
        ),
        (
            format!(
                r#"{{"iss":"{id}","sub":"{id}","aud":"{issuer}","exp":{exp},"iat":"{now}","jti":"t4"}}"#
            ),
            "iat as a string",
        ),
        (
            format!(r#"{{"iss":"{id}","sub":"{id}","aud":"{issuer}","exp":{exp},"jti":5}}"#),
            "jti as a number",
        ),
        (
            format!(r#"{{"iss":"{id}","sub":"{id}","aud":["{issuer}",7],"exp":{exp},"jti":"t6"}}"#),
            "aud with a number in it",
        ),
    ] {
        assert_refused(&app, &signed(key, &header_of(key), &claims), case).await;
    }
}

#[tokio::test]
async fn a_new_client_accepts_only_the_issuer_as_a_single_string() {
    let app = TestApp::spawn().await;
    let client = key_client(&app, AssertionAudience::Issuer, &[SigningAlg::Es256], None);
    let key = client.key();
    let issuer = quoted(&app.issuer);
    let token_endpoint = quoted(&app.url("/token"));
    for (aud, case) in [
        (format!("[{issuer}]"), "the issuer in an array"),
        (
            format!("[{issuer},{token_endpoint}]"),
            "issuer and token endpoint",
        ),
        (token_endpoint.clone(), "the token endpoint"),
        (
            format!("[{issuer},\"https://other-idp.example/token\"]"),
            "the issuer beside another server",
        ),
    ] {
        let claims = claims_for(&app, &client.id, &aud, case);
        assert_refused(&app, &signed(key, &header_of(key), &claims), case).await;
    }
    let claims = claims_for(&app, &client.id, &issuer, "single");
    assert_accepted(&app, &signed(key, &header_of(key), &claims), "the issuer").await;
}

#[tokio::test]
async fn an_oidc_client_accepts_the_token_endpoint_and_arrays_naming_us() {
    let app = TestApp::spawn().await;
    let client = key_client(&app, AssertionAudience::Oidc, &[SigningAlg::Es256], None);
    let key = client.key();
    let issuer = quoted(&app.issuer);
    let token_endpoint = quoted(&app.url("/token"));
    let other = quoted("https://other-idp.example/token");
    for (aud, case) in [
        (issuer.clone(), "the issuer"),
        (token_endpoint.clone(), "the token endpoint"),
        (format!("[{issuer}]"), "the issuer in an array"),
        (
            format!("[{other},{token_endpoint}]"),
            "our token endpoint among others",
        ),
    ] {
        let claims = claims_for(&app, &client.id, &aud, case);
        assert_accepted(&app, &signed(key, &header_of(key), &claims), case).await;
    }
    for (aud, case) in [
        (other.clone(), "another server"),
        (format!("[{other}]"), "another server in an array"),
        ("[]".to_owned(), "no audience"),
    ] {
        let claims = claims_for(&app, &client.id, &aud, case);
        assert_refused(&app, &signed(key, &header_of(key), &claims), case).await;
    }
}

#[tokio::test]
async fn a_registered_signing_algorithm_is_the_only_one_accepted_even_with_a_registered_key() {
    let app = TestApp::spawn().await;
    let client = key_client(
        &app,
        AssertionAudience::Issuer,
        &[SigningAlg::Rs256, SigningAlg::Es256],
        Some("ES256"),
    );
    let issuer = quoted(&app.issuer);
    let (rsa, ec) = (&client.keys[0], &client.keys[1]);
    let claims = claims_for(&app, &client.id, &issuer, "rs");
    assert_refused(
        &app,
        &signed(rsa, &header_of(rsa), &claims),
        "RS256 with the registered RSA key",
    )
    .await;
    let claims = claims_for(&app, &client.id, &issuer, "es");
    assert_accepted(&app, &signed(ec, &header_of(ec), &claims), "ES256").await;

    // Without a registered algorithm, either key's own algorithm is accepted.
    let open = key_client(
        &app,
        AssertionAudience::Issuer,
        &[SigningAlg::Rs256, SigningAlg::Es256],
        None,
    );
    let rsa = &open.keys[0];
    let claims = claims_for(&app, &open.id, &issuer, "rs-open");
    assert_accepted(
        &app,
        &signed(rsa, &header_of(rsa), &claims),
        "RS256, none registered",
    )
    .await;
}

/// The ways a client can present itself at /token, /introspect and /revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Basic,
    Post,
    Assertion,
    ClientIdOnly,
}

struct Presenter<'a> {
    app: &'a TestApp,
    id: &'a str,
    secret: &'a str,
    key: &'a SigningKey,
}

impl Presenter<'_> {
    /// Posts to `path` with `method`; the status and whether a Basic challenge came back.
    async fn call(&self, path: &str, method: Method, jti: &str) -> (StatusCode, Value, bool) {
        let app = self.app;
        let mut form: Vec<(&str, String)> = vec![if path == "/token" {
            ("grant_type", "client_credentials".to_owned())
        } else {
            ("token", "not-a-token".to_owned())
        }];
        let mut request = app.http.post(app.url(path));
        match method {
            Method::Basic => request = request.basic_auth(self.id, Some(self.secret)),
            Method::Post => {
                form.push(("client_id", self.id.to_owned()));
                form.push(("client_secret", self.secret.to_owned()));
            }
            Method::Assertion => {
                let claims = claims_for(app, self.id, &quoted(&app.issuer), jti);
                form.push(("client_assertion_type", JWT_BEARER.to_owned()));
                form.push((
                    "client_assertion",
                    signed(self.key, &header_of(self.key), &claims),
                ));
            }
            Method::ClientIdOnly => form.push(("client_id", self.id.to_owned())),
        }
        let response = request.form(&form).fetch().await;
        let status = response.status();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap().starts_with("Basic "));
        let body = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::Null),
            challenge,
        )
    }
}

#[tokio::test]
async fn each_endpoint_refuses_every_method_the_client_is_not_registered_for() {
    let app = TestApp::spawn().await;
    let back_office = |method: Option<&str>| NewClient {
        name: "Đồng bộ hộ tịch".into(),
        redirect_uris: Vec::new(),
        grant_types: vec!["client_credentials".into()],
        scopes: "civil.read".into(),
        token_endpoint_auth_method: method.map(str::to_owned),
        ..NewClient::default()
    };
    let basic = app.register_client(back_office(None));
    let post = app.register_client(back_office(Some("client_secret_post")));
    let keys = key_client(&app, AssertionAudience::Issuer, &[SigningAlg::Es256], None);
    let public = app.public_client();
    // A key the secret clients never registered, and a secret the others never had.
    let (stray_key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let cases: [(Presenter, Method, &str); 4] = [
        (
            Presenter {
                app: &app,
                id: &basic.id,
                secret: basic.secret.as_deref().unwrap(),
                key: &stray_key,
            },
            Method::Basic,
            "client_secret_basic",
        ),
        (
            Presenter {
                app: &app,
                id: &post.id,
                secret: post.secret.as_deref().unwrap(),
                key: &stray_key,
            },
            Method::Post,
            "client_secret_post",
        ),
        (
            Presenter {
                app: &app,
                id: &keys.id,
                secret: "guess",
                key: keys.key(),
            },
            Method::Assertion,
            "private_key_jwt",
        ),
        (
            Presenter {
                app: &app,
                id: &public.id,
                secret: "guess",
                key: &stray_key,
            },
            Method::ClientIdOnly,
            "none",
        ),
    ];
    let mut jti = 0;
    for (presenter, registered, name) in &cases {
        for path in ["/token", "/introspect", "/revoke"] {
            for method in [
                Method::Basic,
                Method::Post,
                Method::Assertion,
                Method::ClientIdOnly,
            ] {
                jti += 1;
                let (status, body, challenge) =
                    presenter.call(path, method, &format!("m{jti}")).await;
                let case = format!("{name} client, {method:?} at {path}");
                if method == *registered {
                    // Public clients cannot introspect (RFC 7662 §2.1) nor use client
                    // credentials: what matters is that they got past authentication.
                    let refused_for_itself = *name == "none" && path == "/introspect";
                    if !refused_for_itself {
                        assert_ne!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
                    }
                    continue;
                }
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
                assert_eq!(body["error"], "invalid_client", "{case}");
                if method == Method::Basic {
                    assert!(challenge, "{case}: RFC 6749 §5.2 wants the Basic challenge");
                }
            }
        }
    }
}

#[tokio::test]
async fn an_assertion_spent_at_one_endpoint_is_refused_at_the_others() {
    let app = TestApp::spawn().await;
    let client = key_client(&app, AssertionAudience::Issuer, &[SigningAlg::Es256], None);
    let key = client.key();
    let claims = claims_for(&app, &client.id, &quoted(&app.issuer), "once");
    let assertion = signed(key, &header_of(key), &claims);
    let (status, body) = post_assertion(&app, "/introspect", &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for path in ["/token", "/revoke", "/introspect"] {
        let (status, body) = post_assertion(&app, path, &assertion).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "replayed at {path}: {body}"
        );
        assert_eq!(body["error"], "invalid_client");
    }
}

/// The server's own RS256 signing key (the tests' shared key files).
fn our_key(kid: &str) -> SigningKey {
    for entry in std::fs::read_dir(shared_keys_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.starts_with(kid) {
            continue;
        }
        let alg = if name.ends_with(".rs256.pem") {
            SigningAlg::Rs256
        } else {
            SigningAlg::Es256
        };
        let pem = std::fs::read_to_string(&path).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        return SigningKey::from_pkcs8(alg, &STANDARD.decode(body).unwrap()).unwrap();
    }
    panic!("no key file for {kid}");
}

#[tokio::test]
async fn an_id_token_hint_naming_a_member_twice_or_with_crit_is_invalid_request() {
    let app = TestApp::spawn().await;
    let citizen = app.citizen();
    let other = app.citizen();
    let client = app.confidential_client();
    let rp = app.relying_party(&client).await;
    let start = rp.authorize_url(&[]);
    let redirect = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    let code = query_param(&redirect, "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let genuine = serde_json::to_value(openidconnect::TokenResponse::id_token(&tokens).unwrap())
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    let part = |i: usize| {
        String::from_utf8(
            URL_SAFE_NO_PAD
                .decode(genuine.split('.').nth(i).unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let (header, claims) = (part(0), part(1));
    let header_value: Value = serde_json::from_str(&header).unwrap();
    let key = our_key(header_value["kid"].as_str().unwrap());
    // Re-signed by our own key as written, the genuine hint still works...
    let resigned = signed(&key, &header, &claims);
    let location = silent_authorize_with_hint(&app, &client, &resigned).await;
    assert!(query_param(&location, "code").is_some(), "{location}");

    // ...but not with a member named twice, which read last-wins would be `other`'s
    // hint answered from this session, or with a `crit`, even signed by us.
    let sub_first = claims.replacen(
        r#""sub":"#,
        &format!(r#""sub":"{}","sub":"#, other.subject),
        1,
    );
    let header_twice = header.replacen(r#""alg":"#, r#""alg":"none","alg":"#, 1);
    let with_crit = header.replacen('{', r#"{"crit":["exp"],"exp":1,"#, 1);
    assert!(sub_first != claims && header_twice != header && with_crit != header);
    for (forged, case) in [
        (signed(&key, &header, &sub_first), "sub twice"),
        (signed(&key, &header_twice, &claims), "alg twice"),
        (signed(&key, &with_crit, &claims), "crit"),
    ] {
        let location = silent_authorize_with_hint(&app, &client, &forged).await;
        assert!(
            location.starts_with(&client.redirect_uri),
            "{case}: {location}"
        );
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some("invalid_request"),
            "{case}: {location}"
        );
    }
}

/// `prompt=none` with `hint` in the app's browser: where it is sent.
async fn silent_authorize_with_hint(app: &TestApp, client: &TestClient, hint: &str) -> String {
    let url = format!(
        "{}&prompt=none&id_token_hint={}",
        app.relying_party(client).await.authorize_url(&[]).url,
        url::form_urlencoded::byte_serialize(hint.as_bytes()).collect::<String>()
    );
    let (_, location, _) = app.browse(&url).await;
    location.unwrap_or_default()
}

#[tokio::test]
async fn the_admin_api_and_the_command_line_register_the_assertion_policy() {
    let app = TestApp::spawn_with_admin(|_| {}).await;
    let admin = async |body: Value| {
        app.admin(reqwest::Method::POST, "/admin/clients", Some(&body))
            .await
    };
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let jwks: Value = serde_json::from_str(&jwks_of(&[&key])).unwrap();
    let (status, created) = admin(json!({
        "client_name": "Bảo hiểm", "grant_types": ["client_credentials"],
        "scope": "insurance.read", "jwks": jwks,
        "token_endpoint_auth_signing_alg": "ES256",
    }))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(created["token_endpoint_auth_signing_alg"], "ES256");
    assert_eq!(
        created["assertion_audience"], "issuer",
        "the default of new clients"
    );

    for (body, case) in [
        (
            json!({ "client_name": "x", "grant_types": ["client_credentials"], "scope": "a.read",
                    "jwks": jwks, "token_endpoint_auth_signing_alg": "HS256" }),
            "a symmetric algorithm",
        ),
        (
            json!({ "client_name": "x", "grant_types": ["client_credentials"], "scope": "a.read",
                    "token_endpoint_auth_signing_alg": "ES256" }),
            "an algorithm for a client with a secret",
        ),
        (
            json!({ "client_name": "x", "grant_types": ["client_credentials"], "scope": "a.read",
                    "token_endpoint_auth_method": "private_key_jwt" }),
            "private_key_jwt without keys",
        ),
        (
            json!({ "client_name": "x", "grant_types": ["client_credentials"], "scope": "a.read",
                    "jwks": jwks, "token_endpoint_auth_method": "client_secret_post" }),
            "a secret method for a client with keys",
        ),
        (
            json!({ "client_name": "x", "grant_types": ["client_credentials"], "scope": "a.read",
                    "assertion_audience": "anything" }),
            "an unknown audience policy",
        ),
    ] {
        let (status, body) = admin(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(body["error"], "invalid_client_metadata", "{case}");
    }

    // The command line: a portal moved to client_secret_post, as docs/OPERATIONS.md says.
    let portal = app.confidential_client();
    let output = app
        .cli(
            &[
                "clients",
                "update",
                &portal.id,
                "--token-endpoint-auth-method",
                "client_secret_post",
                "--assertion-audience",
                "oidc",
            ],
            None,
        )
        .await;
    assert_succeeded(&output);
    let shown = app.cli(&["clients", "show", &portal.id], None).await;
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("token_endpoint_auth_method: client_secret_post"),
        "{shown}"
    );
    assert!(shown.contains("assertion_audience: oidc"), "{shown}");
    let refused = app
        .cli(
            &[
                "clients",
                "update",
                &portal.id,
                "--token-endpoint-auth-signing-alg",
                "ES256",
            ],
            None,
        )
        .await;
    assert!(
        !refused.status.success(),
        "an algorithm for a client with a secret"
    );
}

#[tokio::test]
async fn a_client_stored_before_the_migration_keeps_the_oidc_audience() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    // A row as the clients table held it before the migration: no assertion columns.
    app.db
        .run_blocking(|conn| {
            diesel::sql_query(
                "INSERT INTO clients (client_id, name, kind, redirect_uris, scopes, \
                 id_token_alg, auth_method, created_at) VALUES ('legacy-app', 'Legacy', \
                 'public', '[\"http://127.0.0.1/cb\"]', 'openid', 'RS256', 'none', \
                 '2026-01-01 00:00:00')",
            )
            .execute(conn)
            .map_err(citizen_idp::storage::StorageError::from)
        })
        .unwrap();
    let shown = app.cli(&["clients", "show", "legacy-app"], None).await;
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("assertion_audience: oidc"), "{shown}");
    assert!(
        shown.contains("token_endpoint_auth_signing_alg: \n"),
        "{shown}"
    );
    // A client registered now gets the issuer alone.
    let portal = app.confidential_client();
    let shown = app.cli(&["clients", "show", &portal.id], None).await;
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("assertion_audience: issuer"), "{shown}");
}
