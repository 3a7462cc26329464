//! One file per command group. Each has a clap argument type and a `run` returning the exit code.

pub mod alerts;
pub mod block;
pub mod config;
pub mod db;
pub mod guard;
pub mod logs;
pub mod reload;
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

    /// The daemon's socket even when the edited configuration no longer parses: the daemon, not
    /// this command, refuses it (and counts and shows the refusal). Falls back to reading
    /// `general.data_dir` and `control.socket` line by line, then to the defaults.
    pub fn daemon_socket(&self) -> anyhow::Result<PathBuf> {
        let config_error = match self.config() {
            Ok(config) => return Ok(config.socket_path()),
            Err(e) => e,
        };
        let Some(path) = ironpost_core::config::Config::discover_path(self.config_flag.as_deref())
        else {
            return Err(config_error);
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Err(config_error);
        };
        let mut config = ironpost_core::config::Config::default();
        let mut section = String::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_owned();
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"').trim_matches('\'');
            match (section.as_str(), key.trim()) {
                ("general", "data_dir") => config.general.data_dir = value.into(),
                ("control", "socket") => config.control.socket = value.into(),
                _ => {}
            }
        }
        for (var, field) in [
            ("IRONPOST_GENERAL__DATA_DIR", &mut config.general.data_dir),
            ("IRONPOST_CONTROL__SOCKET", &mut config.control.socket),
        ] {
            if let Some(v) = std::env::var_os(var) {
                *field = v.into();
            }
        }
        Ok(config.socket_path())
    }
}
