//! The Docker Engine client and how its answers are read.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use bollard::Docker;

use crate::error::GuardError;

/// Connects to the Engine API socket at `socket`; no request is made yet.
pub fn connect(socket: &Path, timeout: Duration) -> Result<Docker, GuardError> {
    Docker::connect_with_unix(
        &socket.display().to_string(),
        timeout.as_secs().max(1),
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|e| GuardError::DockerUnreachable {
        socket: socket.display().to_string(),
        message: e.to_string(),
    })
}

/// What one Docker call came to.
#[derive(Debug)]
pub enum Outcome<T> {
    /// The call did what was asked.
    Done(T),
    /// The engine said the container is already in the asked state (304, 409, "not connected").
    AlreadyDone(String),
}

/// True when an engine error means the goal of the call is already reached: 304 (not
/// modified), 409 (already paused, not running, ...), "is not connected" on a disconnect, and
/// for the calls of a release "already exists in network" (reconnect) and "is not paused".
pub fn is_already_done(e: &bollard::errors::Error) -> bool {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => {
            *status_code == 304
                || *status_code == 409
                || message.contains("is not connected")
                || message.contains("already exists in network")
                || message.contains("is not paused")
        }
        _ => false,
    }
}

/// Runs one Docker call with `timeout`, turning 304/409/"not connected" into
/// [`Outcome::AlreadyDone`] and everything else into an error naming the call and target.
pub async fn call<T>(
    name: &'static str,
    target: &str,
    timeout: Duration,
    fut: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<Outcome<T>, GuardError> {
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => Err(GuardError::Timeout {
            call: name,
            target: target.to_owned(),
            secs: timeout.as_secs(),
        }),
        Ok(Ok(v)) => Ok(Outcome::Done(v)),
        Ok(Err(e)) if is_already_done(&e) => Ok(Outcome::AlreadyDone(e.to_string())),
        // No answer at all (socket gone, connection refused or cut): worth another try.
        Ok(Err(e)) if !matches!(e, bollard::errors::Error::DockerResponseServerError { .. }) => {
            Err(GuardError::DockerUnreachable {
                socket: format!("{name} on {target}"),
                message: e.to_string(),
            })
        }
        Ok(Err(e)) => Err(GuardError::Docker {
            call: name,
            target: target.to_owned(),
            message: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: message.into(),
        }
    }

    #[test]
    fn already_in_state_answers_count_as_done() {
        assert!(is_already_done(&server(304, "")));
        assert!(is_already_done(&server(
            409,
            "Container abc is already paused"
        )));
        assert!(is_already_done(&server(
            403,
            "container abc is not connected to network n"
        )));
        assert!(!is_already_done(&server(404, "No such container: abc")));
        assert!(!is_already_done(&server(500, "boom")));
    }
}
