//! The control API: HTTP/JSON on a Unix socket, mode 0600.
//!
//! `GET /v1/health`, `GET /v1/status`, `GET /v1/alerts?since=&severity=&rule=&host=&limit=`,
//! `GET /v1/alerts/{id}` and `POST /v1/reload`. Errors are `{"error": "..."}` with a 4xx or 5xx status.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use ironpost_core::Severity;
use ironpost_store::AlertQuery;
use serde::Deserialize;
use serde_json::json;
use tokio::net::UnixListener;

use crate::state::DaemonState;

/// The most alerts one request returns.
pub const MAX_LIMIT: usize = 10_000;

/// Binds the socket at `path` with mode 0600, replacing a stale socket file.
pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    if path.exists() {
        // The PID file check has already refused to start beside a live daemon, so a socket
        // left here belongs to one that died.
        std::fs::remove_file(path)
            .with_context(|| format!("removing stale socket {}", path.display()))?;
    }
    // The umask closes the window between bind and chmod in which another user could connect.
    // SAFETY: umask only changes this process's file-creation mask.
    let old = unsafe { libc::umask(0o177) };
    let listener = UnixListener::bind(path);
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    let listener =
        listener.with_context(|| format!("binding control socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("setting mode 0600 on {}", path.display()))?;
    Ok(listener)
}

/// The API's routes.
pub fn router(state: Arc<DaemonState>) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/status", get(status))
        .route("/v1/alerts", get(alerts))
        .route("/v1/alerts/{id}", get(alert))
        .route("/v1/reload", post(reload))
        .merge(crate::control_block::routes())
        .merge(crate::control_guard::routes())
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "no such endpoint; see docs/cli.md".into(),
            )
        })
        .with_state(state)
}

/// Serves the API on `listener` until `stop` resolves, then removes the socket file.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    state: Arc<DaemonState>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    if let Err(e) = axum::serve(listener, router(state))
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!(error = %e, "control API stopped");
    }
    let _ = std::fs::remove_file(&path);
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn health(State(state): State<Arc<DaemonState>>) -> Response {
    let doc = state.status();
    Json(json!({ "status": doc.status, "version": doc.version, "uptime_secs": doc.uptime_secs }))
        .into_response()
}

async fn status(State(state): State<Arc<DaemonState>>) -> Response {
    Json(state.status()).into_response()
}

/// Query parameters of `GET /v1/alerts`.
#[derive(Debug, Deserialize)]
struct AlertParams {
    since: Option<String>,
    severity: Option<String>,
    rule: Option<String>,
    host: Option<String>,
    limit: Option<usize>,
}

async fn alerts(
    State(state): State<Arc<DaemonState>>,
    params: Result<Query<AlertParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(p) = match params {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let since = match p
        .since
        .as_deref()
        .map(|s| ironpost_core::time::parse_since(s, Utc::now()))
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("since: {e}")),
    };
    let min_severity = match p
        .severity
        .as_deref()
        .map(str::parse::<Severity>)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("severity: {e}")),
    };
    let query = AlertQuery {
        since,
        min_severity,
        rule: p.rule,
        host: p.host,
        limit: p.limit.unwrap_or(100).min(MAX_LIMIT),
    };
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.alerts(&query)).await {
        Ok(Ok(list)) => Json(json!({ "alerts": list })).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn alert(State(state): State<Arc<DaemonState>>, UrlPath(id): UrlPath<String>) -> Response {
    let store = state.store.clone();
    let lookup = id.clone();
    match tokio::task::spawn_blocking(move || store.alert(&lookup)).await {
        Ok(Ok(Some(a))) => Json(a).into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("no alert with id {id}")),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `POST /v1/reload`: 200 with what was applied, or 422 with why nothing was.
async fn reload() -> Response {
    let Some(reloader) = crate::reload::current() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the daemon is still starting".into(),
        );
    };
    match reloader.reload(crate::reload::Trigger::Api).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e),
    }
}
