//! `[[sinks]]`: delivery of stored alerts, container guard actions and scan findings.
//!
//! The sinks see what the store accepted: [`tee`] wraps the daemon's store so that every
//! successful `insert_alerts`, `upsert_action` and new `insert_findings` is offered to the
//! [`SinkSet`] right after it is written, whichever module wrote it. Offering never waits (each
//! sink has its own bounded queue and task), so the store writer and the responders are never
//! slowed by a sink. The `sinks` module starts the sink tasks, reports degraded while a sink is
//! failing, and on shutdown (in the last stage, after the writers have stopped) lets them
//! deliver what is queued.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ironpost_core::config::Config;
use ironpost_core::module::{Module, ModuleContext, ModuleError, ModuleFuture};
use ironpost_core::{ActionRecord, Alert, ScanFinding, SourceCheckpoint};
use ironpost_sinks::{SinkRecord, SinkSet, SinkState, SinkStatus};
use ironpost_store::{ActionQuery, AlertQuery, Store, StoreError};

/// The sinks of this daemon, for status and metrics; one daemon per process.
static SINKS: RwLock<Option<Arc<SinkSet>>> = RwLock::new(None);

/// The sinks as built: the set (absent when a sink could not be built) and the module.
pub struct Built {
    /// The sinks, for [`tee`].
    pub set: Option<Arc<SinkSet>>,
    /// The module running them.
    pub module: Arc<dyn Module>,
}

/// Builds the sinks of `config` (none configured: `None`). A sink that cannot be built (a
/// missing secret, an unreadable CA file) yields a module that fails with the reason, so the
/// daemon runs on and status shows why.
pub fn build(config: &Config) -> Option<Built> {
    if config.sinks.is_empty() {
        return None;
    }
    match SinkSet::build(&config.sinks) {
        Ok(set) => {
            let set = Arc::new(set);
            *SINKS.write().unwrap_or_else(|e| e.into_inner()) = Some(set.clone());
            Some(Built {
                set: Some(set.clone()),
                module: Arc::new(Sinks { set: Ok(set) }),
            })
        }
        Err(e) => {
            tracing::error!(error = %e, "sinks not started");
            Some(Built {
                set: None,
                module: Arc::new(Sinks {
                    set: Err(e.to_string()),
                }),
            })
        }
    }
}

/// Every sink's status (empty when none is configured).
pub fn status() -> Vec<SinkStatus> {
    SINKS
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|s| s.status())
        .unwrap_or_default()
}

/// The module running the sink tasks.
pub struct Sinks {
    set: Result<Arc<SinkSet>, String>,
}

impl Module for Sinks {
    fn name(&self) -> &'static str {
        "sinks"
    }

    fn run(self: Arc<Self>, ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            let set = match &self.set {
                Ok(set) => set.clone(),
                Err(e) => return Err(ModuleError::new(e.clone())),
            };
            let handles = set.start();
            ctx.health.healthy();
            let mut shutdown = ctx.shutdown.clone();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = shutdown.wait() => break,
                    _ = tick.tick() => {
                        let failing: Vec<String> = set
                            .status()
                            .into_iter()
                            .filter(|s| matches!(s.state, SinkState::Failing | SinkState::Retrying))
                            .map(|s| format!("sink {}: {}", s.name, s.last_error.unwrap_or_default()))
                            .collect();
                        if failing.is_empty() {
                            ctx.health.healthy();
                        } else {
                            ctx.health.degraded(failing.join("; "));
                        }
                    }
                }
            }
            set.stop();
            for h in handles {
                let _ = h.await;
            }
            Ok(())
        })
    }
}

/// The daemon's store, with every accepted write also offered to `sinks`.
pub fn tee(sinks: Arc<SinkSet>, inner: Arc<dyn Store>) -> Arc<dyn Store> {
    Arc::new(TeeStore { inner, sinks })
}

struct TeeStore {
    inner: Arc<dyn Store>,
    sinks: Arc<SinkSet>,
}

impl Store for TeeStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn schema_version(&self) -> Result<u32, StoreError> {
        self.inner.schema_version()
    }

    fn insert_alerts(&self, alerts: &[Alert]) -> Result<usize, StoreError> {
        let n = self.inner.insert_alerts(alerts)?;
        self.sinks.offer_alerts(alerts);
        Ok(n)
    }

    fn alert(&self, id: &str) -> Result<Option<Alert>, StoreError> {
        self.inner.alert(id)
    }

    fn alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
        self.inner.alerts(query)
    }

    fn alert_count(&self) -> Result<u64, StoreError> {
        self.inner.alert_count()
    }

    fn upsert_action(&self, action: &ActionRecord) -> Result<(), StoreError> {
        self.inner.upsert_action(action)?;
        self.sinks.offer(SinkRecord::Action(action.clone()));
        Ok(())
    }

    fn actions(&self, query: &ActionQuery) -> Result<Vec<ActionRecord>, StoreError> {
        self.inner.actions(query)
    }

    fn insert_findings(&self, findings: &[ScanFinding]) -> Result<Vec<String>, StoreError> {
        let new = self.inner.insert_findings(findings)?;
        for f in findings.iter().filter(|f| new.contains(&f.id)) {
            self.sinks.offer(SinkRecord::Finding(f.clone()));
        }
        Ok(new)
    }

    fn findings(&self, limit: usize) -> Result<Vec<ScanFinding>, StoreError> {
        self.inner.findings(limit)
    }

    fn checkpoint(&self, source: &str) -> Result<Option<SourceCheckpoint>, StoreError> {
        self.inner.checkpoint(source)
    }

    fn save_checkpoints(&self, checkpoints: &[SourceCheckpoint]) -> Result<(), StoreError> {
        self.inner.save_checkpoints(checkpoints)
    }

    fn delete_older_than(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        self.inner.delete_older_than(cutoff)
    }
}

/// A metric family: name, type, help, and the value of one sink.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&SinkStatus) -> u64,
);

/// Appends the per-sink metric families to a Prometheus exposition.
pub fn render_metrics(out: &mut String) {
    render_sink_metrics(out, &status());
}

fn render_sink_metrics(out: &mut String, sinks: &[SinkStatus]) {
    use std::fmt::Write as _;
    if sinks.is_empty() {
        return;
    }
    let families: [Family; 6] = [
        (
            "ironpost_sink_delivered_total",
            "counter",
            "Records delivered by the sink.",
            |s| s.delivered,
        ),
        (
            "ironpost_sink_dropped_total",
            "counter",
            "Records dropped because the sink's queue was full.",
            |s| s.dropped,
        ),
        (
            "ironpost_sink_failed_total",
            "counter",
            "Records whose delivery failed after every attempt.",
            |s| s.failed,
        ),
        (
            "ironpost_sink_retries_total",
            "counter",
            "Delivery attempts retried.",
            |s| s.retries,
        ),
        (
            "ironpost_sink_dead_lettered_total",
            "counter",
            "Records written to the sink's dead-letter file.",
            |s| s.dead_lettered,
        ),
        (
            "ironpost_sink_queue_length",
            "gauge",
            "Records waiting in the sink's queue.",
            |s| s.backlog,
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for s in sinks {
            let _ = writeln!(
                out,
                "{name}{{sink=\"{}\",type=\"{}\"}} {}",
                s.name.replace(['\\', '"', '\n'], "_"),
                s.kind,
                value(s)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP ironpost_sink_up 1 when the sink's last delivery succeeded, else 0.\n# TYPE ironpost_sink_up gauge"
    );
    for s in sinks {
        let up = u8::from(!matches!(s.state, SinkState::Failing | SinkState::Retrying));
        let _ = writeln!(
            out,
            "ironpost_sink_up{{sink=\"{}\",type=\"{}\"}} {up}",
            s.name.replace(['\\', '"', '\n'], "_"),
            s.kind
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(advisory: &str) -> ScanFinding {
        ScanFinding {
            id: ScanFinding::derive_id("Cargo.lock", "openssl", "0.10.1", advisory),
            host: "h1".into(),
            package: "openssl".into(),
            version: "0.10.1".into(),
            ecosystem: "crates.io".into(),
            advisory_id: advisory.into(),
            aliases: Vec::new(),
            severity: ironpost_core::Severity::High,
            fixed: vec!["0.10.2".into()],
            location: "Cargo.lock".into(),
            first_seen: Utc::now(),
        }
    }

    #[test]
    fn every_sink_has_its_metric_series() {
        let status = |name: &str, state, dropped| SinkStatus {
            name: name.into(),
            kind: "webhook".into(),
            state,
            last_error: None,
            last_error_at: None,
            backlog: 7,
            capacity: 10,
            delivered: 3,
            dropped,
            failed: 2,
            retries: 1,
            dead_lettered: 2,
        };
        let mut out = String::new();
        render_sink_metrics(
            &mut out,
            &[
                status("a", SinkState::Ok, 0),
                status("b\"x", SinkState::Retrying, 5),
            ],
        );
        for line in [
            "ironpost_sink_delivered_total{sink=\"a\",type=\"webhook\"} 3",
            "ironpost_sink_dropped_total{sink=\"b_x\",type=\"webhook\"} 5",
            "ironpost_sink_failed_total{sink=\"a\",type=\"webhook\"} 2",
            "ironpost_sink_queue_length{sink=\"a\",type=\"webhook\"} 7",
            "ironpost_sink_up{sink=\"a\",type=\"webhook\"} 1",
            "ironpost_sink_up{sink=\"b_x\",type=\"webhook\"} 0",
            "# TYPE ironpost_sink_dead_lettered_total counter",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} missing in:\n{out}");
        }
        let mut empty = String::new();
        render_sink_metrics(&mut empty, &[]);
        assert!(empty.is_empty());
    }

    #[tokio::test]
    async fn actions_and_new_findings_written_to_the_store_reach_the_sinks() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.jsonl");
        let config = Config::from_toml(
            &format!(
                "[[sinks]]\nname = \"file\"\ntype = \"jsonl\"\npath = \"{}\"\nkinds = [\"action\", \"finding\"]\n",
                out.display()
            ),
            std::path::Path::new("t.toml"),
            Vec::new(),
        )
        .unwrap();
        let set = Arc::new(SinkSet::build(&config.sinks).unwrap());
        let inner: Arc<dyn Store> =
            Arc::new(ironpost_store::SqliteStore::open(&dir.path().join("db")).unwrap());
        let store = tee(set.clone(), inner);
        let now = Utc::now();
        let mut action = ActionRecord {
            id: "act-1".into(),
            alert_id: None,
            host: "h1".into(),
            module: "container_guard".into(),
            action: "pause".into(),
            target: "web-1".into(),
            state: ironpost_core::ActionState::Planned,
            policy: None,
            error: None,
            details: serde_json::Value::Null,
            created_at: now,
            updated_at: now,
        };
        store.upsert_action(&action).unwrap();
        action.state = ironpost_core::ActionState::Done;
        store.upsert_action(&action).unwrap();
        // The second scan finds one advisory again and one new: only the new one is delivered.
        store.insert_findings(&[finding("RUSTSEC-1")]).unwrap();
        store
            .insert_findings(&[finding("RUSTSEC-1"), finding("RUSTSEC-2")])
            .unwrap();
        // Alerts are not taken by this sink's kinds.
        store
            .insert_alerts(&[Alert {
                id: ironpost_core::AlertId::derive("r", "", now),
                rule_id: "r".into(),
                title: "t".into(),
                severity: ironpost_core::Severity::Critical,
                module: "sigma".into(),
                event_time: now,
                detected_at: now,
                window_start: now,
                group: Default::default(),
                count: 1,
                attribution: Default::default(),
                tags: Vec::new(),
                evidence: Vec::new(),
            }])
            .unwrap();
        let handles = set.start();
        set.stop();
        for h in handles {
            h.await.unwrap();
        }
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let kinds: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| {
                (
                    l["kind"].as_str().unwrap(),
                    l["state"].as_str().or(l["advisory_id"].as_str()).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("action", "planned"),
                ("action", "done"),
                ("finding", "RUSTSEC-1"),
                ("finding", "RUSTSEC-2"),
            ]
        );
    }
}
