use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Fetch, TestApp};

#[tokio::test]
async fn discovery_document_lists_exactly_what_is_supported() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], app.issuer);
    assert_eq!(doc["authorization_endpoint"], app.url("/authorize"));
    assert_eq!(doc["token_endpoint"], app.url("/token"));
    assert_eq!(doc["jwks_uri"], app.url("/jwks.json"));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none"
        ])
    );
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["pairwise", "public"])
    );
    assert_eq!(doc["end_session_endpoint"], app.url("/logout"));
    // The openidconnect crate must be able to use it as it is.
    let metadata = app.discover().await;
    assert_eq!(metadata.issuer().as_str(), app.issuer);
}

#[tokio::test]
async fn jwks_publishes_only_public_keys_with_a_kid_each() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/jwks.json")).fetch().await;
    assert_eq!(response.status(), StatusCode::OK);
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cache.contains("max-age"),
        "JWKS should be cacheable: {cache}"
    );
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert!(
        algs.contains(&"RS256") && algs.contains(&"ES256"),
        "{algs:?}"
    );
    for key in keys {
        assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                key.get(private).is_none(),
                "private member {private} published"
            );
        }
    }
}

#[tokio::test]
async fn every_response_carries_strict_security_headers() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/authorize")).fetch().await;
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn unknown_paths_get_an_html_not_found_page() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/no/such/page")).fetch().await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}
