//! The config sections of the daemon's modules, one struct each.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError};

/// `[selftest]`: a fault-injection module that proves the supervisor's isolation and restart.
///
/// When enabled it reports healthy, then after `panic_after_ms` panics, or after
/// `fail_after_ms` returns an error, or reports degraded with `degraded_reason`; the supervisor
/// restarts it with backoff while the other modules keep running. It can also emit synthetic
/// alerts to exercise the store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelftestConfig {
    /// Run the module.
    pub enabled: bool,
    /// Panic this many milliseconds after each start (0: never).
    pub panic_after_ms: u64,
    /// Return an error this many milliseconds after each start (0: never).
    pub fail_after_ms: u64,
    /// Report degraded with this reason (empty: healthy).
    pub degraded_reason: String,
    /// Put this many synthetic alerts (rule `ironpost.selftest`, deterministic ids) on the alert
    /// bus at each start, to exercise the store and the shutdown drain.
    pub emit_alerts: u64,
}

/// Checks the module sections; errors name their key.
pub(super) fn check(_config: &Config, _path: &Path) -> Result<(), ConfigError> {
    Ok(())
}

/// Replaces the secrets of module sections with the redaction marker.
pub(super) fn redact(_config: &mut Config) {}
