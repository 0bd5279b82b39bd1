//! SMS through an HTTP gateway: one JSON POST per message (`{"to", "text", "from"}`)
//! with a bearer token, a bound on the whole exchange, and no redirects (a gateway
//! that moves is a configuration change, not something to follow with the token).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::SendError;
use crate::config::SmsSettings;

#[derive(Debug)]
pub struct SmsGateway {
    http: reqwest::Client,
    url: String,
    token: String,
    sender: String,
}

impl SmsGateway {
    pub fn new(settings: &SmsSettings) -> Result<SmsGateway, String> {
        let timeout = Duration::from_millis(settings.timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("notify.sms: {e}"))?;
        Ok(SmsGateway {
            http,
            url: settings.url.clone(),
            token: settings.token.expose().to_owned(),
            sender: settings.sender.clone(),
        })
    }

    pub async fn send(&self, to: &str, text: &str) -> Result<(), SendError> {
        let body = json!({ "to": to, "text": text, "from": self.sender }).to_string();
        let mut request = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        let status = match request.send().await {
            Ok(response) => response.status(),
            Err(error) if error.is_timeout() => {
                return Err(SendError::Temporary("sms gateway timeout".into()));
            }
            Err(_) => return Err(SendError::Temporary("sms gateway unreachable".into())),
        };
        classify(status)
    }
}

/// 2xx: taken. 429 and 5xx: try again later. Any other 4xx: this request will never
/// pass (a number the gateway refuses, a bad token), so it is not repeated.
fn classify(status: StatusCode) -> Result<(), SendError> {
    if status.is_success() {
        Ok(())
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Err(SendError::Temporary(format!(
            "sms gateway {}",
            status.as_u16()
        )))
    } else {
        Err(SendError::Permanent(format!(
            "sms gateway {}",
            status.as_u16()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_and_server_errors_are_retried() {
        assert!(classify(StatusCode::ACCEPTED).is_ok());
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE),
            Err(SendError::Temporary(_))
        ));
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS),
            Err(SendError::Temporary(_))
        ));
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED),
            Err(SendError::Permanent(_))
        ));
    }
}
