//! Alert delivery: every stored alert, container guard action and scan finding reaches the
//! people and systems that must see it.
//!
//! ```text
//!  store (alerts, actions, findings written) ─ SinkSet::offer ─┬─ filter ─ queue ─ task ─ jsonl file (rotated)
//!                          (never waits: a full queue drops    ├─ filter ─ queue ─ task ─ webhook (HTTPS, batches)
//!                           and counts, per sink)              ├─ filter ─ queue ─ task ─ Alertmanager /api/v2/alerts
//!                                                              ├─ filter ─ queue ─ task ─ syslog RFC 5424 udp/tcp/tls
//!                                                              └─ filter ─ queue ─ task ─ stdout
//! ```
//!
//! Each `[[sinks]]` entry becomes one sink: a [`Filter`], a bounded queue and a task of its own
//! that takes up to `batch_size` records at a time and delivers them, retrying with exponential
//! backoff up to `max_attempts` and then writing them to the dead-letter file. A slow or dead
//! sink therefore only fills its own queue: [`SinkSet::offer`] never waits, and what a full
//! queue cannot hold is counted in that sink's `dropped`.

mod alertmanager;
mod deliver;
mod http;
mod jsonl;
mod record;
mod stdout;
mod syslog;
mod template;
mod tls;
mod webhook;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use ironpost_core::config::sinks::{SecretError, SinkConfig, resolve_secret};
use ironpost_core::{Alert, Severity};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

pub use record::{Record, SinkRecord};
pub use syslog::format_rfc5424;

/// Why a sink could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A secret reference could not be read.
    #[error("sink `{sink}`, key `{key}`: {source}")]
    Secret {
        /// The sink's name.
        sink: String,
        /// The key holding the reference.
        key: String,
        /// What went wrong.
        source: SecretError,
    },
    /// Some other value is unusable (an unreadable CA file, a bad URL or header).
    #[error("sink `{sink}`, key `{key}`: {message}")]
    Invalid {
        /// The sink's name.
        sink: String,
        /// The key.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Which records a sink takes.
#[derive(Debug, Clone)]
pub struct Filter {
    min_severity: Severity,
    rules: Vec<String>,
    tags: Vec<String>,
    modules: Vec<String>,
    kinds: Vec<String>,
}

impl Filter {
    /// The filter of a sink's configuration.
    pub fn from_config(config: &SinkConfig) -> Filter {
        Filter {
            min_severity: config.min_severity,
            rules: config.rules.clone(),
            tags: config.tags.clone(),
            modules: config.modules.clone(),
            kinds: config.kinds.clone(),
        }
    }

    /// Whether `record` passes: its kind is taken (an empty list takes every kind), its severity (if it has one) reaches the
    /// minimum, its module is listed (if any are), and an alert's rule and tags match the lists.
    pub fn matches(&self, record: &SinkRecord) -> bool {
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k == record.kind()) {
            return false;
        }
        if record.severity().is_some_and(|s| s < self.min_severity) {
            return false;
        }
        if !self.modules.is_empty() && !self.modules.iter().any(|m| m == record.module()) {
            return false;
        }
        if let SinkRecord::Alert(a) = record {
            if !self.rules.is_empty() && !self.rules.iter().any(|p| rule_matches(p, &a.rule_id)) {
                return false;
            }
            if !self.tags.is_empty() && !a.tags.iter().any(|t| self.tags.contains(t)) {
                return false;
            }
        }
        true
    }
}

fn rule_matches(pattern: &str, rule: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => rule.starts_with(prefix),
        None => pattern == rule,
    }
}

/// Where a sink stands, as status shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkState {
    /// Not yet running.
    Starting,
    /// The last delivery succeeded (or none was needed yet).
    Ok,
    /// The last attempt failed; retrying.
    Retrying,
    /// The last delivery failed after every attempt.
    Failing,
    /// Stopped on shutdown.
    Stopped,
}

/// The counters and state of one sink, shared by its task, status and metrics.
#[derive(Debug)]
pub struct SinkStats {
    delivered: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    dead_lettered: AtomicU64,
    state: Mutex<(SinkState, Option<String>, Option<DateTime<Utc>>)>,
}

impl Default for SinkStats {
    fn default() -> Self {
        SinkStats {
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            state: Mutex::new((SinkState::Starting, None, None)),
        }
    }
}

impl SinkStats {
    /// Records delivered.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Records dropped because the sink's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records whose delivery failed after every attempt.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Retried delivery attempts.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Records written to the dead-letter file.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    /// The state.
    pub fn state(&self) -> SinkState {
        self.lock().0
    }

    /// The last error and when it happened.
    pub fn last_error(&self) -> Option<(String, DateTime<Utc>)> {
        let g = self.lock();
        g.1.clone().zip(g.2)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, (SinkState, Option<String>, Option<DateTime<Utc>>)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_state(&self, state: SinkState) {
        self.lock().0 = state;
    }

    pub(crate) fn error(&self, state: SinkState, message: &str) {
        let mut g = self.lock();
        g.0 = state;
        g.1 = Some(message.to_owned());
        g.2 = Some(Utc::now());
    }
}

/// One sink in the status document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinkStatus {
    /// The sink's name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `starting`, `ok`, `retrying`, `failing` or `stopped`.
    pub state: SinkState,
    /// The last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the last error happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<DateTime<Utc>>,
    /// Records waiting in its queue.
    pub backlog: u64,
    /// Its queue's capacity.
    pub capacity: u64,
    /// Records delivered.
    pub delivered: u64,
    /// Records dropped because the queue was full.
    pub dropped: u64,
    /// Records that failed after every attempt.
    pub failed: u64,
    /// Retried attempts.
    pub retries: u64,
    /// Records written to the dead-letter file.
    pub dead_lettered: u64,
}

struct Slot {
    name: String,
    kind: &'static str,
    filter: Filter,
    tx: mpsc::Sender<Arc<Record>>,
    capacity: usize,
    stats: Arc<SinkStats>,
    pending: Mutex<Option<(mpsc::Receiver<Arc<Record>>, deliver::Driver)>>,
}

/// Every configured sink: offer records to all of them, start their tasks, read their status.
pub struct SinkSet {
    slots: Vec<Slot>,
    stop: watch::Sender<bool>,
}

impl SinkSet {
    /// Builds every sink of `configs` (secrets resolved, CA files read); nothing runs until
    /// [`SinkSet::start`].
    pub fn build(configs: &[SinkConfig]) -> Result<SinkSet, SinkError> {
        let mut slots = Vec::with_capacity(configs.len());
        for c in configs {
            let secret = |key: &str, value: &str| {
                resolve_secret(value).map_err(|source| SinkError::Secret {
                    sink: c.name.clone(),
                    key: key.to_owned(),
                    source,
                })
            };
            let invalid = |key: &str, message: String| SinkError::Invalid {
                sink: c.name.clone(),
                key: key.to_owned(),
                message,
            };
            let (kind, output): (&'static str, deliver::Output) = match c.kind.as_str() {
                "jsonl" => ("jsonl", deliver::Output::Jsonl(jsonl::JsonlFile::new(c))),
                "stdout" => ("stdout", deliver::Output::Stdout(stdout::Stdout)),
                "webhook" | "alertmanager" => {
                    let url = secret("url", &c.url)?;
                    let mut headers = Vec::new();
                    for (k, v) in &c.headers {
                        headers.push((k.clone(), secret(&format!("headers.{k}"), v)?));
                    }
                    let token = secret("token", &c.token)?;
                    if !token.is_empty() {
                        headers.push(("authorization".into(), format!("Bearer {token}")));
                    }
                    if !c.username.is_empty() {
                        let password = secret("password", &c.password)?;
                        let pair = format!("{}:{password}", c.username);
                        headers.push((
                            "authorization".into(),
                            format!("Basic {}", http::base64(pair.as_bytes())),
                        ));
                    }
                    let client = http::HttpClient::new(&url, headers, &c.ca_file, &c.content_type)
                        .map_err(|m| invalid("url", m))?;
                    if c.kind == "webhook" {
                        let template = (!c.body_template.is_empty())
                            .then(|| template::Template::parse(&c.body_template));
                        (
                            "webhook",
                            deliver::Output::Webhook(webhook::Webhook::new(client, template)),
                        )
                    } else {
                        (
                            "alertmanager",
                            deliver::Output::Alertmanager(alertmanager::Alertmanager::new(
                                client,
                                c.resolve_after_secs,
                                c.labels.clone(),
                            )),
                        )
                    }
                }
                "syslog" => (
                    "syslog",
                    deliver::Output::Syslog(
                        syslog::Syslog::new(c).map_err(|m| invalid("ca_file", m))?,
                    ),
                ),
                other => {
                    return Err(invalid("type", format!("`{other}` is not a sink type")));
                }
            };
            let capacity = c.queue.max(1);
            let (tx, rx) = mpsc::channel(capacity);
            let stats = Arc::new(SinkStats::default());
            let driver = deliver::Driver::new(c, output, stats.clone());
            slots.push(Slot {
                name: c.name.clone(),
                kind,
                filter: Filter::from_config(c),
                tx,
                capacity,
                stats,
                pending: Mutex::new(Some((rx, driver))),
            });
        }
        Ok(SinkSet {
            slots,
            stop: watch::channel(false).0,
        })
    }

    /// True when no sink is configured.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Hands `record` to every sink whose filter takes it, without waiting; a full queue drops
    /// it for that sink and counts the drop. Returns how many sinks took it.
    pub fn offer(&self, record: SinkRecord) -> usize {
        let takers: Vec<&Slot> = self
            .slots
            .iter()
            .filter(|s| s.filter.matches(&record))
            .collect();
        if takers.is_empty() {
            return 0;
        }
        let shared = Arc::new(Record::new(record));
        let mut taken = 0;
        for slot in takers {
            match slot.tx.try_send(shared.clone()) {
                Ok(()) => taken += 1,
                Err(_) => {
                    slot.stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        taken
    }

    /// Offers every alert of `alerts`.
    pub fn offer_alerts(&self, alerts: &[Alert]) {
        if self.slots.is_empty() {
            return;
        }
        for a in alerts {
            self.offer(SinkRecord::Alert(a.clone()));
        }
    }

    /// Starts each sink's task on the current runtime (once; later calls start nothing).
    pub fn start(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        for slot in &self.slots {
            let pending = slot
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some((rx, driver)) = pending {
                handles.push(tokio::spawn(driver.run(rx, self.stop.subscribe())));
            }
        }
        handles
    }

    /// Tells every sink to deliver what is queued (one attempt per batch, then the dead-letter
    /// file) and stop once its queue has stayed empty briefly.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Every sink's status.
    pub fn status(&self) -> Vec<SinkStatus> {
        self.slots
            .iter()
            .map(|s| {
                let err = s.stats.last_error();
                SinkStatus {
                    name: s.name.clone(),
                    kind: s.kind.to_owned(),
                    state: s.stats.state(),
                    last_error: err.as_ref().map(|e| e.0.clone()),
                    last_error_at: err.map(|e| e.1),
                    backlog: (s.capacity - s.tx.capacity()) as u64,
                    capacity: s.capacity as u64,
                    delivered: s.stats.delivered(),
                    dropped: s.stats.dropped(),
                    failed: s.stats.failed(),
                    retries: s.stats.retries(),
                    dead_lettered: s.stats.dead_lettered(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn alert(rule: &str, severity: Severity, n: u64) -> Alert {
        let t = Utc::now();
        let group = std::collections::BTreeMap::from([("n".to_owned(), n.to_string())]);
        Alert {
            id: ironpost_core::AlertId::derive(rule, &Alert::group_key(&group), t),
            rule_id: rule.into(),
            title: format!("Test alert {n}"),
            severity,
            module: "sigma".into(),
            event_time: t,
            detected_at: t,
            window_start: t,
            group,
            count: 1,
            attribution: ironpost_core::Attribution {
                host: "h1".into(),
                ..Default::default()
            },
            tags: vec!["attack.t1110".into()],
            evidence: Vec::new(),
        }
    }

    fn config(text: &str) -> Vec<SinkConfig> {
        ironpost_core::config::Config::from_toml(text, std::path::Path::new("t"), Vec::new())
            .unwrap()
            .sinks
    }

    #[test]
    fn filters_take_severity_rules_tags_modules_and_kinds() {
        let c = config(
            "[[sinks]]\nname = \"a\"\ntype = \"stdout\"\nmin_severity = \"high\"\nrules = [\"ssh.*\", \"exact\"]\ntags = [\"attack.t1110\"]\nmodules = [\"sigma\"]\nkinds = [\"alert\"]\n",
        );
        let f = Filter::from_config(&c[0]);
        let ok = |a: Alert| f.matches(&SinkRecord::Alert(a));
        assert!(ok(alert("ssh.brute", Severity::High, 1)));
        assert!(ok(alert("exact", Severity::Critical, 1)));
        assert!(!ok(alert("exactly", Severity::Critical, 1)));
        assert!(!ok(alert("ssh.brute", Severity::Medium, 1)));
        let mut a = alert("ssh.brute", Severity::High, 1);
        a.tags.clear();
        assert!(!ok(a));
        let mut a = alert("ssh.brute", Severity::High, 1);
        a.module = "network".into();
        assert!(!ok(a));
        let action = record::tests::action();
        assert!(!f.matches(&SinkRecord::Action(action.clone())));
        let all = Filter::from_config(
            &config("[[sinks]]\nname = \"a\"\ntype = \"stdout\"\nmin_severity = \"critical\"\n")[0],
        );
        // Actions carry no severity, so a severity floor lets them through.
        assert!(all.matches(&SinkRecord::Action(action)));
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_for_that_sink_only() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(&format!(
            "[[sinks]]\nname = \"small\"\ntype = \"stdout\"\nqueue = 2\n[[sinks]]\nname = \"big\"\ntype = \"jsonl\"\npath = \"{}\"\nqueue = 100\nmin_severity = \"low\"\n",
            dir.path().join("a.jsonl").display()
        ));
        let set = SinkSet::build(&c).unwrap();
        // Not started: nothing is taken off the queues.
        for n in 0..10 {
            set.offer(SinkRecord::Alert(alert("r", Severity::Medium, n)));
        }
        set.offer(SinkRecord::Alert(alert("r", Severity::Informational, 99)));
        let st = set.status();
        assert_eq!((st[0].backlog, st[0].dropped), (2, 9));
        assert_eq!((st[1].backlog, st[1].dropped), (10, 0));
        let handles = set.start();
        set.stop();
        for h in handles {
            h.await.unwrap();
        }
        let st = set.status();
        assert_eq!(st[1].delivered, 10);
        assert_eq!(st[1].state, SinkState::Stopped);
        let text = std::fs::read_to_string(dir.path().join("a.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 10);
    }
}
