//! `kill`: sends a signal (SIGKILL by default) to the container's init process.

use bollard::query_parameters::KillContainerOptions;
use serde_json::{Value, json};

use super::{ActionContext, already};
use crate::docker::{Outcome, call};
use crate::error::GuardError;

/// Sends `signal` to container `id`.
pub async fn run(ctx: &ActionContext, id: &str, signal: &str) -> Result<Value, GuardError> {
    let options = KillContainerOptions {
        signal: signal.to_owned(),
    };
    Ok(
        match call(
            "kill",
            id,
            ctx.timeout,
            ctx.docker.kill_container(id, Some(options)),
        )
        .await?
        {
            Outcome::Done(()) => json!({ "signal": signal }),
            Outcome::AlreadyDone(m) => already(m),
        },
    )
}
