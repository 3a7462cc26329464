//! The guard: from an alert to a response, with its safeguards, approvals and releases.
//!
//! [`Guard::handle_alert`] decides without waiting on anything: it attributes the alert, finds
//! the first matching policy, checks protection, cooldown, dry-run and the circuit breaker,
//! records the plan and hands it to a worker queue. Workers ([`Guard::work`]) carry the ladder
//! out with a timeout per Docker call. Every record goes to the [`Audit`] trail.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ironpost_core::config::modules::ContainerGuardConfig;
use ironpost_core::module::Counters;
use ironpost_core::{ActionRecord, ActionState, Alert};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};

use crate::actions::{self, ActionContext};
use crate::attribution::{Attributed, attribute};
use crate::audit::Audit;
use crate::error::GuardError;
use crate::inventory::{ContainerInfo, Inventory};
use crate::policy::{ActionSpec, Policy, first_match};
use crate::safeguards::Safeguards;

mod release;

pub use release::{ContainerView, Release};

/// The module name in records, metrics and status.
pub const MODULE: &str = "container_guard";

/// Every counter of the guard (docs/metrics.md), created at zero when it starts.
pub const COUNTERS: &[&str] = &[
    "alerts",
    "unattributed",
    "ambiguous",
    "no_policy",
    "protected",
    "cooldown",
    "breaker_open",
    "dry_run",
    "awaiting_approval",
    "queued",
    "queue_full",
    "actions_done",
    "actions_failed",
    "action_retries",
    "released",
    "records_written",
    "records_dropped",
    "record_write_errors",
    "inventory_resyncs",
    "log_lines",
];

/// The label that keeps a container out of every response.
pub const PROTECT_LABEL: &str = "ironpost.protect";

/// The guard's settings, from `[container_guard]`.
#[derive(Debug, Clone)]
pub struct GuardSettings {
    /// This host's name in records.
    pub host: String,
    /// Record plans without carrying them out.
    pub dry_run: bool,
    /// Default cooldown per (container, policy).
    pub cooldown: Duration,
    /// Most responses per breaker window.
    pub breaker_max: u32,
    /// The breaker window.
    pub breaker_window: Duration,
    /// Timeout of one Docker call.
    pub action_timeout: Duration,
    /// Worker count.
    pub workers: usize,
    /// Capacity of the worker queue.
    pub queue: usize,
    /// Repository of snapshot images.
    pub snapshot_repository: String,
    /// The container the daemon itself runs in, never acted on.
    pub own_container: Option<String>,
}

impl GuardSettings {
    /// Settings from the config section; the own container is detected from `/proc/self`.
    pub fn from_config(c: &ContainerGuardConfig, host: &str) -> Self {
        GuardSettings {
            host: host.to_owned(),
            dry_run: c.dry_run,
            cooldown: Duration::from_secs(c.cooldown_secs),
            breaker_max: c.breaker_max_actions,
            breaker_window: Duration::from_secs(c.breaker_window_secs.max(1)),
            action_timeout: Duration::from_secs(c.action_timeout_secs.max(1)),
            workers: c.workers.max(1),
            queue: c.queue.max(1),
            snapshot_repository: c.snapshot_repository.clone(),
            own_container: crate::cgroup::own_container_id(),
        }
    }
}

/// A response decided for one alert on one container: one policy's ladder.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The plan id; its records are `<id>.<step>`.
    pub id: String,
    /// The alert that triggered it.
    pub alert_id: String,
    /// The alert's rule.
    pub rule_id: String,
    /// The container.
    pub container: ContainerInfo,
    /// The clue that attributed the alert.
    pub via: &'static str,
    /// The policy.
    pub policy: String,
    /// The ladder.
    pub steps: Vec<ActionSpec>,
    /// The plan waits for `ironpost guard approve`.
    pub approval: bool,
    /// When it was decided.
    pub created_at: DateTime<Utc>,
}

/// What the guard decided about one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No clue names a known container: nothing is done.
    Unattributed,
    /// The clues name several containers: nothing is done.
    Ambiguous,
    /// No policy matches.
    NoPolicy,
    /// The container is protected (label or the daemon's own); suppressed records were made.
    Protected(String),
    /// The policy acted on this container within its cooldown.
    Cooldown(String),
    /// The circuit breaker is open.
    BreakerOpen(String),
    /// Dry run: the plan was recorded only.
    DryRun(String),
    /// The plan waits for `ironpost guard approve`.
    AwaitingApproval(String),
    /// The plan is queued for a worker.
    Queued(String),
    /// The worker queue is full: the plan was recorded as failed.
    QueueFull(String),
}

/// The container guard.
pub struct Guard {
    settings: GuardSettings,
    actions: ActionContext,
    inventory: Inventory,
    policies: RwLock<Arc<Vec<Policy>>>,
    safeguards: Mutex<Safeguards>,
    pending: Mutex<BTreeMap<String, Plan>>,
    records: Mutex<HashMap<String, ActionRecord>>,
    work_tx: mpsc::Sender<Plan>,
    work_rx: tokio::sync::Mutex<mpsc::Receiver<Plan>>,
    audit: Audit,
    counters: Counters,
    seq: AtomicU64,
    finished: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Guard {
    /// A guard acting through `docker` on the containers of `inventory`, recording into `store`.
    pub fn new(
        settings: GuardSettings,
        docker: bollard::Docker,
        inventory: Inventory,
        policies: Vec<Policy>,
        store: Arc<dyn ironpost_store::Store>,
        counters: Counters,
    ) -> Arc<Guard> {
        let (work_tx, work_rx) = mpsc::channel(settings.queue);
        for name in COUNTERS {
            counters.counter(name);
        }
        Arc::new(Guard {
            actions: ActionContext {
                docker,
                timeout: settings.action_timeout,
                snapshot_repository: settings.snapshot_repository.clone(),
            },
            safeguards: Mutex::new(Safeguards::new(
                settings.breaker_max,
                settings.breaker_window,
            )),
            settings,
            inventory,
            policies: RwLock::new(Arc::new(policies)),
            pending: Mutex::new(BTreeMap::new()),
            records: Mutex::new(HashMap::new()),
            work_tx,
            work_rx: tokio::sync::Mutex::new(work_rx),
            audit: Audit::new(store, 8192, counters.clone()),
            counters,
            seq: AtomicU64::new(0),
            finished: watch::channel(0).0,
        })
    }

    /// The live inventory.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The audit trail (run its writer with `audit().run()`).
    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    /// The Docker client.
    pub fn docker(&self) -> &bollard::Docker {
        &self.actions.docker
    }

    /// A receiver that sees a new value each time a worker finishes an action step (done or
    /// failed), before its record reaches the store: how the benchmark times a response.
    pub fn finished(&self) -> watch::Receiver<u64> {
        self.finished.subscribe()
    }

    /// Replaces the policies (after a reload).
    pub fn set_policies(&self, policies: Vec<Policy>) {
        *self.policies.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(policies);
    }

    fn plan_id(&self, alert: &Alert, container: &str, policy: &str) -> String {
        let mut h = Sha256::new();
        for part in [alert.id.as_str(), container, policy] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.update(Utc::now().timestamp_nanos_opt().unwrap_or(0).to_le_bytes());
        h.update(self.seq.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        h.finalize()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn protection(&self, c: &ContainerInfo) -> Option<String> {
        if self.settings.own_container.as_deref() == Some(c.id.as_str()) {
            return Some("the daemon's own container is never acted on".into());
        }
        if c.label_is_true(PROTECT_LABEL) {
            return Some(format!("protected by the label {PROTECT_LABEL}=true"));
        }
        None
    }

    fn step_record(
        &self,
        plan: &Plan,
        step: usize,
        state: ActionState,
        error: Option<String>,
        extra: Value,
    ) -> ActionRecord {
        let now = Utc::now();
        let mut details = json!({
            "plan": plan.id,
            "step": step + 1,
            "steps": plan.steps.len(),
            "container_name": plan.container.name,
            "image": plan.container.image,
            "rule_id": plan.rule_id,
            "attributed_via": plan.via,
            "approval": plan.approval,
            "spec": plan.steps[step],
        });
        if let (Some(d), Value::Object(extra)) = (details.as_object_mut(), extra) {
            d.extend(extra);
        }
        ActionRecord {
            id: format!("{}.{}", plan.id, step + 1),
            alert_id: Some(plan.alert_id.clone()),
            host: self.settings.host.clone(),
            module: MODULE.into(),
            action: plan.steps[step].name().into(),
            target: plan.container.id.clone(),
            state,
            policy: Some(plan.policy.clone()),
            error,
            details,
            created_at: plan.created_at,
            updated_at: now,
        }
    }

    /// Records every step of `plan` in `state`.
    fn record_plan(&self, plan: &Plan, state: ActionState, error: Option<&str>) {
        for i in 0..plan.steps.len() {
            let r = self.step_record(plan, i, state, error.map(str::to_owned), json!({}));
            self.keep(r);
        }
    }

    /// Remembers the latest state of a record (suppressed ones only go to the store) and
    /// queues it for the store.
    fn keep(&self, record: ActionRecord) {
        if record.state != ActionState::Suppressed {
            lock(&self.records).insert(record.id.clone(), record.clone());
        }
        self.audit.record(record);
    }

    /// Decides what to do about `alert`, without waiting on Docker or the store.
    pub fn handle_alert(&self, alert: &Alert) -> Decision {
        self.counters.add("alerts", 1);
        let (container, via) = match attribute(alert, &self.inventory) {
            Attributed::Container { container, via } => (container, via),
            Attributed::None => {
                self.counters.add("unattributed", 1);
                return Decision::Unattributed;
            }
            Attributed::Ambiguous(ids) => {
                self.counters.add("ambiguous", 1);
                tracing::info!(alert = %alert.id, containers = ?ids, "alert names several containers; no action");
                return Decision::Ambiguous;
            }
        };
        let policies = self
            .policies
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(policy) = first_match(&policies, alert, &container) else {
            self.counters.add("no_policy", 1);
            return Decision::NoPolicy;
        };
        let plan = Plan {
            id: self.plan_id(alert, &container.id, &policy.name),
            alert_id: alert.id.to_string(),
            rule_id: alert.rule_id.clone(),
            container: (*container).clone(),
            via,
            policy: policy.name.clone(),
            steps: policy.file.actions.clone(),
            approval: policy.file.approval,
            created_at: Utc::now(),
        };
        if let Some(why) = self.protection(&container) {
            self.counters.add("protected", 1);
            self.record_plan(&plan, ActionState::Suppressed, Some(&why));
            return Decision::Protected(plan.id);
        }
        let now = Instant::now();
        let mut guards = lock(&self.safeguards);
        if guards.cooling(&container.id, &policy.name, now).is_some() {
            drop(guards);
            self.counters.add("cooldown", 1);
            self.record_plan(
                &plan,
                ActionState::Suppressed,
                Some(&format!(
                    "cooldown: policy {} acted on this container recently",
                    policy.name
                )),
            );
            return Decision::Cooldown(plan.id);
        }
        let cooldown = policy
            .file
            .cooldown_secs
            .map(Duration::from_secs)
            .unwrap_or(self.settings.cooldown);
        if self.settings.dry_run || policy.file.dry_run {
            guards.start_cooldown(&container.id, &policy.name, now, cooldown);
            drop(guards);
            self.counters.add("dry_run", 1);
            self.record_plan(&plan, ActionState::DryRun, None);
            return Decision::DryRun(plan.id);
        }
        if policy.file.approval {
            guards.start_cooldown(&container.id, &policy.name, now, cooldown);
            drop(guards);
            self.counters.add("awaiting_approval", 1);
            self.record_plan(&plan, ActionState::Planned, None);
            let id = plan.id.clone();
            lock(&self.pending).insert(id.clone(), plan);
            return Decision::AwaitingApproval(id);
        }
        if !guards.admit(now) {
            let n = guards.breaker_count();
            drop(guards);
            self.counters.add("breaker_open", 1);
            self.record_plan(
                &plan,
                ActionState::Suppressed,
                Some(&format!(
                    "circuit breaker open: {n} responses within {} s",
                    self.settings.breaker_window.as_secs()
                )),
            );
            return Decision::BreakerOpen(plan.id);
        }
        guards.start_cooldown(&container.id, &policy.name, now, cooldown);
        drop(guards);
        self.enqueue(plan)
    }

    fn enqueue(&self, plan: Plan) -> Decision {
        let id = plan.id.clone();
        match self.work_tx.try_send(plan) {
            Ok(()) => {
                self.counters.add("queued", 1);
                Decision::Queued(id)
            }
            Err(e) => {
                let plan = match e {
                    mpsc::error::TrySendError::Full(p) | mpsc::error::TrySendError::Closed(p) => p,
                };
                self.counters.add("queue_full", 1);
                self.record_plan(
                    &plan,
                    ActionState::Failed,
                    Some("the guard's worker queue is full"),
                );
                Decision::QueueFull(id)
            }
        }
    }

    /// Approves the plan `id` (a plan id or one of its record ids) and queues it.
    pub fn approve(&self, id: &str) -> Result<String, GuardError> {
        let plan_id = id.split('.').next().unwrap_or(id);
        let plan = lock(&self.pending)
            .remove(plan_id)
            .ok_or_else(|| GuardError::UnknownPlan(id.to_owned()))?;
        let mut guards = lock(&self.safeguards);
        if !guards.admit(Instant::now()) {
            let n = guards.breaker_count();
            drop(guards);
            lock(&self.pending).insert(plan.id.clone(), plan);
            return Err(GuardError::BreakerOpen(n));
        }
        drop(guards);
        match self.enqueue(plan) {
            Decision::Queued(id) => Ok(id),
            _ => Err(GuardError::Log("the guard's worker queue is full".into())),
        }
    }

    /// Plans waiting for approval.
    pub fn pending(&self) -> Vec<Plan> {
        lock(&self.pending).values().cloned().collect()
    }

    /// Runs one worker: takes plans off the queue and carries them out, until the queue closes.
    pub async fn work(&self) {
        loop {
            let plan = { self.work_rx.lock().await.recv().await };
            let Some(plan) = plan else { return };
            self.execute(&plan).await;
        }
    }

    /// Carries out every step of `plan` in order; a failed step does not stop the ladder, since
    /// each later step contains the container further.
    pub async fn execute(&self, plan: &Plan) {
        self.record_plan(plan, ActionState::Planned, None);
        for (i, step) in plan.steps.iter().enumerate() {
            let record = match self.execute_step(plan, step).await {
                Ok(details) => {
                    self.counters.add("actions_done", 1);
                    self.step_record(plan, i, ActionState::Done, None, details)
                }
                Err(e) => {
                    self.counters.add("actions_failed", 1);
                    tracing::warn!(plan = %plan.id, action = step.name(), container = %plan.container.name, error = %e, "container action failed");
                    self.step_record(plan, i, ActionState::Failed, Some(e.to_string()), json!({}))
                }
            };
            self.keep(record);
            self.finished.send_modify(|n| *n += 1);
        }
    }

    /// Carries out one step; an engine that did not answer (restarting, socket briefly gone) is
    /// tried again twice, after 0.5 s and 1 s, before the step counts as failed.
    async fn execute_step(&self, plan: &Plan, step: &ActionSpec) -> Result<Value, GuardError> {
        let mut delay = Duration::from_millis(500);
        let mut attempt = 0;
        loop {
            match actions::execute(&self.actions, step, &plan.container, &plan.alert_id).await {
                Err(GuardError::DockerUnreachable { .. } | GuardError::Timeout { .. })
                    if attempt < 2 =>
                {
                    attempt += 1;
                    self.counters.add("action_retries", 1);
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                other => return other,
            }
        }
    }
}
