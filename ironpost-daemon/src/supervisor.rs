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
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::state::{DaemonState, ModuleEntry};

/// How long a replaced module may take to stop before it is aborted.
const REPLACE_TIMEOUT: Duration = Duration::from_secs(15);

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

/// What a reload asks of a replaceable module's slot.
enum SlotCommand {
    /// Stop the running instance, then run this one in its place.
    Replace(Arc<dyn Module>, oneshot::Sender<()>),
    /// Stop the running instance and end the slot.
    Stop(oneshot::Sender<()>),
}

/// The supervisor of every module.
pub struct Supervisor {
    state: Arc<DaemonState>,
    events: BusSender<Event>,
    alerts: BusSender<Alert>,
    stages: Vec<Stage>,
    /// The modules a reload may replace, by name.
    slots: std::collections::BTreeMap<&'static str, mpsc::UnboundedSender<SlotCommand>>,
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
            slots: std::collections::BTreeMap::new(),
        }
    }

    fn entry(&self, module: &dyn Module) -> ModuleEntry {
        let entry = ModuleEntry {
            name: module.name(),
            health: HealthHandle::default(),
            counters: Counters::default(),
            restarts: Arc::new(AtomicU64::new(0)),
        };
        // Declared counters exist, at zero, from the start.
        for name in module.counters() {
            entry.counters.counter(name);
        }
        self.state.register(entry.clone());
        entry
    }

    fn context(&self, entry: &ModuleEntry, shutdown: Shutdown) -> ModuleContext {
        ModuleContext {
            host: self.state.host.clone(),
            health: entry.health.clone(),
            counters: entry.counters.clone(),
            shutdown,
            events: self.events.clone(),
            alerts: self.alerts.clone(),
        }
    }

    /// Starts `module` in `stage` and keeps it running until that stage stops.
    pub fn spawn(&mut self, stage: usize, module: Arc<dyn Module>) {
        let entry = self.entry(module.as_ref());
        let ctx = self.context(&entry, self.stages[stage].trigger.subscribe());
        self.stages[stage]
            .tasks
            .spawn(supervise(module, ctx, entry.restarts));
    }

    /// Starts `module` in `stage` like [`Supervisor::spawn`], in a slot that
    /// [`Supervisor::replace`] can later give to a new instance built from a reloaded
    /// configuration. Health, counters and restarts carry over from one instance to the next.
    pub fn spawn_replaceable(&mut self, stage: usize, module: Arc<dyn Module>) {
        let entry = self.entry(module.as_ref());
        let (tx, rx) = mpsc::unbounded_channel();
        self.slots.insert(module.name(), tx);
        let stage_shutdown = self.stages[stage].trigger.subscribe();
        let ctx = self.context(&entry, stage_shutdown.clone());
        self.stages[stage]
            .tasks
            .spawn(run_slot(module, ctx, entry.restarts, stage_shutdown, rx));
    }

    /// Stops the running instance of the replaceable module named like `module` (waiting
    /// until it has ended, so that it saved its state), then runs `module` in its place; a
    /// module not running yet is started in `stage`.
    pub async fn replace(&mut self, stage: usize, module: Arc<dyn Module>) {
        let name = module.name();
        if let Some(tx) = self.slots.get(name) {
            let (ack, done) = oneshot::channel();
            if tx.send(SlotCommand::Replace(module.clone(), ack)).is_ok() && done.await.is_ok() {
                return;
            }
            self.slots.remove(name);
            self.state.unregister(name);
        }
        self.spawn_replaceable(stage, module);
    }

    /// Stops the replaceable module `name`, waiting until it has ended, and removes it from
    /// status and metrics. Nothing happens when it does not run.
    pub async fn stop(&mut self, name: &str) {
        if let Some(tx) = self.slots.remove(name) {
            let (ack, done) = oneshot::channel();
            if tx.send(SlotCommand::Stop(ack)).is_ok() {
                let _ = done.await;
            }
            self.state.unregister(name);
        }
    }

    /// Stops the stages in order, each after the one before has ended, within `deadline`.
    /// Returns the names of stages that did not stop in time.
    pub async fn shutdown(&mut self, deadline: Duration) -> usize {
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

/// Runs one instance after another of a replaceable module until its stage stops.
async fn run_slot(
    mut module: Arc<dyn Module>,
    ctx: ModuleContext,
    restarts: Arc<AtomicU64>,
    mut stage: Shutdown,
    mut commands: mpsc::UnboundedReceiver<SlotCommand>,
) {
    loop {
        // Each instance has its own stop signal, fired by the stage or by a replacement.
        let (trigger, shutdown) = shutdown_signal();
        let instance = ModuleContext {
            shutdown,
            ..ctx.clone()
        };
        let mut task = tokio::spawn(supervise(module.clone(), instance, restarts.clone()));
        let command = tokio::select! {
            _ = stage.wait() => None,
            command = commands.recv() => command,
            _ = &mut task => {
                // The instance only ends when told to; wait for the stage.
                stage.wait().await;
                return;
            }
        };
        trigger.fire();
        if tokio::time::timeout(REPLACE_TIMEOUT, &mut task)
            .await
            .is_err()
        {
            tracing::warn!(
                module = module.name(),
                "module did not stop in time; aborted"
            );
            task.abort();
        }
        match command {
            Some(SlotCommand::Replace(next, ack)) => {
                tracing::info!(
                    module = next.name(),
                    "module restarted with the reloaded configuration"
                );
                module = next;
                let _ = ack.send(());
            }
            Some(SlotCommand::Stop(ack)) => {
                let _ = ack.send(());
                return;
            }
            None => return,
        }
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
