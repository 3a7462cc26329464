//! What can go wrong in the guard, each error naming the file, container or call concerned.

use std::path::PathBuf;

/// A guard error.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The Docker Engine could not be reached (`socket` names the socket or the call).
    #[error("Docker Engine unreachable ({socket}): {message}")]
    DockerUnreachable {
        /// The socket tried.
        socket: String,
        /// Why.
        message: String,
    },
    /// A Docker API call failed.
    #[error("Docker {call} on {target} failed: {message}")]
    Docker {
        /// The call (`pause`, `network disconnect`, ...).
        call: &'static str,
        /// The container or network.
        target: String,
        /// Why.
        message: String,
    },
    /// A Docker API call did not answer in time.
    #[error("Docker {call} on {target} did not answer within {secs} s")]
    Timeout {
        /// The call.
        call: &'static str,
        /// The container or network.
        target: String,
        /// The timeout.
        secs: u64,
    },
    /// The policy directory could not be read.
    #[error("cannot read policy directory {path}: {message}")]
    PolicyDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A policy file is invalid.
    #[error("policy {path}: {message}")]
    Policy {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the key or line.
        message: String,
    },
    /// No container matches the name or id given.
    #[error("no container `{0}` is known to the guard")]
    UnknownContainer(String),
    /// No planned response has this id.
    #[error("no response waiting for approval has id `{0}`")]
    UnknownPlan(String),
    /// The circuit breaker is open: too many responses in its window.
    #[error("the circuit breaker is open ({0} responses in the window); approve again later")]
    BreakerOpen(usize),
    /// The action log (the store) failed.
    #[error("action log: {0}")]
    Log(String),
}
