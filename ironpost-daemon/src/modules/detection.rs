//! `[sigma]`: the detection module. Reads events off the event bus, runs the Sigma engine on
//! them (routing by log source, correlations on event time) and sends alerts on the alert bus.
//!
//! Rules are read when the module starts. Refused rule files do not stop the module: it runs the
//! rest and reports degraded, naming how many were refused. A reload hands it a new engine,
//! compiled and checked beforehand, which takes over between two batches of events (the
//! correlation state of the old engine is dropped with it).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ironpost_core::bus::BusReceiver;
use ironpost_core::config::modules::SigmaConfig;
use ironpost_core::module::{Module, ModuleContext, ModuleError, ModuleFuture};
use ironpost_core::{Alert, Event};
use ironpost_sigma::{Engine, EngineConfig, EngineStats, Loader, LogSourceMap};
use tokio::sync::Mutex;

/// Events taken off the bus per batch.
const BATCH: usize = 256;

/// A new engine for the running module, from a reloaded configuration or rule set.
pub struct EngineUpdate {
    /// The `[sigma]` section it was built from (a later restart of the module reads it).
    pub config: SigmaConfig,
    /// The compiled rules.
    pub engine: Engine,
    /// Problems worth a degraded health (rule files refused before and still refused).
    pub problems: Vec<String>,
}

/// The rule files (`FILE: kind: reason`) the running engine refused: a reload refuses only
/// rule files that were not refused already.
pub type RefusedRules = Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>;

/// The Sigma detection module.
pub struct Detection {
    refused: RefusedRules,
    config: std::sync::Mutex<SigmaConfig>,
    rx: Mutex<BusReceiver<Event>>,
    updates: Mutex<tokio::sync::mpsc::Receiver<EngineUpdate>>,
    updates_tx: tokio::sync::mpsc::Sender<EngineUpdate>,
}

impl Detection {
    /// A module reading events from `rx`.
    pub fn new(config: SigmaConfig, rx: BusReceiver<Event>) -> Self {
        let (updates_tx, updates) = tokio::sync::mpsc::channel(1);
        Detection {
            refused: RefusedRules::default(),
            config: std::sync::Mutex::new(config),
            rx: Mutex::new(rx),
            updates: Mutex::new(updates),
            updates_tx,
        }
    }

    /// The rule files the running engine refused.
    pub fn refused(&self) -> RefusedRules {
        self.refused.clone()
    }

    /// Where a reload sends a new engine.
    pub fn updates(&self) -> tokio::sync::mpsc::Sender<EngineUpdate> {
        self.updates_tx.clone()
    }
}

/// Every `.yml`/`.yaml` file under `path` (or `path` itself), sorted.
fn rule_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rule_files(&p, out)?;
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
            && p.file_name().and_then(|n| n.to_str()) != Some("logsources.yaml")
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Builds the engine from the configuration; the second value lists problems worth a
/// degraded health (refused files, unreadable paths).
#[cfg(test)]
pub fn load_engine(config: &SigmaConfig, host: &str) -> Result<(Engine, Vec<String>), ModuleError> {
    load_rules(config, host).map(|l| (l.engine, l.problems))
}

/// Rules compiled from a `[sigma]` section.
pub struct LoadedRules {
    /// The engine.
    pub engine: Engine,
    /// Problems worth a degraded health.
    pub problems: Vec<String>,
    /// Each refused file and unreadable path: `FILE: invalid|unsupported: REASON` (the reason
    /// of a YAML error names its line and column).
    pub refused: Vec<String>,
}

/// A hash of everything the rules are built from: the section, the log-source mapping and
/// every rule file's name and content. Equal hashes mean an equal engine.
pub fn rules_fingerprint(config: &SigmaConfig) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(config)
        .unwrap_or_default()
        .hash(&mut h);
    std::fs::read(&config.logsources).ok().hash(&mut h);
    let mut files = Vec::new();
    for p in &config.rules {
        let _ = rule_files(p, &mut files);
    }
    for f in files {
        f.hash(&mut h);
        std::fs::read(&f).ok().hash(&mut h);
    }
    h.finish()
}

/// Builds the engine from the configuration, with every refusal.
pub fn load_rules(config: &SigmaConfig, host: &str) -> Result<LoadedRules, ModuleError> {
    let mut map = LogSourceMap::default_map();
    if !config.logsources.as_os_str().is_empty() {
        let p = &config.logsources;
        let text = std::fs::read_to_string(p).map_err(|e| {
            ModuleError::new(format!(
                "sigma.logsources: cannot read {}: {e}",
                p.display()
            ))
        })?;
        map.extend_yaml(&text, &p.display().to_string())
            .map_err(|e| ModuleError::new(e.to_string()))?;
    }
    let engine_config = EngineConfig {
        suppression_secs: config.suppression_secs,
        correlation_memory_bytes: usize::try_from(
            config.correlation_memory_mb.saturating_mul(1 << 20),
        )
        .unwrap_or(usize::MAX),
        placeholders: config.placeholders.clone().into_iter().collect(),
        host: host.to_owned(),
    };
    let mut problems = Vec::new();
    let mut refused = Vec::new();
    let mut files = Vec::new();
    for p in &config.rules {
        if let Err(e) = rule_files(p, &mut files) {
            let message = format!("sigma.rules: cannot read {}: {e}", p.display());
            refused.push(message.clone());
            problems.push(message);
        }
    }
    let mut loader = Loader::new(map, engine_config);
    for f in files {
        match std::fs::read_to_string(&f) {
            Ok(text) => loader.add_file(&f.display().to_string(), &text),
            Err(e) => {
                let message = format!("cannot read rule file {}: {e}", f.display());
                refused.push(message.clone());
                problems.push(message);
            }
        }
    }
    let (engine, report) = loader.build();
    for e in report.errors() {
        tracing::warn!(target: "sigma", "rule refused: {e}");
        refused.push(e.to_string());
    }
    if !report.all_loaded() {
        problems.push(format!(
            "{} rule files refused ({} unsupported, {} invalid); see the log or `ironpost rules validate`",
            report.unsupported + report.invalid,
            report.unsupported,
            report.invalid
        ));
    }
    Ok(LoadedRules {
        engine,
        problems,
        refused,
    })
}

/// The alert with an id that also depends on the host: the engine derives ids from rule, group
/// key and window start, and two hosts of a fleet sharing one store must never share an id for
/// what are two detections (the same source failing on both within the same second, say).
fn fleet_id(host: &str, mut alert: Alert) -> Alert {
    alert.id = ironpost_core::AlertId::derive(
        &alert.rule_id,
        &format!("{host}/{}", alert.id),
        alert.window_start,
    );
    alert
}

/// Acknowledges the events whose alerts the store has committed.
fn release(rx: &BusReceiver<Event>, ctx: &ModuleContext, pending: &mut VecDeque<(u64, u64)>) {
    let stored = ctx.alerts.acked();
    while let Some(&(events, alerts)) = pending.front() {
        if alerts > stored {
            break;
        }
        rx.ack(events);
        pending.pop_front();
    }
}

/// Monotonic counters fed from the engine's cumulative stats.
struct Metrics {
    events: Arc<AtomicU64>,
    matches: Arc<AtomicU64>,
    alerts: Arc<AtomicU64>,
    suppressed: Arc<AtomicU64>,
    evictions: Arc<AtomicU64>,
    unrouted: Arc<AtomicU64>,
    last: EngineStats,
}

impl Metrics {
    fn update(&mut self, now: EngineStats) {
        let add = |c: &AtomicU64, new: u64, old: u64| {
            c.fetch_add(new.saturating_sub(old), Ordering::Relaxed)
        };
        add(&self.events, now.events, self.last.events);
        add(&self.matches, now.matches, self.last.matches);
        add(&self.alerts, now.alerts, self.last.alerts);
        add(&self.suppressed, now.suppressed, self.last.suppressed);
        add(
            &self.evictions,
            now.correlation_evictions,
            self.last.correlation_evictions,
        );
        add(&self.unrouted, now.unrouted, self.last.unrouted);
        self.last = now;
    }
}

impl Module for Detection {
    fn name(&self) -> &'static str {
        "sigma"
    }

    fn run(self: Arc<Self>, mut ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            let config = self
                .config
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let host = ctx.host.clone();
            let LoadedRules {
                mut engine,
                problems,
                refused,
            } = tokio::task::spawn_blocking(move || load_rules(&config, &host))
                .await
                .map_err(|e| ModuleError::new(format!("rule loading panicked: {e}")))??;
            *self.refused.lock().unwrap_or_else(|e| e.into_inner()) = refused.into_iter().collect();
            ctx.counters.counter("rules_loaded").store(
                (engine.rule_count() + engine.correlation_count()) as u64,
                Ordering::Relaxed,
            );
            if problems.is_empty() {
                ctx.health.healthy();
            } else {
                ctx.health.degraded(problems.join("; "));
            }
            let mut metrics = Metrics {
                events: ctx.counters.counter("events"),
                matches: ctx.counters.counter("matches"),
                alerts: ctx.counters.counter("alerts"),
                suppressed: ctx.counters.counter("alerts_suppressed"),
                evictions: ctx.counters.counter("correlation_evictions"),
                unrouted: ctx.counters.counter("events_unrouted"),
                last: EngineStats::default(),
            };
            let mut rx = self.rx.lock().await;
            // An event is done once its alerts are stored: the file sources checkpoint only
            // what is done, so a crash never skips a line (docs/architecture.md, "Restarts
            // and kill -9").
            rx.manual_ack();
            let mut pending: VecDeque<(u64, u64)> = VecDeque::new();
            let mut settle = tokio::time::interval(Duration::from_millis(20));
            settle.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut updates = self.updates.lock().await;
            let mut batch = Vec::with_capacity(BATCH);
            let mut out: Vec<Alert> = Vec::new();
            loop {
                tokio::select! {
                    n = rx.recv_many(&mut batch, BATCH) => {
                        if n == 0 {
                            return Ok(());
                        }
                        for event in batch.drain(..) {
                            engine.process(&event, &mut |a| out.push(a.alert));
                        }
                        metrics.update(engine.stats());
                        let raised = !out.is_empty();
                        for alert in out.drain(..) {
                            let alert = fleet_id(&ctx.host, alert);
                            // Waiting here pushes back on the event bus, which counts its drops;
                            // once stopping, a full alert bus drops (and counts) instead.
                            let mut stop = ctx.shutdown.clone();
                            tokio::select! {
                                r = ctx.alerts.send(alert.clone()) => if r.is_err() {
                                    return Ok(());
                                },
                                _ = stop.wait() => {
                                    let _ = ctx.alerts.try_send(alert);
                                }
                            }
                        }
                        if raised || !pending.is_empty() {
                            pending.push_back((rx.received(), ctx.alerts.sent()));
                        } else {
                            rx.ack(rx.received());
                        }
                        release(&rx, &ctx, &mut pending);
                    }
                    _ = settle.tick(), if !pending.is_empty() => release(&rx, &ctx, &mut pending),
                    Some(update) = updates.recv() => {
                        engine = update.engine;
                        metrics.last = EngineStats::default();
                        ctx.counters.counter("rules_loaded").store(
                            (engine.rule_count() + engine.correlation_count()) as u64,
                            Ordering::Relaxed,
                        );
                        if update.problems.is_empty() {
                            ctx.health.healthy();
                        } else {
                            ctx.health.degraded(update.problems.join("; "));
                        }
                        tracing::info!(rules = engine.rule_count(), correlations = engine.correlation_count(), "sigma rules reloaded");
                        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = update.config;
                    }
                    _ = ctx.shutdown.wait() => {
                        // Detection stops after the sensors: finish what is queued.
                        rx.close();
                        while let Some(event) = rx.try_recv() {
                            engine.process(&event, &mut |a| out.push(a.alert));
                        }
                        metrics.update(engine.stats());
                        for alert in out.drain(..) {
                            let alert = fleet_id(&ctx.host, alert);
                            let _ = ctx.alerts.try_send(alert);
                        }
                        return Ok(());
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_pack_loads_without_problems() {
        let config = SigmaConfig {
            rules: vec![PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../rules"
            ))],
            ..SigmaConfig::default()
        };
        let (engine, problems) = load_engine(&config, "h").unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert!(engine.rule_count() >= 8);
        assert!(engine.correlation_count() >= 4);
    }

    #[tokio::test]
    async fn events_in_alerts_out() {
        use ironpost_core::bus::bus;
        use ironpost_core::event::LogRecord;
        use ironpost_core::module::{Counters, HealthHandle, shutdown_signal};

        let config = SigmaConfig {
            rules: vec![PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../rules"
            ))],
            ..SigmaConfig::default()
        };
        let (events_tx, events_rx) = bus::<Event>("events", 64);
        let (alerts_tx, mut alerts_rx) = bus::<Alert>("alerts", 64);
        let (trigger, shutdown) = shutdown_signal();
        let counters = Counters::default();
        let health = HealthHandle::default();
        let ctx = ModuleContext {
            host: "web1".into(),
            health: health.clone(),
            counters: counters.clone(),
            shutdown,
            events: events_tx.clone(),
            alerts: alerts_tx,
        };
        let module = Arc::new(Detection::new(config, events_rx));
        let task = tokio::spawn(module.run(ctx));
        for i in 0..6 {
            let mut rec = LogRecord::new(
                "auth",
                "rfc3164",
                "Failed password for root from 203.0.113.7 port 4242 ssh2",
            );
            rec.service = Some("sshd".into());
            rec.timestamp += chrono::Duration::seconds(i);
            rec.fields.insert("src_ip", "203.0.113.7");
            events_tx.send(Event::Log(rec)).await.unwrap();
        }
        let alert = alerts_rx.recv().await.unwrap();
        assert_eq!(alert.title, "SSH Brute Force");
        assert_eq!(
            alert.group.get("src").map(String::as_str),
            Some("203.0.113.7")
        );
        assert_eq!(alert.attribution.host, "web1");
        assert_eq!(
            alert.attribution.src_ip,
            Some("203.0.113.7".parse().unwrap())
        );
        trigger.fire();
        task.await.unwrap().unwrap();
        assert!(health.get().is_ok(), "{}", health.get());
        assert_eq!(counters.snapshot()["events"], 6);
        assert_eq!(counters.snapshot()["alerts"], 1);
    }

    #[test]
    fn missing_rule_path_is_a_problem_not_a_crash() {
        let config = SigmaConfig {
            rules: vec![PathBuf::from("/nonexistent/rules")],
            ..SigmaConfig::default()
        };
        let (engine, problems) = load_engine(&config, "h").unwrap();
        assert_eq!(engine.rule_count(), 0);
        assert!(
            problems.iter().any(|p| p.contains("/nonexistent/rules")),
            "{problems:?}"
        );
    }
}
