//! The client's side of the OAuth endpoints (/token, /introspect, /revoke): one way to
//! call them as a client, and one way to check an OAuth error answer.

use reqwest::StatusCode;
use serde_json::Value;

use super::{Fetch, TestApp, TestClient};

/// How a call to /token, /introspect or /revoke names its client (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth<'a> {
    /// `client_secret_basic`: this id and secret in an Authorization header.
    Basic(&'a str, &'a str),
    /// A public client: its `client_id` added to the form (RFC 6749 §3.2.1).
    Public(&'a str),
    /// Nothing beyond what the form itself carries (`client_secret_post`, an
    /// assertion, or nothing at all).
    Form,
}

impl TestClient {
    /// How this client authenticates: Basic with its secret, or as a public client.
    pub fn auth(&self) -> ClientAuth<'_> {
        match &self.secret {
            Some(secret) => ClientAuth::Basic(&self.id, secret),
            None => ClientAuth::Public(&self.id),
        }
    }
}

/// POSTs `form` to `path` with `auth`: the whole answer, for a test of its headers.
pub async fn post_as(
    app: &TestApp,
    path: &str,
    auth: ClientAuth<'_>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app.http.post(app.url(path));
    let mut form = form.to_vec();
    match auth {
        ClientAuth::Basic(id, secret) => request = request.basic_auth(id, Some(secret)),
        ClientAuth::Public(id) => form.push(("client_id", id)),
        ClientAuth::Form => {}
    }
    request.form(&form).fetch().await
}

/// An answer's status and its JSON body: `Null` for an empty body, and a body that is
/// not JSON fails the test.
pub async fn status_and_json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.bytes().await.unwrap();
    if body.is_empty() {
        return (status, Value::Null);
    }
    let json = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{status}: not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, json)
}

/// POSTs `form` to `path` (/token, /introspect, /revoke) as `client`: the status and
/// the JSON answer.
pub async fn client_post(
    app: &TestApp,
    path: &str,
    client: &TestClient,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    status_and_json(post_as(app, path, client.auth(), form).await).await
}

/// POST /token as `client`: the status and the JSON answer.
pub async fn token_request(
    app: &TestApp,
    client: &TestClient,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    token_request_as(app, client.auth(), form).await
}

/// POST /token with `auth`. Whatever it answers, tokens or an error, is a JSON object
/// that must not be cached (RFC 6749 §5.1 and §5.2).
pub async fn token_request_as(
    app: &TestApp,
    auth: ClientAuth<'_>,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let response = post_as(app, "/token", auth, form).await;
    assert_no_store(&response);
    let (status, body) = status_and_json(response).await;
    assert!(body.is_object(), "{status}: {body}");
    (status, body)
}

/// The answer carries `Cache-Control: no-store`.
#[track_caller]
pub fn assert_no_store(response: &reqwest::Response) {
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .map(|v| v.as_bytes()),
        Some(&b"no-store"[..]),
        "{}: Cache-Control",
        response.status()
    );
}

/// POST /introspect as `client`, which must be answered (RFC 7662 §2.2): the JSON.
pub async fn introspect(app: &TestApp, client: &TestClient, token: &str) -> Value {
    let (status, body) = client_post(app, "/introspect", client, &[("token", token)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// POST /revoke as `client`, which answers 200 whatever the token (RFC 7009 §2.2).
pub async fn revoke(app: &TestApp, client: &TestClient, token: &str) {
    let (status, body) = client_post(app, "/revoke", client, &[("token", token)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// An OAuth error answer (RFC 6749 §5.2): its status and its `error` code.
#[track_caller]
pub fn assert_oauth_error(
    (status, body): &(StatusCode, Value),
    expected_status: StatusCode,
    expected_error: &str,
) {
    assert_eq!(*status, expected_status, "{body}");
    assert_eq!(body["error"], expected_error, "{body}");
}

/// An error sent back to the client's redirect URI (RFC 6749 §4.1.2.1): its `error`
/// and the `state` the client sent.
#[track_caller]
pub fn assert_redirected_error(location: &str, expected_error: &str, state: &str) {
    assert_eq!(
        super::query_param(location, "error").as_deref(),
        Some(expected_error),
        "{location}"
    );
    assert_eq!(
        super::query_param(location, "state").as_deref(),
        Some(state),
        "{location}"
    );
}
