//! `pause`: freezes every process of the container (cgroup freezer); `unpause` releases it.

use serde_json::{Value, json};

use super::{ActionContext, already};
use crate::docker::{Outcome, call};
use crate::error::GuardError;

/// Pauses container `id`.
pub async fn run(ctx: &ActionContext, id: &str) -> Result<Value, GuardError> {
    Ok(
        match call("pause", id, ctx.timeout, ctx.docker.pause_container(id)).await? {
            Outcome::Done(()) => json!({}),
            Outcome::AlreadyDone(m) => already(m),
        },
    )
}

/// Unpauses container `id`.
pub async fn unpause(ctx: &ActionContext, id: &str) -> Result<Value, GuardError> {
    Ok(
        match call("unpause", id, ctx.timeout, ctx.docker.unpause_container(id)).await? {
            Outcome::Done(()) => json!({}),
            Outcome::AlreadyDone(m) => already(m),
        },
    )
}
