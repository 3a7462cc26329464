//! `stop`: the stop signal, then a kill after the policy's timeout.

use std::time::Duration;

use bollard::query_parameters::StopContainerOptions;
use serde_json::{Value, json};

use super::{ActionContext, already};
use crate::docker::{Outcome, call};
use crate::error::GuardError;

/// Stops container `id`, giving it `timeout_secs` before the engine kills it.
pub async fn run(ctx: &ActionContext, id: &str, timeout_secs: u32) -> Result<Value, GuardError> {
    let options = StopContainerOptions {
        t: Some(i32::try_from(timeout_secs).unwrap_or(i32::MAX)),
        signal: None,
    };
    // The call lasts as long as the container takes to stop, up to the stop timeout.
    let limit = ctx.timeout + Duration::from_secs(u64::from(timeout_secs));
    Ok(
        match call(
            "stop",
            id,
            limit,
            ctx.docker.stop_container(id, Some(options)),
        )
        .await?
        {
            Outcome::Done(()) => json!({ "timeout_secs": timeout_secs }),
            Outcome::AlreadyDone(m) => already(m),
        },
    )
}
