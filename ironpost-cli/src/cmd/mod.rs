//! One file per command group. Each has a clap argument type and a `run` returning the exit code.

pub mod alerts;
pub mod block;
pub mod config;
pub mod db;
pub mod guard;
pub mod logs;
pub mod rules;
pub mod sbom;
pub mod scan;
pub mod status;

use std::path::PathBuf;

use anyhow::Context as _;
use ironpost_core::config::Config;

/// Exit code: success, or healthy.
pub const EXIT_OK: i32 = 0;
/// Exit code: the daemon is degraded (status), or findings/failures were reported.
pub const EXIT_DEGRADED: i32 = 1;
/// Exit code: invalid input or configuration.
pub const EXIT_INVALID: i32 = 2;
/// Exit code: the daemon is unreachable.
pub const EXIT_UNREACHABLE: i32 = 3;

/// What every command gets: the global options.
pub struct Context {
    /// `-c/--config`, when given.
    pub config_flag: Option<PathBuf>,
}

impl Context {
    /// The configuration, found as the daemon finds it (see `Config::discover`).
    pub fn config(&self) -> anyhow::Result<Config> {
        let (config, _) =
            Config::discover(self.config_flag.as_deref()).context("invalid configuration")?;
        Ok(config)
    }
}
