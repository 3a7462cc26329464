//! The control API's container guard routes, served beside the others on the control socket.
//!
//! `GET /v1/guard/containers` lists the containers the guard knows with their active actions
//! and pending plans; `GET /v1/guard/actions?container=&limit=` lists action records (from the
//! store, also when the guard is off); `POST /v1/guard/approve/{id}` approves a plan waiting
//! for approval; `POST /v1/guard/release/{container}` reconnects the saved networks and
//! unpauses. Without an enabled `[container_guard]`, or before Docker answered, the live
//! routes answer 503.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ironpost_container_guard::{Guard, GuardError};
use ironpost_store::ActionQuery;
use serde::Deserialize;
use serde_json::json;

use crate::state::DaemonState;

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The running guard, or why the live routes cannot answer (as a 503 message).
fn guard() -> Result<Arc<Guard>, &'static str> {
    match crate::modules::container_guard::current() {
        Some(Some(g)) => Ok(g),
        Some(None) => Err("the container guard has not reached Docker yet; see `ironpost status`"),
        None => Err("the container guard is not enabled; set [container_guard] enabled = true"),
    }
}

fn guard_error(e: GuardError) -> Response {
    let status = match e {
        GuardError::UnknownContainer(_) | GuardError::UnknownPlan(_) => StatusCode::NOT_FOUND,
        GuardError::BreakerOpen(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.to_string())
}

/// The guard routes, to merge into the control API's router.
pub fn routes() -> Router<Arc<DaemonState>> {
    Router::new()
        .route("/v1/guard/containers", get(containers))
        .route("/v1/guard/actions", get(actions))
        .route("/v1/guard/approve/{id}", post(approve))
        .route("/v1/guard/release/{container}", post(release))
}

async fn containers() -> Response {
    let g = match guard() {
        Ok(g) => g,
        Err(m) => return error(StatusCode::SERVICE_UNAVAILABLE, m.into()),
    };
    match g.overview().await {
        Ok(list) => Json(json!({ "containers": list, "pending": g.pending() })).into_response(),
        Err(e) => guard_error(e),
    }
}

/// Query parameters of `GET /v1/guard/actions`.
#[derive(Debug, Deserialize)]
struct ActionParams {
    container: Option<String>,
    limit: Option<usize>,
}

async fn actions(
    State(state): State<Arc<DaemonState>>,
    params: Result<Query<ActionParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(p) = match params {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    // A name or short id is resolved through the live inventory when the guard runs.
    let target = p
        .container
        .map(|c| match guard().ok().and_then(|g| g.inventory().get(&c)) {
            Some(info) => info.id.clone(),
            None => c,
        });
    let query = ActionQuery {
        target,
        alert_id: None,
        limit: p.limit.unwrap_or(100).min(crate::control::MAX_LIMIT),
    };
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.actions(&query)).await {
        Ok(Ok(list)) => Json(json!({ "actions": list })).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn approve(UrlPath(id): UrlPath<String>) -> Response {
    let g = match guard() {
        Ok(g) => g,
        Err(m) => return error(StatusCode::SERVICE_UNAVAILABLE, m.into()),
    };
    match g.approve(&id) {
        Ok(plan) => Json(json!({ "approved": plan })).into_response(),
        Err(e) => guard_error(e),
    }
}

async fn release(UrlPath(container): UrlPath<String>) -> Response {
    let g = match guard() {
        Ok(g) => g,
        Err(m) => return error(StatusCode::SERVICE_UNAVAILABLE, m.into()),
    };
    match g.release(&container).await {
        Ok(r) => Json(r).into_response(),
        Err(e) => guard_error(e),
    }
}
