//! The control API's blocklist routes, served beside the others on the control socket.
//!
//! `GET /v1/block` lists the entries and the allowlist; `POST /v1/block` with
//! `{"target": "ADDR|CIDR", "ttl_secs": 600, "reason": "...", "action": "drop|monitor"}` adds or
//! replaces one; `DELETE /v1/block?target=ADDR|CIDR` removes one. Changes reach the kernel at
//! once, without a restart. Without an enabled `[xdp]` module the routes answer 503.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ironpost_ebpf_engine::xdp::{BlockAction, BlockEntry, BlockError, Blocklist, IpNet, Origin};
use serde::Deserialize;
use serde_json::json;

/// The blocklist of the running `[xdp]` module; one daemon per process, so one slot.
static BLOCKLIST: RwLock<Option<Arc<Blocklist>>> = RwLock::new(None);

/// Makes `blocklist` the one the routes change.
pub fn register(blocklist: Arc<Blocklist>) {
    *BLOCKLIST.write().unwrap_or_else(|e| e.into_inner()) = Some(blocklist);
}

fn current() -> Option<Arc<Blocklist>> {
    BLOCKLIST.read().unwrap_or_else(|e| e.into_inner()).clone()
}

fn not_enabled() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the xdp module is not enabled; set [xdp] enabled = true and interface".into(),
    )
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The blocklist routes, to merge into the control API's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/v1/block", get(list).post(add).delete(remove))
}

async fn list() -> Response {
    let Some(blocklist) = current() else {
        return not_enabled();
    };
    Json(json!({ "entries": blocklist.list(), "allowlist": blocklist.allowlist() })).into_response()
}

/// Body of `POST /v1/block`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    target: String,
    #[serde(default)]
    ttl_secs: Option<u64>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    action: Option<BlockAction>,
}

async fn add(body: Result<Json<AddBody>, axum::extract::rejection::JsonRejection>) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let Some(blocklist) = current() else {
        return not_enabled();
    };
    let target: IpNet = match body.target.parse() {
        Ok(t) => t,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("target: {e}")),
    };
    let entry = BlockEntry::new(
        target,
        body.action.unwrap_or(BlockAction::Drop),
        body.reason.unwrap_or_default(),
        Origin::Control,
        body.ttl_secs.filter(|t| *t > 0).map(Duration::from_secs),
    );
    match blocklist.add(entry.clone()) {
        Ok(()) => {
            tracing::info!(target = %entry.target, action = entry.action.as_str(), expires_at = ?entry.expires_at, "block entry added through the control API");
            Json(json!({ "entry": entry })).into_response()
        }
        Err(e @ BlockError::Allowlisted { .. }) => error(StatusCode::CONFLICT, e.to_string()),
    }
}

/// Query of `DELETE /v1/block`.
#[derive(Debug, Deserialize)]
struct RemoveParams {
    target: String,
}

async fn remove(
    params: Result<Query<RemoveParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(p) = match params {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let Some(blocklist) = current() else {
        return not_enabled();
    };
    let target: IpNet = match p.target.parse() {
        Ok(t) => t,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("target: {e}")),
    };
    match blocklist.remove(target) {
        Some(entry) => {
            tracing::info!(target = %target, "block entry removed through the control API");
            Json(json!({ "removed": entry })).into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            format!("{target} is not in the blocklist"),
        ),
    }
}
