//! NUL and other control characters in every parameter of `/authorize`, `/logout` and
//! the admin API: always the documented 4xx (or, at `/authorize` once the client and
//! its redirect URI are trusted, the redirect with `error`), never a 5xx. PostgreSQL
//! refuses a NUL in text, so on PostgreSQL a NUL that reached a query was a 500.

use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, Fetch, PASSWORD, TestApp, TestClient};
use citizen_idp::registration::NewClient;

/// NUL, the first and last C0 controls after it, and DEL.
const CONTROLS: [char; 4] = ['\0', '\x01', '\x1f', '\x7f'];

const RETURN_URI: &str = "https://portal.example.gov.vn/logged-out";
/// A valid S256 challenge (RFC 7636 Appendix B).
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGEJLK3vwI";

/// `value` with `control` inside it: in front, in the middle and at the end, so that a
/// check that looks at one place only is caught.
fn spoiled(value: &str, control: char) -> Vec<String> {
    let middle = value.len() / 2;
    let middle = (0..=middle)
        .rev()
        .find(|i| value.is_char_boundary(*i))
        .unwrap_or(0);
    vec![
        format!("{control}{value}"),
        format!("{}{control}{}", &value[..middle], &value[middle..]),
        format!("{value}{control}"),
    ]
}

/// The request with `name` set to `value` (replaced if present, added if not).
fn with(base: &[(&str, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = base
        .iter()
        .filter(|(k, _)| *k != name)
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    pairs.push((name.to_owned(), value.to_owned()));
    pairs
}

async fn send_both_ways(
    app: &TestApp,
    path: &str,
    pairs: &[(String, String)],
) -> Vec<(&'static str, reqwest::Response)> {
    let get = app.browser.get(app.url(path)).query(pairs).fetch().await;
    let post = app.browser.post(app.url(path)).form(pairs).fetch().await;
    vec![("GET", get), ("POST", post)]
}

fn location(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
}

/// Every parameter of an authorization request the server reads (and `login_hint`,
/// which it ignores), each with a valid value to spoil.
fn authorization_parameters(client: &TestClient) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", client.id.clone()),
        ("redirect_uri", client.redirect_uri.clone()),
        ("scope", "openid profile".into()),
        ("state", "af0ifjsldkj".into()),
        ("nonce", "n-0S6_WzA2Mj".into()),
        ("code_challenge", CHALLENGE.into()),
        ("prompt", "login".into()),
        ("max_age", "600".into()),
        ("ui_locales", "vi en".into()),
        ("acr_values", "urn:citizen-idp:loa:1".into()),
        (
            "claims",
            r#"{"id_token":{"acr":{"essential":true}}}"#.into(),
        ),
        ("login_hint", "001090000001".into()),
        ("id_token_hint", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln".into()),
    ]
}

async fn assert_authorize_refuses_control_characters(app: &TestApp, client: &TestClient) {
    let base = vec![
        ("client_id", client.id.clone()),
        ("redirect_uri", client.redirect_uri.clone()),
        ("response_type", "code".to_owned()),
        ("scope", "openid profile".to_owned()),
        ("state", "af0ifjsldkj".to_owned()),
        ("nonce", "n-0S6_WzA2Mj".to_owned()),
        ("code_challenge", CHALLENGE.to_owned()),
        ("code_challenge_method", "S256".to_owned()),
    ];
    // The base request itself is accepted: what follows fails because of the control
    // character alone.
    for (method, response) in
        send_both_ways(app, "/authorize", &with(&base, "scope", "openid")).await
    {
        assert_eq!(response.status(), StatusCode::FOUND, "{method}");
        let to = location(&response).unwrap();
        assert!(!to.contains("error="), "{method}: {to}");
    }
    for (name, valid) in authorization_parameters(client) {
        for control in CONTROLS {
            for value in spoiled(&valid, control) {
                let pairs = with(&base, name, &value);
                for (method, response) in send_both_ways(app, "/authorize", &pairs).await {
                    let status = response.status();
                    let what = format!("{method} /authorize {name}={value:?}");
                    assert!(!status.is_server_error(), "{what}: {status}");
                    if status.is_client_error() {
                        continue;
                    }
                    // Once the client and its redirect URI are trusted, the error goes back
                    // to the client (RFC 6749 §4.1.2.1); it must not start a login.
                    assert_eq!(status, StatusCode::FOUND, "{what}");
                    let to = location(&response).unwrap();
                    assert!(
                        to.starts_with(&client.redirect_uri) && to.contains("error="),
                        "{what}: {to}"
                    );
                    assert!(to.contains("error=invalid_request"), "{what}: {to}");
                }
            }
        }
    }
}

#[tokio::test]
async fn control_characters_in_any_authorization_parameter_are_refused_never_a_5xx() {
    let app = TestApp::spawn().await;
    let portal = app.confidential_client();
    let app_client = app.public_client();
    // Anonymous browser first, then one with a live session (the SSO path reads more).
    assert_authorize_refuses_control_characters(&app, &portal).await;
    assert_authorize_refuses_control_characters(&app, &app_client).await;
    let citizen = app.citizen();
    let start = app.relying_party(&portal).await.authorize_url(&["profile"]);
    let back = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    assert!(back.contains("code="), "{back}");
    assert_authorize_refuses_control_characters(&app, &portal).await;
}

#[tokio::test]
async fn control_characters_in_any_logout_parameter_are_refused_never_a_5xx() {
    let app = TestApp::spawn().await;
    let portal = app.register_client(NewClient {
        post_logout_redirect_uris: vec![RETURN_URI.into()],
        ..TestClient::portal()
    });
    let citizen = app.citizen();
    // A real ID token of this client, to spoil as a hint.
    let rp = app.relying_party(&portal).await;
    let start = rp.authorize_url(&["profile"]);
    let back = app.log_in(&start.url, &citizen.number, PASSWORD).await;
    let code = crate::helpers::query_param(&back, "code").unwrap();
    let tokens = rp.exchange(&app.http, &code, start.verifier).await.unwrap();
    let id_token = openidconnect::TokenResponse::id_token(&tokens)
        .unwrap()
        .to_string();
    let base = vec![
        ("client_id", portal.id.clone()),
        ("post_logout_redirect_uri", RETURN_URI.to_owned()),
        ("state", "af0ifjsldkj".to_owned()),
        ("ui_locales", "vi".to_owned()),
    ];
    let parameters = [
        ("id_token_hint", id_token),
        ("client_id", portal.id.clone()),
        ("post_logout_redirect_uri", RETURN_URI.to_owned()),
        ("state", "af0ifjsldkj".to_owned()),
        ("ui_locales", "vi".to_owned()),
    ];
    // The browser holds a session: a logout that went through would end it, and the
    // next spoiled request would take the path of a browser without one. Both paths
    // are tried: with the session (confirmation page) and, at the end, without.
    for (name, valid) in &parameters {
        for control in CONTROLS {
            for value in spoiled(valid, control) {
                let pairs = with(&base, name, &value);
                for (method, response) in send_both_ways(&app, "/logout", &pairs).await {
                    let status = response.status();
                    let what = format!("{method} /logout {name}={value:?}");
                    assert!(status.is_client_error(), "{what}: {status}");
                }
            }
        }
    }
    let (status, _, _) = app.browse(&app.url("/account")).await;
    assert_eq!(status, StatusCode::OK, "the session is still there");

    let anonymous = crate::helpers::http_client(true);
    for (name, valid) in &parameters {
        for control in CONTROLS {
            for value in spoiled(valid, control) {
                let pairs = with(&base, name, &value);
                let response = anonymous
                    .get(app.url("/logout"))
                    .query(&pairs)
                    .fetch()
                    .await;
                let status = response.status();
                assert!(
                    status.is_client_error(),
                    "anonymous /logout {name}={value:?}: {status}"
                );
            }
        }
    }
}

/// Client metadata with every field the admin API reads set to a valid value.
fn full_metadata() -> Value {
    json!({
        "client_id": "tax-portal",
        "client_name": "Cổng thuế",
        "kind": "confidential",
        "redirect_uris": ["https://thue.example.gov.vn/cb"],
        "post_logout_redirect_uris": ["https://thue.example.gov.vn/bye"],
        "backchannel_logout_uri": "https://thue.example.gov.vn/backchannel",
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile",
        "id_token_signed_response_alg": "RS256",
        "access_token_ttl_secs": 300,
        "subject_type": "pairwise",
        "sector_identifier": "thue.example.gov.vn",
        "first_party": false,
    })
}

/// Every string in `value` (and every member name), each spoiled with `control` in
/// turn: the JSON path and the spoiled document.
fn spoiled_documents(value: &Value, control: char) -> Vec<(String, Value)> {
    fn walk(value: &Value, path: String, control: char, out: &mut Vec<(String, Value)>) {
        match value {
            Value::String(s) => {
                for spoiled in spoiled(s, control) {
                    out.push((path.clone(), Value::String(spoiled)));
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let mut inner = Vec::new();
                    walk(item, format!("{path}[{i}]"), control, &mut inner);
                    for (p, replaced) in inner {
                        let mut items = items.clone();
                        items[i] = replaced;
                        out.push((p, Value::Array(items)));
                    }
                }
            }
            Value::Object(members) => {
                for (name, member) in members {
                    let mut inner = Vec::new();
                    walk(member, format!("{path}.{name}"), control, &mut inner);
                    for (p, replaced) in inner {
                        let mut members = members.clone();
                        members.insert(name.clone(), replaced);
                        out.push((p, Value::Object(members)));
                    }
                    // The member's name itself.
                    let mut members = members.clone();
                    let moved = members.remove(name).unwrap();
                    members.insert(format!("{name}{control}"), moved);
                    out.push((format!("{path}.{name} (name)"), Value::Object(members)));
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, "$".into(), control, &mut out);
    out
}

#[tokio::test]
async fn control_characters_anywhere_in_the_admin_api_are_refused_never_a_5xx() {
    let app = TestApp::spawn_with_admin(|_| {}).await;
    let existing = app.confidential_client();
    let citizen = app.citizen();
    let metadata = full_metadata();
    // The document is valid as it is (under another id: a spoiled one that were
    // accepted must be a 201, not a 409), for both creation and replacement.
    let mut valid = metadata.clone();
    valid["client_id"] = json!("tax-portal-2");
    let (status, body) = app
        .admin(Method::POST, "/admin/clients", Some(&valid))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut replacement = metadata.clone();
    replacement["client_id"] = json!(existing.id);
    replacement.as_object_mut().unwrap().remove("kind");
    replacement["client_name"] = json!("Cổng dịch vụ công thử nghiệm");
    let path = format!("/admin/clients/{}", existing.id);
    let (status, body) = app.admin(Method::PUT, &path, Some(&replacement)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let level = json!({"level": 2, "officer": "officer-17", "reason": "ID card checked"});

    for control in CONTROLS {
        // Path segments: the client id and the personal identification number.
        for id in spoiled(&existing.id, control) {
            let id = url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>();
            let id = id.replace('+', "%20");
            for (method, path, body) in [
                (Method::GET, format!("/admin/clients/{id}"), None),
                (
                    Method::PUT,
                    format!("/admin/clients/{id}"),
                    Some(&replacement),
                ),
                (Method::DELETE, format!("/admin/clients/{id}"), None),
                (Method::POST, format!("/admin/clients/{id}/secret"), None),
            ] {
                let (status, body) = app.admin(method.clone(), &path, body).await;
                assert!(status.is_client_error(), "{method} {path}: {status} {body}");
            }
        }
        for number in spoiled(&citizen.number, control) {
            let number = url::form_urlencoded::byte_serialize(number.as_bytes())
                .collect::<String>()
                .replace('+', "%20");
            let path = format!("/admin/accounts/{number}/level");
            let (status, body) = app.admin(Method::POST, &path, Some(&level)).await;
            assert!(status.is_client_error(), "POST {path}: {status} {body}");
        }
        // Bodies: every string and every member name, JSON-escaped (a raw control
        // character is not JSON at all).
        for (field, document) in spoiled_documents(&metadata, control) {
            let (status, body) = app
                .admin(Method::POST, "/admin/clients", Some(&document))
                .await;
            assert!(
                status.is_client_error(),
                "POST /admin/clients {field} with {control:?}: {status} {body}"
            );
        }
        for (field, document) in spoiled_documents(&replacement, control) {
            let path = format!("/admin/clients/{}", existing.id);
            let (status, body) = app.admin(Method::PUT, &path, Some(&document)).await;
            assert!(
                status.is_client_error(),
                "PUT {path} {field} with {control:?}: {status} {body}"
            );
        }
        for (field, document) in spoiled_documents(&level, control) {
            let path = format!("/admin/accounts/{}/level", citizen.number);
            let (status, body) = app.admin(Method::POST, &path, Some(&document)).await;
            assert!(
                status.is_client_error(),
                "POST {path} {field} with {control:?}: {status} {body}"
            );
        }
        // A raw control character in the body is malformed JSON.
        let raw = format!(r#"{{"client_name": "a{control}b", "redirect_uris": []}}"#);
        let response = app
            .http
            .post(app.url("/admin/clients"))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(raw)
            .fetch()
            .await;
        assert!(response.status().is_client_error(), "raw {control:?}");
    }
    // Nothing spoiled was stored: the two clients are as they were.
    let (status, list) = app.admin(Method::GET, "/admin/clients", None).await;
    assert_eq!(status, StatusCode::OK);
    let listed = list["clients"].to_string();
    for control in CONTROLS {
        let escaped = serde_json::to_string(&control.to_string()).unwrap();
        let escaped = escaped.trim_matches('"');
        assert!(!listed.contains(escaped), "{control:?} stored: {listed}");
    }
    let (_, shown) = app
        .admin(
            Method::GET,
            &format!("/admin/clients/{}", existing.id),
            None,
        )
        .await;
    assert_eq!(shown["client_name"], "Cổng dịch vụ công thử nghiệm");
}
