//! Runs modules, restarts the ones that fail or panic with backoff, and stops them in stages.
//!
//! Modules are grouped in stages in data-flow order: sensors, then detection, then the writers
//! (store, sinks, responders). On shutdown each stage is told to stop only after the stages
//! before it have ended, so what a sensor read last is still detected and what detection raised
//! last is still written.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ironpost_core::module::{
    Counters, Health, HealthHandle, Module, ModuleContext, Shutdown, ShutdownTrigger,
    shutdown_signal,
};
use ironpost_core::{Alert, Event, bus::BusSender};
use tokio::task::JoinSet;

use crate::state::{DaemonState, ModuleEntry};

/// The first restart delay; it doubles on each failure up to [`MAX_BACKOFF`].
pub const BASE_BACKOFF: Duration = Duration::from_millis(500);
/// The longest restart delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A module that ran this long before failing starts its backoff from the beginning again.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// One stage: modules that stop together.
struct Stage {
    trigger: ShutdownTrigger,
    tasks: JoinSet<()>,
}

/// The supervisor of every module.
pub struct Supervisor {
    state: Arc<DaemonState>,
    events: BusSender<Event>,
    alerts: BusSender<Alert>,
    stages: Vec<Stage>,
}

impl Supervisor {
    /// A supervisor with `stage_count` stages.
    pub fn new(state: Arc<DaemonState>, stage_count: usize) -> Self {
        let events = state.events.clone();
        let alerts = state.alerts.clone();
        let stages = (0..stage_count)
            .map(|_| Stage {
                trigger: shutdown_signal().0,
                tasks: JoinSet::new(),
            })
            .collect();
        Supervisor {
            state,
            events,
            alerts,
            stages,
        }
    }

    /// Starts `module` in `stage` and keeps it running until that stage stops.
    pub fn spawn(&mut self, stage: usize, module: Arc<dyn Module>) {
        let entry = ModuleEntry {
            name: module.name(),
            health: HealthHandle::default(),
            counters: Counters::default(),
            restarts: Arc::new(AtomicU64::new(0)),
        };
        self.state.register(entry.clone());
        let stage = &mut self.stages[stage];
        let ctx = ModuleContext {
            host: self.state.host.clone(),
            health: entry.health.clone(),
            counters: entry.counters.clone(),
            shutdown: stage.trigger.subscribe(),
            events: self.events.clone(),
            alerts: self.alerts.clone(),
        };
        stage.tasks.spawn(supervise(module, ctx, entry.restarts));
    }

    /// Stops the stages in order, each after the one before has ended, within `deadline`.
    /// Returns the names of stages that did not stop in time.
    pub async fn shutdown(mut self, deadline: Duration) -> usize {
        let end = tokio::time::Instant::now() + deadline;
        let mut late = 0;
        for stage in &mut self.stages {
            stage.trigger.fire();
            let all_done = async { while stage.tasks.join_next().await.is_some() {} };
            if tokio::time::timeout_at(end, all_done).await.is_err() {
                late += 1;
                stage.tasks.abort_all();
            }
        }
        late
    }
}

async fn supervise(module: Arc<dyn Module>, ctx: ModuleContext, restarts: Arc<AtomicU64>) {
    let name = module.name();
    let mut shutdown: Shutdown = ctx.shutdown.clone();
    let mut backoff = BASE_BACKOFF;
    loop {
        ctx.health.set(Health::Starting);
        let started = Instant::now();
        let run = tokio::spawn(module.clone().run(ctx.clone()));
        let outcome = run.await;
        if shutdown.is_fired() {
            if let Ok(Err(e)) = &outcome {
                tracing::warn!(module = name, error = %e, "module failed while stopping");
            }
            ctx.health.set(Health::Stopped);
            return;
        }
        let reason = match outcome {
            Ok(Ok(())) => "exited without being asked to stop".to_owned(),
            Ok(Err(e)) => e.to_string(),
            Err(join) if join.is_panic() => {
                let payload = join.into_panic();
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                format!("panicked: {msg}")
            }
            Err(join) => format!("task ended: {join}"),
        };
        if started.elapsed() >= STABLE_AFTER {
            backoff = BASE_BACKOFF;
        }
        restarts.fetch_add(1, Ordering::Relaxed);
        tracing::error!(module = name, reason = %reason, retry_in_ms = backoff.as_millis() as u64, "module failed; restarting");
        ctx.health.set(Health::Failed(reason));
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait() => {
                ctx.health.set(Health::Stopped);
                return;
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
