//! What the daemon knows about itself, shared by the supervisor, the control API and metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use ironpost_core::bus::{BusSender, BusSnapshot};
use ironpost_core::module::{Counters, HealthHandle};
use ironpost_core::{Alert, Event};
use ironpost_store::{SpoolStats, Store};
use serde::Serialize;

/// One supervised module as status shows it.
#[derive(Clone)]
pub struct ModuleEntry {
    /// Module name.
    pub name: &'static str,
    /// Its health.
    pub health: HealthHandle,
    /// Its counters.
    pub counters: Counters,
    /// How often the supervisor restarted it.
    pub restarts: Arc<AtomicU64>,
}

/// Shared daemon state.
pub struct DaemonState {
    /// This host's name.
    pub host: String,
    /// When the daemon started.
    pub started_at: DateTime<Utc>,
    started: Instant,
    /// The store.
    pub store: Arc<dyn Store>,
    /// Where the store is, for status.
    pub store_location: String,
    /// The spool in front of a remote store.
    pub spool: Option<Arc<SpoolStats>>,
    modules: Mutex<Vec<ModuleEntry>>,
    /// The event bus (for status and metrics).
    pub events: BusSender<Event>,
    /// The alert bus (for status and metrics).
    pub alerts: BusSender<Alert>,
    /// The loaded configuration's generation and the last reload error.
    pub reload: crate::reload::ReloadStatus,
}

/// A module in the status document.
#[derive(Debug, Serialize)]
pub struct ModuleStatus {
    /// Module name.
    pub name: String,
    /// `starting`, `healthy`, `degraded`, `failed` or `stopped`.
    pub state: String,
    /// Why it is degraded or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Restarts by the supervisor.
    pub restarts: u64,
    /// The module's counters.
    pub counters: std::collections::BTreeMap<String, u64>,
}

/// The status document of `GET /v1/status`.
#[derive(Debug, Serialize)]
pub struct StatusDoc {
    /// `healthy` when every module is, else `degraded`.
    pub status: &'static str,
    /// Daemon version.
    pub version: &'static str,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Every module.
    pub modules: Vec<ModuleStatus>,
    /// Every bus.
    pub buses: Vec<BusSnapshot>,
    /// The store.
    pub store: StoreStatus,
    /// The loaded configuration: generation, reloads, the last reload error.
    pub config: crate::reload::ReloadDoc,
    /// Every `[[sinks]]` entry: state, last error, backlog, counts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sinks: Vec<ironpost_sinks::SinkStatus>,
}

/// The store in the status document.
#[derive(Debug, Serialize)]
pub struct StoreStatus {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Where it is (passwords redacted).
    pub location: String,
    /// The spool, for a remote store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spool: Option<SpoolStatus>,
}

/// The spool in the status document.
#[derive(Debug, Serialize)]
pub struct SpoolStatus {
    /// Bytes waiting.
    pub bytes: u64,
    /// Items spooled since start.
    pub spooled: u64,
    /// Items replayed since start.
    pub replayed: u64,
    /// Items dropped because the spool was full.
    pub dropped: u64,
}

impl DaemonState {
    /// New state.
    pub fn new(
        host: String,
        store: Arc<dyn Store>,
        store_location: String,
        spool: Option<Arc<SpoolStats>>,
        events: BusSender<Event>,
        alerts: BusSender<Alert>,
    ) -> Self {
        DaemonState {
            host,
            started_at: Utc::now(),
            started: Instant::now(),
            store,
            store_location,
            spool,
            modules: Mutex::new(Vec::new()),
            events,
            alerts,
            reload: crate::reload::ReloadStatus::default(),
        }
    }

    /// Registers a module for status and metrics.
    pub fn register(&self, entry: ModuleEntry) {
        self.modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(entry);
    }

    /// Removes a module that no longer runs.
    pub fn unregister(&self, name: &str) {
        self.modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|m| m.name != name);
    }

    /// Every registered module.
    pub fn modules(&self) -> Vec<ModuleEntry> {
        self.modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Seconds since start.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The status document.
    pub fn status(&self) -> StatusDoc {
        let modules: Vec<ModuleStatus> = self
            .modules()
            .into_iter()
            .map(|m| {
                let h = m.health.get();
                ModuleStatus {
                    name: m.name.to_owned(),
                    state: h.state().to_owned(),
                    reason: h.reason().map(str::to_owned),
                    restarts: m.restarts.load(Ordering::Relaxed),
                    counters: m.counters.snapshot(),
                }
            })
            .collect();
        let degraded = self.modules().iter().any(|m| !m.health.get().is_ok());
        StatusDoc {
            status: if degraded { "degraded" } else { "healthy" },
            version: env!("CARGO_PKG_VERSION"),
            host: self.host.clone(),
            pid: std::process::id(),
            started_at: self.started_at,
            uptime_secs: self.uptime_secs(),
            modules,
            buses: vec![self.events.snapshot(), self.alerts.snapshot()],
            store: StoreStatus {
                backend: self.store.backend(),
                location: self.store_location.clone(),
                spool: self.spool.as_ref().map(|s| SpoolStatus {
                    bytes: s.bytes(),
                    spooled: s.spooled(),
                    replayed: s.replayed(),
                    dropped: s.dropped(),
                }),
            },
            config: self.reload.doc(),
            sinks: crate::modules::sinks::status(),
        }
    }
}
