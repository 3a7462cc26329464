//! The actions of a policy's ladder, one file each, and how a release undoes them.
//!
//! Each action answers the details its record keeps (the saved networks, the snapshot image),
//! which is also what a release needs to undo it. Every Docker call has its own timeout, and an
//! answer saying the container is already in the asked state counts as done.

mod kill;
mod network_isolate;
mod pause;
mod snapshot;
mod stop;

use std::time::Duration;

use bollard::Docker;
use serde_json::Value;

use crate::error::GuardError;
use crate::inventory::ContainerInfo;
use crate::policy::ActionSpec;

pub use network_isolate::reconnect;
pub use pause::unpause;
pub use snapshot::image_name as snapshot_image;

/// What actions need besides their own settings.
#[derive(Debug, Clone)]
pub struct ActionContext {
    /// The engine.
    pub docker: Docker,
    /// The timeout of one Docker call.
    pub timeout: Duration,
    /// The repository of snapshot images.
    pub snapshot_repository: String,
}

/// Carries out `spec` on `container` for the alert `alert_id`; returns the record's details.
pub async fn execute(
    ctx: &ActionContext,
    spec: &ActionSpec,
    container: &ContainerInfo,
    alert_id: &str,
) -> Result<Value, GuardError> {
    match spec {
        ActionSpec::NetworkIsolate { networks } => {
            network_isolate::run(ctx, container, networks).await
        }
        ActionSpec::Pause => pause::run(ctx, &container.id).await,
        ActionSpec::Snapshot { export_dir } => {
            snapshot::run(ctx, container, alert_id, export_dir.as_deref()).await
        }
        ActionSpec::Stop { timeout_secs } => stop::run(ctx, &container.id, *timeout_secs).await,
        ActionSpec::Kill { signal } => kill::run(ctx, &container.id, signal).await,
    }
}

/// The details of an action the engine reported as already done.
fn already(message: String) -> Value {
    serde_json::json!({ "already": message })
}
