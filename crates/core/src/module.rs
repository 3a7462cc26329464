//! The contract between the supervisor and every long-running part of the daemon.
//!
//! A module is built from its config section, then run by the supervisor with a
//! [`ModuleContext`]. It reports its [`Health`] as it goes, counts what it does in its
//! [`Counters`], and returns when the shutdown signal fires. Returning an error (or panicking)
//! makes the supervisor mark it failed and restart it with backoff; the other modules go on.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::alert::Alert;
use crate::bus::BusSender;
use crate::event::Event;

/// A module's health as the supervisor and `ironpost status` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum Health {
    /// Not yet running.
    Starting,
    /// Doing its job.
    Healthy,
    /// Running, but not fully (no privilege, a service unreachable, ...).
    Degraded(String),
    /// Not running; the supervisor will retry.
    Failed(String),
    /// Stopped on shutdown.
    Stopped,
}

impl Health {
    /// The state name (`starting`, `healthy`, `degraded`, `failed`, `stopped`).
    pub fn state(&self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Degraded(_) => "degraded",
            Health::Failed(_) => "failed",
            Health::Stopped => "stopped",
        }
    }

    /// The reason, for degraded and failed states.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Health::Degraded(r) | Health::Failed(r) => Some(r),
            _ => None,
        }
    }

    /// True for healthy (and for starting or stopped, which are not faults).
    pub fn is_ok(&self) -> bool {
        !matches!(self, Health::Degraded(_) | Health::Failed(_))
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(r) => write!(f, "{}: {r}", self.state()),
            None => f.write_str(self.state()),
        }
    }
}

/// A shared, updatable health value.
#[derive(Debug, Clone)]
pub struct HealthHandle(Arc<Mutex<Health>>);

impl Default for HealthHandle {
    fn default() -> Self {
        HealthHandle(Arc::new(Mutex::new(Health::Starting)))
    }
}

impl HealthHandle {
    /// Sets the health.
    pub fn set(&self, health: Health) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = health;
    }

    /// Marks the module healthy.
    pub fn healthy(&self) {
        self.set(Health::Healthy);
    }

    /// Marks the module degraded for `reason`.
    pub fn degraded(&self, reason: impl Into<String>) {
        self.set(Health::Degraded(reason.into()));
    }

    /// The current health.
    pub fn get(&self) -> Health {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Named monotonic counters of one module, shown by status and exported as metrics.
#[derive(Debug, Clone, Default)]
pub struct Counters(Arc<Mutex<BTreeMap<&'static str, Arc<AtomicU64>>>>);

impl Counters {
    /// The counter `name`, created at zero on first use. Keep the handle: lookups take a lock.
    pub fn counter(&self, name: &'static str) -> Arc<AtomicU64> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name)
            .or_default()
            .clone()
    }

    /// Adds `n` to counter `name`.
    pub fn add(&self, name: &'static str, n: u64) {
        self.counter(name).fetch_add(n, Ordering::Relaxed);
    }

    /// Every counter's current value.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.load(Ordering::Relaxed)))
            .collect()
    }
}

/// The shutdown signal: fires once, seen by every clone.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Fires a [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// A new shutdown signal and its trigger.
pub fn shutdown_signal() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    /// Fires the signal.
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }

    /// A new receiver of the signal.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

impl Shutdown {
    /// True once the signal has fired.
    pub fn is_fired(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until the signal fires (returns at once if it has).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|fired| *fired).await;
    }
}

/// What the supervisor hands a module when it runs it.
#[derive(Debug, Clone)]
pub struct ModuleContext {
    /// This host's name.
    pub host: String,
    /// Where the module reports its health.
    pub health: HealthHandle,
    /// The module's counters.
    pub counters: Counters,
    /// Fires when the daemon stops.
    pub shutdown: Shutdown,
    /// The event bus into detection.
    pub events: BusSender<Event>,
    /// The alert bus into the store, sinks and responders.
    pub alerts: BusSender<Alert>,
}

/// Why a module stopped running.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ModuleError(pub String);

impl ModuleError {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        ModuleError(message.into())
    }
}

/// The future a module's run returns.
pub type ModuleFuture = Pin<Box<dyn Future<Output = Result<(), ModuleError>> + Send + 'static>>;

/// A long-running part of the daemon, run and restarted by the supervisor.
pub trait Module: Send + Sync + 'static {
    /// The module's name: its config section, metric label and status key.
    fn name(&self) -> &'static str;

    /// Runs until `ctx.shutdown` fires (then returns `Ok`) or until it cannot go on (then
    /// returns an error, and the supervisor restarts it with backoff).
    fn run(self: Arc<Self>, ctx: ModuleContext) -> ModuleFuture;

    /// The counters the module may count, created at zero when it is started so that every
    /// series exists from the start; a module may still count others.
    fn counters(&self) -> &'static [&'static str] {
        &[]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_reports_state_and_reason() {
        let h = HealthHandle::default();
        assert_eq!(h.get(), Health::Starting);
        h.degraded("no CAP_BPF");
        assert_eq!(h.get().state(), "degraded");
        assert_eq!(h.get().reason(), Some("no CAP_BPF"));
        assert_eq!(h.get().to_string(), "degraded: no CAP_BPF");
        assert!(!h.get().is_ok());
        let json = serde_json::to_string(&h.get()).unwrap();
        assert_eq!(json, r#"{"state":"degraded","reason":"no CAP_BPF"}"#);
    }

    #[test]
    fn counters_start_at_zero_and_add() {
        let c = Counters::default();
        let lines = c.counter("lines");
        assert_eq!(c.snapshot()["lines"], 0);
        lines.fetch_add(3, Ordering::Relaxed);
        c.add("lines", 2);
        assert_eq!(c.snapshot()["lines"], 5);
    }

    #[tokio::test]
    async fn shutdown_reaches_every_clone() {
        let (trigger, mut a) = shutdown_signal();
        let mut b = a.clone();
        assert!(!a.is_fired());
        trigger.fire();
        a.wait().await;
        b.wait().await;
        assert!(b.is_fired());
    }
}
