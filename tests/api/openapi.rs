//! The OpenAPI document (src/http/openapi.json): it lists exactly the JSON routes the
//! server serves, every reference in it resolves, and every documented operation,
//! called over HTTP with valid and invalid requests, answers with a documented status,
//! content type, headers and body.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use citizen_idp::clock::Clock;
use citizen_idp::registration::NewClient;
use citizen_idp::tokens::jwt;
use citizen_idp::tokens::keys::{SigningAlg, SigningKey};
use reqwest::header::{CONTENT_TYPE, ETAG, HeaderMap};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_TOKEN, Fetch, PASSWORD, TestApp, TestClient, assert_succeeded, query_param,
};

const SOURCE: &str = include_str!("../../src/http/openapi.json");

/// The routes that answer HTML pages or redirects to browsers, and
/// the Prometheus text of `/metrics`; every other route answers JSON and must be
/// documented.
const NOT_JSON: &[&str] = &[
    "/metrics",
    "/",
    "/authorize",
    "/login",
    "/enrol",
    "/logout",
    "/logout/confirm",
    "/demo",
    "/demo/login",
    "/demo/callback",
    "/static/style.css",
    "/static/passkey.js",
    "/static/form_post.js",
    "/consent",
    "/account",
    "/account/sessions/end",
    "/account/services/withdraw",
    "/account/password",
    "/login/second-factor",
    "/account/factors",
    "/account/factors/totp",
    "/account/factors/remove",
    "/account/factors/passkey",
    "/account/factors/recovery-codes",
    "/account/contacts",
    "/account/contacts/verify",
    "/recover",
    "/recover/reset",
    "/officer",
    "/officer/citizen",
    "/officer/citizen/act",
    "/officer/audit",
    "/officer/clients",
    "/officer/tokens",
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn document() -> Value {
    serde_json::from_str(SOURCE).expect("src/http/openapi.json is JSON")
}

/// (method, path) of each `.route("path", web::method()...)` in src/: the `routes` of
/// each edge module, those of the demo (registered when the demo is on), and those
/// `startup::routes` adds.
fn served_routes() -> BTreeSet<(String, String)> {
    fn sources(dir: &Path, texts: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, texts);
            } else if path.extension().is_some_and(|e| e == "rs") {
                texts.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut texts = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut texts,
    );
    // Comments may mention `.route(` without registering anything.
    let code: String = texts
        .iter()
        .flat_map(|text| text.lines())
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| format!("{line}\n"))
        .collect();
    code.split(".route(")
        .skip(1)
        .map(|call| {
            let path = call.split('"').nth(1).expect("a path literal");
            let method = call
                .split("web::")
                .nth(1)
                .and_then(|m| m.split("()").next())
                .expect("web::<method>()");
            (method.to_owned(), path.to_owned())
        })
        .collect()
}

fn documented_operations(document: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                operations.insert((method.to_owned(), path.clone()));
            }
        }
    }
    operations
}

#[test]
fn the_document_lists_exactly_the_json_routes_of_the_server() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    let served = served_routes();
    let pages: BTreeSet<&str> = served
        .iter()
        .map(|(_, path)| path.as_str())
        .filter(|path| NOT_JSON.contains(path))
        .collect();
    assert_eq!(
        pages.len(),
        NOT_JSON.len(),
        "a page route listed here is no longer served: {pages:?}"
    );
    let json_routes: BTreeSet<(String, String)> = served
        .into_iter()
        .filter(|(_, path)| !NOT_JSON.contains(&path.as_str()))
        .collect();
    let documented = documented_operations(&document);
    let undocumented: Vec<_> = json_routes.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&json_routes).collect();
    assert!(
        undocumented.is_empty() && not_served.is_empty(),
        "served but not in src/http/openapi.json: {undocumented:?}; documented but not served: {not_served:?}"
    );
}

/// Every `$ref` points into the document, and every schema compiles as JSON Schema
/// 2020-12 (the dialect of OpenAPI 3.1).
#[test]
fn every_reference_resolves_and_every_schema_compiles() {
    fn walk<'a>(value: &'a Value, refs: &mut Vec<&'a str>) {
        match value {
            Value::Object(members) => {
                if let Some(Value::String(target)) = members.get("$ref") {
                    refs.push(target);
                }
                members.values().for_each(|v| walk(v, refs));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
            _ => {}
        }
    }
    let document = document();
    let mut refs = Vec::new();
    walk(&document, &mut refs);
    assert!(refs.len() > 50);
    for target in refs {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{target} is not local"));
        assert!(document.pointer(pointer).is_some(), "{target} resolves");
    }
    for (name, schema) in document["components"]["schemas"].as_object().unwrap() {
        Walker::validator(&document, schema).unwrap_or_else(|e| panic!("schema {name}: {e}"));
    }
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                assert!(
                    operation["operationId"].is_string(),
                    "{method} {path} has an operationId"
                );
                assert!(
                    operation["responses"]
                        .as_object()
                        .is_some_and(|r| !r.is_empty()),
                    "{method} {path} documents its responses"
                );
            }
        }
    }
}

/// What the walk saw of one operation.
#[derive(Default)]
struct Seen {
    accepted: bool,
    refused: bool,
}

/// Calls operations and checks each answer against the document.
struct Walker {
    app: TestApp,
    document: Value,
    seen: BTreeMap<(String, String), Seen>,
}

impl Walker {
    fn validator(document: &Value, schema: &Value) -> Result<jsonschema::Validator, String> {
        // The schema is checked with the document's components beside it, so that its
        // `#/components/...` references resolve.
        let mut root = match schema {
            Value::Object(_) => schema.clone(),
            other => json!({ "allOf": [other] }),
        };
        root["components"] = document["components"].clone();
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .map_err(|e| e.to_string())
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(target) => self.resolve(
                self.document
                    .pointer(target.trim_start_matches('#'))
                    .unwrap_or_else(|| panic!("{target} resolves")),
            ),
            None => value,
        }
    }

    fn validate(&self, schema: &Value, instance: &Value, context: &str) {
        let validator = Self::validator(&self.document, schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{context}: {instance} does not match the document: {errors:?}"
        );
    }

    /// Sends `request`, checks the answer against the operation `path` documents for
    /// the request's method, and returns the status and the JSON body (Null if none).
    async fn call(&mut self, path: &str, request: RequestBuilder) -> (StatusCode, Value) {
        let request = request.build().unwrap();
        let method = request.method().as_str().to_ascii_lowercase();
        let response = self.app.http.execute(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap();
        let context = format!("{} {path} answered {status}", method.to_uppercase());
        self.check(&method, path, status, &headers, &body, &context);
        let seen = self.seen.entry((method, path.to_owned())).or_default();
        if status.is_client_error() {
            seen.refused = true;
        } else {
            seen.accepted = true;
        }
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn check(
        &self,
        method: &str,
        path: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        context: &str,
    ) {
        let operation = &self.document["paths"][path][method];
        assert!(operation.is_object(), "{context}: not documented");
        let documented = &operation["responses"][status.as_str()];
        assert!(
            !documented.is_null(),
            "{context}, documented: {:?}; body: {}",
            operation["responses"].as_object().unwrap().keys(),
            String::from_utf8_lossy(body)
        );
        let response = self.resolve(documented);
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            let header = self.resolve(header);
            match headers.get(name.as_str()) {
                Some(value) => self.validate(
                    &header["schema"],
                    &json!(value.to_str().unwrap()),
                    &format!("{context}, header {name}"),
                ),
                None => assert!(header["required"] != true, "{context}: no {name} header"),
            }
        }
        let Some(content) = response["content"].as_object() else {
            assert!(
                body.is_empty(),
                "{context}: a body where none is documented"
            );
            return;
        };
        let media_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let media = content.get(&media_type).unwrap_or_else(|| {
            panic!(
                "{context} as {media_type:?}, documented: {:?}",
                content.keys()
            )
        });
        // A signed JWT (entity statements, resolve responses) is text: checked as a
        // JSON string against its schema.
        let body: Value = if media_type.ends_with("+jwt") {
            json!(String::from_utf8_lossy(body))
        } else {
            serde_json::from_slice(body)
                .unwrap_or_else(|e| panic!("{context}: the body is not JSON: {e}"))
        };
        self.validate(&media["schema"], &body, context);
    }

    /// Every operation was seen accepting a request, and every operation that takes
    /// input (a body or credentials) was seen refusing one.
    fn assert_everything_was_called(&self) {
        for (method, path) in documented_operations(&self.document) {
            let operation = &self.document["paths"][&path][&method];
            let takes_input = operation.get("requestBody").is_some()
                || operation["security"].as_array().is_some_and(|s| {
                    s.iter()
                        .any(|r| r.as_object().is_some_and(|r| !r.is_empty()))
                });
            let seen = self.seen.get(&(method.clone(), path.clone()));
            assert!(
                seen.is_some_and(|s| s.accepted),
                "{method} {path} was never called with a valid request"
            );
            assert!(
                !takes_input || seen.is_some_and(|s| s.refused),
                "{method} {path} was never called with an invalid request"
            );
        }
    }
}

/// The federation keys an entity configuration names.
async fn federation_keys(app: &TestApp) -> Value {
    let jwt = app
        .http
        .get(format!("{}/.well-known/openid-federation", app.issuer))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    claims["jwks"].clone()
}

fn key_client(app: &TestApp) -> (String, SigningKey) {
    let (key, _) = SigningKey::generate(SigningAlg::Es256).unwrap();
    let client = app.register_client(NewClient {
        name: "Hệ thống bảo hiểm".into(),
        redirect_uris: Vec::new(),
        grant_types: vec!["client_credentials".into()],
        scopes: "insurance.read".into(),
        jwks: Some(json!({ "keys": [key.public_jwk()] }).to_string()),
        ..NewClient::default()
    });
    (client.id, key)
}

/// Logs the citizen in at `client` and returns the code and the PKCE verifier.
async fn code_for(
    app: &TestApp,
    client: &TestClient,
    number: &str,
    scopes: &[&str],
) -> (String, String) {
    let rp = app.relying_party(client).await;
    let start = rp.authorize_url(scopes);
    let redirect = app.log_in(&start.url, number, PASSWORD).await;
    let code = query_param(&redirect, "code").expect("a code");
    (code, start.verifier.secret().clone())
}

#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    // A trust anchor that vouches for the server walked, so that its resolve endpoint
    // has a chain to resolve.
    let anchor = TestApp::spawn().await;
    let anchor_jwks = federation_keys(&anchor).await;
    let app = TestApp::spawn_with_admin(|settings| {
        settings.federation.authority_hints = vec![anchor.issuer.clone()];
        settings.federation.trust_anchors = vec![citizen_idp::config::TrustAnchorSettings {
            entity_id: anchor.issuer.clone(),
            jwks: anchor_jwks.to_string(),
        }];
    })
    .await;
    let allow_http = [("CITIZEN_IDP__OUTBOUND__ALLOW_PRIVATE_NETWORKS", "true")];
    let added = anchor
        .cli_with_env(
            &["federation", "subordinate", "add", &app.issuer],
            &allow_http,
        )
        .await;
    crate::helpers::assert_succeeded(&added);
    let jwks_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(jwks_file.path(), federation_keys(&app).await.to_string()).unwrap();
    let added = app
        .cli(
            &[
                "federation",
                "subordinate",
                "add",
                "https://portal.example.vn",
                "--jwks",
                jwks_file.path().to_str().unwrap(),
            ],
            None,
        )
        .await;
    crate::helpers::assert_succeeded(&added);
    let document: Value = app.get_json("/openapi.json").await;
    assert_eq!(
        document,
        self::document(),
        "the served document is the file"
    );
    let citizen = app.citizen();
    let back_office = app.register_client(NewClient {
        name: "Đồng bộ hộ tịch".into(),
        redirect_uris: Vec::new(),
        grant_types: vec!["client_credentials".into()],
        scopes: "civil.read".into(),
        ..NewClient::default()
    });
    // The same back office, registered to send its secret in the form.
    let post_office = app.register_client(NewClient {
        name: "Đồng bộ hộ tịch (form)".into(),
        redirect_uris: Vec::new(),
        grant_types: vec!["client_credentials".into()],
        scopes: "civil.read".into(),
        token_endpoint_auth_method: Some("client_secret_post".into()),
        ..NewClient::default()
    });
    let portal = {
        let mut registration = TestClient::portal();
        registration.scopes = "openid profile address national_id offline_access".into();
        app.register_client(registration)
    };
    let mobile = app.public_client();
    let (key_client_id, key) = key_client(&app);
    let mut w = Walker {
        app,
        document,
        seen: BTreeMap::new(),
    };
    let http = w.app.http.clone();
    let base = w.app.address.clone();
    let url = move |path: &str| format!("{base}{path}");
    let (bo_id, bo_secret) = (back_office.id.clone(), back_office.secret.clone().unwrap());
    let (po_id, po_secret) = (post_office.id.clone(), post_office.secret.clone().unwrap());
    let (portal_id, portal_secret) = (portal.id.clone(), portal.secret.clone().unwrap());

    // Discovery, keys, this document, health: no input, nothing to refuse.
    for path in [
        "/.well-known/openid-configuration",
        "/openapi.json",
        "/admin/openapi.json",
        "/healthz",
        "/readyz",
    ] {
        let (status, _) = w.call(path, http.get(url(path))).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    // The federation endpoints, with their refusals.
    let (status, _) = w
        .call(
            "/.well-known/openid-federation",
            http.get(url("/.well-known/openid-federation")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let fetch = |query: &str| http.get(url(&format!("/federation/fetch{query}")));
    let (status, _) = w
        .call("/federation/fetch", fetch("?sub=https://portal.example.vn"))
        .await;
    assert_eq!(status, StatusCode::OK);
    for (query, expected) in [
        ("", StatusCode::BAD_REQUEST),
        ("?sub=https://other.example.vn", StatusCode::NOT_FOUND),
        ("?sub=a&sub=b", StatusCode::BAD_REQUEST),
        ("?sub=a&foo=b", StatusCode::BAD_REQUEST),
    ] {
        let (status, _) = w.call("/federation/fetch", fetch(query)).await;
        assert_eq!(status, expected, "fetch{query}");
    }
    let (status, body) = w
        .call("/federation/list", http.get(url("/federation/list")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!(["https://portal.example.vn"]));
    let (status, _) = w
        .call(
            "/federation/list",
            http.get(url("/federation/list?entity_type=openid_provider")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let resolve = |sub: &str, trust_anchor: &str| {
        http.get(url("/federation/resolve"))
            .query(&[("sub", sub), ("trust_anchor", trust_anchor)])
    };
    let (issuer, anchor_id) = (w.app.issuer.clone(), anchor.issuer.clone());
    let (status, _) = w
        .call("/federation/resolve", resolve(&issuer, &anchor_id))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = w
        .call("/federation/resolve", resolve(&issuer, &issuer))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an anchor not trusted");
    let (status, _) = w
        .call(
            "/federation/resolve",
            resolve("https://portal.example.vn", &anchor_id),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no chain");
    let (status, _) = w
        .call("/federation/resolve", http.get(url("/federation/resolve")))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let jwks = http.get(url("/jwks.json")).fetch().await;
    let etag = jwks.headers()[ETAG].to_str().unwrap().to_owned();
    let (status, _) = w
        .call(
            "/jwks.json",
            http.get(url("/jwks.json")).header("if-none-match", &etag),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _) = w
        .call(
            "/jwks.json",
            http.get(url("/jwks.json"))
                .header("if-none-match", "\"stale\""),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The token endpoint: every grant and every client authentication method.
    let cc = [("grant_type", "client_credentials")];
    let (status, body) = w
        .call(
            "/token",
            http.post(url("/token"))
                .basic_auth(&bo_id, Some(&bo_secret))
                .form(&cc),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "client_secret_basic");
    let cc_token = body["access_token"].as_str().unwrap().to_owned();
    let (status, _) = w
        .call(
            "/token",
            http.post(url("/token")).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &po_id),
                ("client_secret", &po_secret),
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "client_secret_post");
    let now = w.app.clock.now().timestamp();
    let assertion = jwt::sign(
        &key,
        "JWT",
        &json!({
            "iss": key_client_id, "sub": key_client_id, "aud": w.app.issuer,
            "iat": now, "exp": now + 60, "jti": "openapi-walk-1",
        }),
    )
    .unwrap();
    let (status, _) = w
        .call(
            "/token",
            http.post(url("/token")).form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "private_key_jwt");

    let (code, verifier) = code_for(
        &w.app,
        &portal,
        &citizen.number,
        &["profile", "address", "national_id", "offline_access"],
    )
    .await;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", portal.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, tokens) = w
        .call(
            "/token",
            http.post(url("/token"))
                .basic_auth(&portal_id, Some(&portal_secret))
                .form(&exchange),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, refreshed) = w
        .call(
            "/token",
            http.post(url("/token"))
                .basic_auth(&portal_id, Some(&portal_secret))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh_token),
                ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let portal_token = refreshed["access_token"].as_str().unwrap().to_owned();
    let portal_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();

    let (code, verifier) = code_for(&w.app, &mobile, &citizen.number, &["profile"]).await;
    let (status, body) = w
        .call(
            "/token",
            http.post(url("/token")).form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &mobile.redirect_uri),
                ("code_verifier", &verifier),
                ("client_id", &mobile.id),
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "a public client with PKCE: {body}");
    let mobile_token = body["access_token"].as_str().unwrap().to_owned();

    // A replayed code (which also revokes what the first exchange gave).
    let (code, verifier) = code_for(&w.app, &portal, &citizen.number, &["profile"]).await;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", portal.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    for expected in [StatusCode::OK, StatusCode::BAD_REQUEST] {
        let (status, body) = w
            .call(
                "/token",
                http.post(url("/token"))
                    .basic_auth(&portal_id, Some(&portal_secret))
                    .form(&exchange),
            )
            .await;
        assert_eq!(status, expected, "{body}");
    }

    let refused: [(RequestBuilder, StatusCode, &str); 7] = [
        (
            http.post(url("/token"))
                .basic_auth(&bo_id, Some("wrong"))
                .form(&cc),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            http.post(url("/token")).form(&cc),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            http.post(url("/token"))
                .basic_auth(&bo_id, Some(&bo_secret))
                .form(&[("scope", "civil.read")]),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            http.post(url("/token"))
                .basic_auth(&bo_id, Some(&bo_secret))
                .form(&[("grant_type", "password")]),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            http.post(url("/token"))
                .basic_auth(&bo_id, Some(&bo_secret))
                .form(&[("grant_type", "client_credentials"), ("scope", "openid")]),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            http.post(url("/token")).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &mobile.id),
            ]),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
        ),
        (
            http.post(url("/token"))
                .basic_auth(&bo_id, Some(&bo_secret))
                .json(&json!({ "grant_type": "client_credentials" })),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (request, status, error) in refused {
        let (answered, body) = w.call("/token", request).await;
        assert_eq!((answered, body["error"].as_str()), (status, Some(error)));
    }

    // Introspection: the caller's own tokens are active, others' are not.
    for (token, active) in [
        (cc_token.as_str(), true),
        (portal_token.as_str(), false),
        ("not-a-token", false),
    ] {
        let (status, body) = w
            .call(
                "/introspect",
                http.post(url("/introspect"))
                    .basic_auth(&bo_id, Some(&bo_secret))
                    .form(&[("token", token)]),
            )
            .await;
        assert_eq!((status, &body["active"]), (StatusCode::OK, &json!(active)));
    }
    for token in [&portal_token, &portal_refresh] {
        let (status, body) = w
            .call(
                "/introspect",
                http.post(url("/introspect"))
                    .basic_auth(&portal_id, Some(&portal_secret))
                    .form(&[
                        ("token", token.as_str()),
                        ("token_type_hint", "refresh_token"),
                    ]),
            )
            .await;
        assert_eq!((status, &body["active"]), (StatusCode::OK, &json!(true)));
    }
    let (status, _) = w
        .call(
            "/introspect",
            http.post(url("/introspect"))
                .basic_auth(&bo_id, Some(&bo_secret))
                .form(&[("token_type_hint", "access_token")]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = w
        .call(
            "/introspect",
            http.post(url("/introspect"))
                .form(&[("token", cc_token.as_str()), ("client_id", &mobile.id)]),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a public client");

    // Userinfo: a citizen's token; refusals carry a Bearer challenge.
    let (status, claims) = w
        .call(
            "/userinfo",
            http.get(url("/userinfo")).bearer_auth(&portal_token),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(claims["national_id"].is_string() && claims["address"].is_object());
    for request in [
        http.get(url("/userinfo")),
        http.get(url("/userinfo")).bearer_auth(&cc_token),
        http.get(url("/userinfo")).bearer_auth("garbage"),
        http.get(url("/userinfo")).basic_auth("a", Some("b")),
    ] {
        let (status, _) = w.call("/userinfo", request).await;
        assert!(status.is_client_error());
    }
    let (status, _) = w
        .call(
            "/userinfo",
            http.post(url("/userinfo"))
                .form(&[("access_token", &mobile_token)]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the token in the form body");
    let (status, _) = w
        .call(
            "/userinfo",
            http.post(url("/userinfo")).bearer_auth(&mobile_token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the token in the header");
    for request in [
        http.post(url("/userinfo"))
            .bearer_auth(&mobile_token)
            .form(&[("access_token", &mobile_token)]),
        http.post(url("/userinfo")),
    ] {
        let (status, _) = w.call("/userinfo", request).await;
        assert!(status.is_client_error());
    }

    // Pushed authorization requests: one stored, one refused as /authorize would
    // refuse it, one from a client that failed to authenticate.
    let pushed = [
        ("response_type", "code"),
        ("redirect_uri", "https://portal.example.gov.vn/callback"),
        ("scope", "openid profile"),
        ("state", "s"),
    ];
    let mut unregistered = pushed;
    unregistered[1].1 = "https://attacker.example/cb";
    for (request, expected) in [
        (
            http.post(url("/par"))
                .basic_auth(&portal_id, Some(&portal_secret))
                .form(&pushed),
            StatusCode::CREATED,
        ),
        (
            http.post(url("/par"))
                .basic_auth(&portal_id, Some(&portal_secret))
                .form(&unregistered),
            StatusCode::BAD_REQUEST,
        ),
        (
            http.post(url("/par"))
                .basic_auth(&portal_id, Some("wrong"))
                .form(&pushed),
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        assert_eq!(w.call("/par", request).await.0, expected);
    }

    // Revocation: the same answer for a live token, a refresh token and garbage.
    for token in [&portal_token, &portal_refresh, &"garbage".to_owned()] {
        let (status, _) = w
            .call(
                "/revoke",
                http.post(url("/revoke"))
                    .basic_auth(&portal_id, Some(&portal_secret))
                    .form(&[("token", token.as_str())]),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = w
        .call(
            "/userinfo",
            http.get(url("/userinfo")).bearer_auth(&portal_token),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked");
    for (request, expected) in [
        (
            http.post(url("/revoke"))
                .basic_auth(&portal_id, Some(&portal_secret))
                .form(&[("token_type_hint", "access_token")]),
            StatusCode::BAD_REQUEST,
        ),
        (
            http.post(url("/revoke"))
                .basic_auth(&portal_id, Some("wrong"))
                .form(&[("token", "x")]),
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        assert_eq!(w.call("/revoke", request).await.0, expected);
    }

    // The admin API.
    let admin = |request: RequestBuilder| request.bearer_auth(ADMIN_TOKEN);
    let one = "/admin/clients/{client_id}";
    let metadata = json!({ "client_id": "doc-check", "client_name": "Doc", "redirect_uris": ["https://doc.gov.vn/cb"] });
    let checks: Vec<(&str, RequestBuilder, StatusCode)> = vec![
        (
            "/admin/clients",
            admin(http.get(url("/admin/clients"))),
            StatusCode::OK,
        ),
        (
            "/admin/clients",
            http.get(url("/admin/clients")).bearer_auth("wrong"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "/admin/clients",
            admin(http.post(url("/admin/clients"))).json(&metadata),
            StatusCode::CREATED,
        ),
        (
            "/admin/clients",
            admin(http.post(url("/admin/clients"))).json(&metadata),
            StatusCode::CONFLICT,
        ),
        (
            "/admin/clients",
            admin(http.post(url("/admin/clients")))
                .json(&json!({ "client_name": "X", "redirect_uris": ["http://x.gov.vn/cb"] })),
            StatusCode::BAD_REQUEST,
        ),
        (
            one,
            admin(http.get(url("/admin/clients/doc-check"))),
            StatusCode::OK,
        ),
        (
            one,
            admin(http.get(url("/admin/clients/unknown"))),
            StatusCode::NOT_FOUND,
        ),
        (
            one,
            admin(http.put(url("/admin/clients/doc-check"))).json(
                &json!({ "client_name": "Doc 2", "redirect_uris": ["https://doc.gov.vn/cb"] }),
            ),
            StatusCode::OK,
        ),
        (
            one,
            admin(http.put(url("/admin/clients/doc-check")))
                .json(&json!({ "client_name": "Doc", "kind": "public" })),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/admin/clients/{client_id}/secret",
            admin(http.post(url("/admin/clients/doc-check/secret"))),
            StatusCode::OK,
        ),
        (
            "/admin/clients/{client_id}/secret",
            admin(http.post(url(&format!("/admin/clients/{}/secret", mobile.id)))),
            StatusCode::CONFLICT,
        ),
        (
            "/admin/clients/{client_id}/disable",
            admin(http.post(url("/admin/clients/doc-check/disable"))),
            StatusCode::OK,
        ),
        (
            "/admin/clients/{client_id}/disable",
            admin(http.post(url("/admin/clients/unknown/disable"))),
            StatusCode::NOT_FOUND,
        ),
        (
            "/admin/clients/{client_id}/disable",
            http.post(url("/admin/clients/doc-check/disable"))
                .bearer_auth("wrong"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "/admin/clients/{client_id}/enable",
            admin(http.post(url("/admin/clients/doc-check/enable"))),
            StatusCode::OK,
        ),
        (
            "/admin/clients/{client_id}/enable",
            http.post(url("/admin/clients/doc-check/enable")),
            StatusCode::UNAUTHORIZED,
        ),
        (
            one,
            admin(http.delete(url("/admin/clients/doc-check"))),
            StatusCode::NO_CONTENT,
        ),
        (
            one,
            admin(http.delete(url("/admin/clients/doc-check"))),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (path, request, expected) in checks {
        let (status, body) = w.call(path, request).await;
        assert_eq!(status, expected, "{path}: {body}");
    }

    // An account's assurance level (officers' tools).
    let number = w.app.citizen().number;
    let level = "/admin/accounts/{national_id}/level";
    let change = json!({ "level": 2, "officer": "cb-1", "reason": "checked in person" });
    let of = |number: &str| url(&format!("/admin/accounts/{number}/level"));
    for (request, expected) in [
        (admin(http.post(of(&number))).json(&change), StatusCode::OK),
        (
            admin(http.post(of("001099999999"))).json(&change),
            StatusCode::NOT_FOUND,
        ),
        (
            admin(http.post(of(&number))).json(&json!({ "level": 9 })),
            StatusCode::BAD_REQUEST,
        ),
        (
            http.post(of(&number)).bearer_auth("wrong").json(&change),
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        assert_eq!(w.call(level, request).await.0, expected);
    }
    let status = "/admin/accounts/{national_id}/status";
    let of = |number: &str| url(&format!("/admin/accounts/{number}/status"));
    let suspend = json!({ "action": "suspend", "officer": "cb-1", "reason": "court order" });
    let unlock = json!({ "action": "unlock", "officer": "cb-1", "reason": "identity checked" });
    for (request, expected) in [
        (admin(http.post(of(&number))).json(&suspend), StatusCode::OK),
        (
            admin(http.post(of(&number))).json(&unlock),
            StatusCode::CONFLICT,
        ),
        (
            admin(http.post(of("001099999999"))).json(&suspend),
            StatusCode::NOT_FOUND,
        ),
        (
            admin(http.post(of(&number))).json(&json!({ "action": "delete" })),
            StatusCode::BAD_REQUEST,
        ),
        (
            http.post(of(&number)).bearer_auth("wrong").json(&suspend),
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        assert_eq!(w.call(status, request).await.0, expected);
    }

    // Withdrawing a signing key, in the documented order: rotate at once, then withdraw.
    let es256 = |jwks: &Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["alg"] == "ES256")
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let old = es256(&w.app.get_json("/jwks.json").await).remove(0);
    let rotated = w
        .app
        .cli(&["keys", "rotate", "--alg", "ES256", "--now"], None)
        .await;
    assert_succeeded(&rotated);
    w.app.advance_clock(chrono::Duration::seconds(60));
    let revoke = "/admin/keys/{kid}/revoke";
    let of = |kid: &str| url(&format!("/admin/keys/{kid}/revoke"));
    for (request, expected) in [
        (
            http.post(of(&old)).bearer_auth("wrong"),
            StatusCode::UNAUTHORIZED,
        ),
        (admin(http.post(of(&old))), StatusCode::OK),
        (admin(http.post(of(&old))), StatusCode::NOT_FOUND),
    ] {
        assert_eq!(w.call(revoke, request).await.0, expected);
    }
    let new = es256(&w.app.get_json("/jwks.json").await).remove(0);
    assert_eq!(
        w.call(revoke, admin(http.post(of(&new)))).await.0,
        StatusCode::CONFLICT
    );

    w.assert_everything_was_called();
}

/// PostgreSQL refuses a NUL in text, so a lookup with one failed as a 500 (found by
/// probing the fuzzed endpoints on PostgreSQL): a NUL in a client id, a token or
/// client metadata is now refused as documented.
#[tokio::test]
async fn nul_characters_are_refused_as_documented_not_as_server_errors() {
    let app = TestApp::spawn_with_admin(|_| {}).await;
    let mut w = Walker {
        app,
        document: document(),
        seen: BTreeMap::new(),
    };
    let http = w.app.http.clone();
    let base = w.app.address.clone();
    let url = move |path: &str| format!("{base}{path}");
    let admin = |request: RequestBuilder| request.bearer_auth(ADMIN_TOKEN);
    let cc = [("grant_type", "client_credentials")];
    let cases: Vec<(&str, RequestBuilder, StatusCode)> = vec![
        (
            "/token",
            http.post(url("/token"))
                .form(&[("grant_type", "client_credentials"), ("client_id", "a\0b")]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/token",
            http.post(url("/token"))
                .basic_auth("a\0b", Some("s"))
                .form(&cc),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "/token",
            http.post(url("/token"))
                .basic_auth("a%00b", Some("s"))
                .form(&cc),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "/introspect",
            http.post(url("/introspect"))
                .basic_auth("a%00b", Some("s"))
                .form(&[("token", "t")]),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "/revoke",
            http.post(url("/revoke"))
                .form(&[("token", "t\0"), ("client_id", "c")]),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/admin/clients",
            admin(http.post(url("/admin/clients"))).json(
                &json!({ "client_name": "a\u{0}b", "redirect_uris": ["https://a.gov.vn/cb"] }),
            ),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (path, request, expected) in cases {
        let (status, body) = w.call(path, request).await;
        assert_eq!(status, expected, "{path}: {body}");
    }
    let one = "/admin/clients/{client_id}";
    for (path, request) in [
        (one, admin(http.get(url("/admin/clients/a%00b")))),
        (
            one,
            admin(http.put(url("/admin/clients/a%00b"))).json(&json!({ "client_name": "x" })),
        ),
        (one, admin(http.delete(url("/admin/clients/a%00b")))),
        (
            "/admin/clients/{client_id}/secret",
            admin(http.post(url("/admin/clients/a%00b/secret"))),
        ),
    ] {
        let (status, body) = w.call(path, request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
}
