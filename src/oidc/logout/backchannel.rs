//! Back-channel logout delivery (OIDC Back-Channel Logout 1.0 §2.5): a logout token is
//! POSTed to each relying party the ended session signed in to.
//!
//! Delivery runs on its own task after the citizen has been answered, so a relying party
//! that is slow or down never holds up a logout. Each delivery has a timeout and a
//! bounded number of attempts with doubling waits, and its outcome goes to the audit
//! trail. Deliveries still pending when the process stops are lost; relying parties
//! must not rely on back-channel logout alone (their own sessions should expire too).

use std::time::Duration;

use actix_web::web;

use crate::audit::{self, Event};
use crate::domain::national_id::NationalId;
use crate::state::AppState;
use crate::tokens::keys::SigningAlg;
use crate::tokens::logout_token::{self, LogoutTokenClaims};
use crate::tokens::{jwt, random};

/// One relying party to tell.
#[derive(Debug, Clone)]
pub struct Notice {
    pub client_id: String,
    pub uri: String,
    /// The subject as this relying party knows it.
    pub sub: String,
    pub sid: String,
    pub alg: SigningAlg,
    pub citizen: Option<NationalId>,
}

/// How one delivery ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Delivered {
        attempts: u32,
    },
    /// The relying party answered 4xx: the token was refused, and retrying the same
    /// request cannot help.
    Refused {
        attempts: u32,
        status: u16,
    },
    Failed {
        attempts: u32,
        last: String,
    },
}

/// Starts delivering every notice; returns at once.
pub fn send_all(state: web::Data<AppState>, notices: Vec<Notice>) {
    for notice in notices {
        let state = state.clone();
        tokio::spawn(async move {
            let outcome = deliver(&state, &notice).await;
            record(&state, &notice, &outcome).await;
        });
    }
}

async fn deliver(state: &AppState, notice: &Notice) -> Outcome {
    let settings = &state.settings.logout;
    let now = state.clock.now().timestamp();
    let claims = LogoutTokenClaims::new(
        &state.issuer,
        &notice.sub,
        &notice.client_id,
        &notice.sid,
        random::token(),
        now,
    );
    let keys = state.keys.current();
    let token = match keys
        .signing_key(notice.alg, state.clock.now())
        .and_then(|key| jwt::sign(key, logout_token::TYP, &claims))
    {
        Ok(token) => token,
        Err(e) => {
            return Outcome::Failed {
                attempts: 0,
                last: format!("signing: {e}"),
            };
        }
    };
    let mut wait = Duration::from_millis(settings.backchannel_retry_base_ms);
    let mut last = String::new();
    for attempt in 1..=settings.backchannel_attempts {
        if attempt > 1 {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
        let sent = state
            .http
            .post(&notice.uri)
            .form(&[("logout_token", token.as_str())])
            .timeout(Duration::from_millis(settings.backchannel_timeout_ms))
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                return Outcome::Delivered { attempts: attempt };
            }
            Ok(response) if response.status().is_client_error() => {
                return Outcome::Refused {
                    attempts: attempt,
                    status: response.status().as_u16(),
                };
            }
            Ok(response) => last = format!("status {}", response.status().as_u16()),
            // Without the URL: it is the relying party's, but errors can be verbose.
            Err(e) if e.is_timeout() => last = "timeout".into(),
            Err(e) if e.is_connect() => last = "connection failed".into(),
            Err(_) => last = "request failed".into(),
        }
    }
    Outcome::Failed {
        attempts: settings.backchannel_attempts,
        last,
    }
}

async fn record(state: &AppState, notice: &Notice, outcome: &Outcome) {
    let (name, detail) = match outcome {
        Outcome::Delivered { attempts } => (
            "backchannel_logout_delivered",
            format!("attempts={attempts}"),
        ),
        Outcome::Refused { attempts, status } => (
            "backchannel_logout_refused",
            format!("attempts={attempts} status={status}"),
        ),
        Outcome::Failed { attempts, last } => (
            "backchannel_logout_failed",
            format!("attempts={attempts} last={last}"),
        ),
    };
    if !matches!(outcome, Outcome::Delivered { .. }) {
        tracing::warn!(client_id = %notice.client_id, %detail, "back-channel logout not delivered");
    }
    let mut event = Event::new(audit::Kind::Login, name, state.clock.now().naive_utc())
        .client(&notice.client_id)
        .detail(detail);
    if let Some(citizen) = &notice.citizen {
        event = event.citizen(citizen.clone());
    }
    state.audit.record(event).await;
}
