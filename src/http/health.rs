//! Liveness and readiness, for load balancers and orchestrators.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// Alive: the process answers.
pub async fn healthz_get() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Ready: the database and the store both answer.
pub async fn readyz_get(state: web::Data<AppState>) -> HttpResponse {
    let database = state.db.run(crate::storage::ping).await.is_ok();
    let store = state.store.ping().await.is_ok();
    let body = json!({
        "database": if database { "ok" } else { "unavailable" },
        "store": if store { "ok" } else { "unavailable" },
    });
    if database && store {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
