//! Client administration: the admin API (bearer-token protected, with an OpenAPI
//! document that matches what is served) and the `clients` commands.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_TOKEN, ClientAuth, Fetch, TestApp, assert_oauth_error, assert_succeeded, token_request_as,
};

async fn admin_app() -> TestApp {
    TestApp::spawn_with_admin(|_| {}).await
}

async fn client_credentials_token(app: &TestApp, id: &str, secret: &str) -> (StatusCode, Value) {
    let form = [("grant_type", "client_credentials")];
    token_request_as(app, ClientAuth::Basic(id, secret), &form).await
}

#[tokio::test]
async fn the_admin_api_is_absent_without_a_token_and_refuses_a_wrong_one() {
    // Without the bootstrap token only officers' personal tokens open it: the shared
    // token of the tests is refused.
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(app.url("/admin/clients"))
        .bearer_auth(ADMIN_TOKEN)
        .fetch()
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // With officers' tokens turned off too, it is absent.
    let app = TestApp::spawn_with(|s| s.admin.officer_tokens = false).await;
    let response = app
        .http
        .get(app.url("/admin/clients"))
        .bearer_auth(ADMIN_TOKEN)
        .fetch()
        .await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "no token of either kind: the API is off"
    );

    let app = admin_app().await;
    for auth in [
        None,
        Some("wrong-token"),
        Some(&ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1]),
    ] {
        let mut request = app.http.get(app.url("/admin/clients"));
        if let Some(token) = auth {
            request = request.bearer_auth(token);
        }
        let response = request.fetch().await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(response.headers().contains_key("www-authenticate"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token");
    }
}

#[tokio::test]
async fn an_operator_manages_a_client_through_its_whole_life() {
    let app = admin_app().await;
    let (status, created) = app
        .admin(
            Method::POST,
            "/admin/clients",
            Some(&json!({
                "client_id": "registry-sync",
                "client_name": "Đồng bộ hộ tịch",
                "grant_types": ["client_credentials"],
                "scope": "civil.read"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let (status, token) = client_credentials_token(&app, "registry-sync", &secret).await;
    assert_eq!(
        (status, token["scope"].as_str()),
        (StatusCode::OK, Some("civil.read"))
    );

    assert_oauth_error(
        &app.admin(
            Method::POST,
            "/admin/clients",
            Some(&json!({
                "client_id": "registry-sync",
                "client_name": "Twice",
                "redirect_uris": ["https://twice.gov.vn/cb"]
            })),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );

    let (status, replaced) = app
        .admin(
            Method::PUT,
            "/admin/clients/registry-sync",
            Some(&json!({
                "client_name": "Đồng bộ hộ tịch",
                "grant_types": ["client_credentials"],
                "scope": "civil.read civil.events"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert!(replaced.get("client_secret").is_none(), "the secret stays");
    let (_, token) = client_credentials_token(&app, "registry-sync", &secret).await;
    assert_eq!(token["scope"], "civil.events civil.read");

    let (status, shown) = app
        .admin(Method::GET, "/admin/clients/registry-sync", None)
        .await;
    assert_eq!(
        (status, shown["scope"].as_str()),
        (StatusCode::OK, Some("civil.events civil.read"))
    );
    let (_, listed) = app.admin(Method::GET, "/admin/clients", None).await;
    assert!(
        listed["clients"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == "registry-sync")
    );

    let (status, rotated) = app
        .admin(Method::POST, "/admin/clients/registry-sync/secret", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_eq!(
        client_credentials_token(&app, "registry-sync", &secret)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        client_credentials_token(&app, "registry-sync", new_secret)
            .await
            .0,
        StatusCode::OK
    );

    let (status, _) = app
        .admin(Method::DELETE, "/admin/clients/registry-sync", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        client_credentials_token(&app, "registry-sync", new_secret)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_oauth_error(
        &app.admin(Method::GET, "/admin/clients/registry-sync", None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn bad_client_metadata_gets_a_reason_and_changes_nothing() {
    let app = admin_app().await;
    let cases = [
        json!({ "client_name": "Portal", "redirect_uris": ["http://portal.gov.vn/cb"] }),
        json!({ "client_name": "Portal", "redirect_uris": ["https://portal.gov.vn/cb#frag"] }),
        json!({ "client_name": "Portal", "redirect_uris": ["https://a.gov.vn/cb"], "grant_types": ["password"] }),
        json!({ "client_name": "Portal", "redirect_uris": ["https://a.gov.vn/cb"], "jwks": { "keys": [{ "kty": "oct", "k": "c2VjcmV0" }] } }),
        // An Ed25519 public key labelled with a curve it is not on.
        json!({ "client_name": "Portal", "redirect_uris": ["https://a.gov.vn/cb"], "jwks": { "keys": [{ "kty": "OKP", "crv": "P-256", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }] } }),
        json!({ "client_name": "App", "kind": "public", "grant_types": ["client_credentials"], "scope": "x.read" }),
        json!({ "client_name": "" , "redirect_uris": ["https://a.gov.vn/cb"] }),
    ];
    for body in cases {
        let (status, answer) = app.admin(Method::POST, "/admin/clients", Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"], "invalid_client_metadata", "{body}");
        assert!(
            answer["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    for body in [
        json!({ "client_name": "X", "unknown_field": 1 }),
        json!([1, 2]),
    ] {
        let (status, answer) = app.admin(Method::POST, "/admin/clients", Some(&body)).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{body}"
        );
    }
    let garbage = app
        .http
        .post(app.url("/admin/clients"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .fetch()
        .await;
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    let (_, listed) = app.admin(Method::GET, "/admin/clients", None).await;
    assert_eq!(listed["clients"], json!([]), "nothing was created");
}

/// Every operation the OpenAPI document describes is served, and answers with one of
/// the statuses it documents.
#[tokio::test]
async fn the_openapi_document_describes_what_is_served() {
    let app = admin_app().await;
    let document: Value = app.get_json("/admin/openapi.json").await;
    assert_eq!(document["openapi"], "3.1.0");
    let (status, _) = app.admin(Method::POST,
        "/admin/clients",
        Some(&json!({ "client_id": "doc-check", "client_name": "Doc", "redirect_uris": ["https://doc.gov.vn/cb"] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let paths = document["paths"].as_object().unwrap();
    let mut operations = 0;
    // DELETE last, so that the other operations find the client.
    for wanted in ["get", "post", "put", "delete"] {
        // The document describes every JSON endpoint; these are the admin API's.
        for (path, item) in paths
            .iter()
            .filter(|(p, _)| p.starts_with("/admin/clients"))
        {
            let Some(operation) = item.get(wanted) else {
                continue;
            };
            operations += 1;
            let url = path.replace("{client_id}", "doc-check");
            let body = match wanted {
                "post" if !url.ends_with("/secret") => Some(
                    json!({ "client_name": "Doc 2", "redirect_uris": ["https://doc.gov.vn/cb"] }),
                ),
                "put" => Some(
                    json!({ "client_name": "Doc", "redirect_uris": ["https://doc.gov.vn/cb"] }),
                ),
                _ => None,
            };
            let method = Method::from_bytes(wanted.to_uppercase().as_bytes()).unwrap();
            let (status, _) = app.admin(method, &url, body.as_ref()).await;
            let documented = operation["responses"].as_object().unwrap();
            assert!(
                documented.contains_key(status.as_str()),
                "{wanted} {path} answered {status}, documented: {:?}",
                documented.keys().collect::<Vec<_>>()
            );
        }
    }
    assert_eq!(operations, 8);
}

#[tokio::test]
async fn the_clients_commands_update_show_rotate_and_delete() {
    let app = TestApp::spawn().await;
    let created = app
        .cli(
            &[
                "clients",
                "create",
                "--confidential",
                "--id",
                "tax-portal",
                "--name",
                "Thuế",
                "--redirect-uri",
                "https://thue.gov.vn/cb",
            ],
            None,
        )
        .await;
    assert_succeeded(&created);
    let updated = app
        .cli(
            &[
                "clients",
                "update",
                "tax-portal",
                "--post-logout-redirect-uri",
                "https://thue.gov.vn/bye",
                "--backchannel-logout-uri",
                "https://thue.gov.vn/backchannel",
                "--subject-type",
                "public",
            ],
            None,
        )
        .await;
    assert_succeeded(&updated);
    let shown = app.cli(&["clients", "show", "tax-portal"], None).await;
    let shown = String::from_utf8_lossy(&shown.stdout).to_string();
    for line in [
        "post_logout_redirect_uris: https://thue.gov.vn/bye",
        "backchannel_logout_uri: https://thue.gov.vn/backchannel",
        "subject_type: public",
        "redirect_uris: https://thue.gov.vn/cb",
        "name: Thuế",
    ] {
        assert!(shown.contains(line), "{line} in\n{shown}");
    }
    let bad = app
        .cli(
            &[
                "clients",
                "update",
                "tax-portal",
                "--redirect-uri",
                "http://thue.gov.vn/cb",
            ],
            None,
        )
        .await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("redirect URI"));

    let rotated = app
        .cli(&["clients", "rotate-secret", "tax-portal"], None)
        .await;
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("client_secret: "));
    let deleted = app.cli(&["clients", "delete", "tax-portal"], None).await;
    assert_succeeded(&deleted);
    let missing = app.cli(&["clients", "show", "tax-portal"], None).await;
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no client"));
}

/// Each instance caches client registrations for a few seconds
/// (`protocol::clients::TTL`). A change through its own admin API is seen at once (see
/// the test above); one made elsewhere, here by the CLI in another process, once the
/// cached entry is older than that.
#[tokio::test]
async fn a_client_changed_from_the_command_line_is_seen_over_http_after_the_cache_ttl() {
    let app = admin_app().await;
    let (status, created) = app
        .admin(
            Method::POST,
            "/admin/clients",
            Some(&json!({
                "client_id": "cached-sync",
                "client_name": "Cached",
                "grant_types": ["client_credentials"],
                "scope": "civil.read"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let old_secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(
        client_credentials_token(&app, "cached-sync", &old_secret)
            .await
            .0,
        StatusCode::OK,
        "now cached"
    );

    let rotated = app
        .cli(&["clients", "rotate-secret", "cached-sync"], None)
        .await;
    assert_succeeded(&rotated);
    let new_secret = String::from_utf8_lossy(&rotated.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: ").map(str::to_owned))
        .unwrap();
    let updated = app
        .cli(
            &[
                "clients",
                "update",
                "cached-sync",
                "--scope",
                "civil.events",
            ],
            None,
        )
        .await;
    assert_succeeded(&updated);

    app.advance_clock(citizen_idp::protocol::clients::TTL);
    assert_eq!(
        client_credentials_token(&app, "cached-sync", &old_secret)
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "the old secret is refused once the entry is stale"
    );
    let (status, token) = client_credentials_token(&app, "cached-sync", &new_secret).await;
    assert_eq!(
        (status, token["scope"].as_str()),
        (StatusCode::OK, Some("civil.events")),
        "{token}"
    );

    let deleted = app.cli(&["clients", "delete", "cached-sync"], None).await;
    assert_succeeded(&deleted);
    app.advance_clock(citizen_idp::protocol::clients::TTL);
    assert_eq!(
        client_credentials_token(&app, "cached-sync", &new_secret)
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "a deleted client is gone once the entry is stale"
    );
}
