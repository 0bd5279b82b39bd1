//! The admin API as an operator calls it, with the one token the tests turn it on with.

use citizen_idp::config::Settings;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{Fetch, TestApp};

/// The bearer token of the admin API in tests.
pub const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789abcdef";

impl TestApp {
    /// An app with the admin API on, and `configure` applied after.
    pub async fn spawn_with_admin(configure: impl FnOnce(&mut Settings)) -> TestApp {
        TestApp::spawn_with(|settings| {
            settings.admin.token = ADMIN_TOKEN.into();
            configure(settings);
        })
        .await
    }

    /// Calls the admin API with the operator's token (and `body` as JSON): the status
    /// and the JSON answer (`Null` when there is none, or when a refusal came before
    /// the API, from the router, in plain text).
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.fetch().await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}
