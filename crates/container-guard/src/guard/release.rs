//! The ways back and the views: releasing a container, taking back the plans that waited for
//! approval across a restart, and the per-container overview of `ironpost guard list`.

use std::collections::BTreeMap;

use chrono::Utc;
use ironpost_core::{ActionRecord, ActionState};
use ironpost_store::ActionQuery;
use serde::Serialize;
use serde_json::json;

use super::{Guard, MODULE, Plan, lock};
use crate::actions;
use crate::error::GuardError;
use crate::inventory::ContainerInfo;
use crate::policy::ActionSpec;

/// What a release did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Release {
    /// The container.
    pub container: String,
    /// Records moved to `released`.
    pub released: Vec<ActionRecord>,
    /// Undo steps that failed (the records stay `done`).
    pub errors: Vec<String>,
}

/// One container as `ironpost guard list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerView {
    /// The container.
    #[serde(flatten)]
    pub info: ContainerInfo,
    /// True when the guard never acts on it.
    pub protected: bool,
    /// Actions done and not released.
    pub active: Vec<String>,
    /// Plans waiting for approval.
    pub pending: Vec<String>,
}

impl Guard {
    /// Takes back the plans that were waiting for approval when the daemon stopped: approval
    /// plans of this host whose every step is still `planned` in the store. Returns how many.
    pub async fn restore_pending(&self) -> Result<usize, GuardError> {
        let store = self.audit.store().clone();
        let query = ActionQuery {
            target: None,
            alert_id: None,
            limit: 10_000,
        };
        let records = tokio::task::spawn_blocking(move || store.actions(&query))
            .await
            .map_err(|e| GuardError::Log(e.to_string()))?
            .map_err(|e| GuardError::Log(e.to_string()))?;
        let mut plans: BTreeMap<String, Vec<ActionRecord>> = BTreeMap::new();
        for r in records {
            if r.module == MODULE
                && r.host == self.settings.host
                && r.details["approval"] == json!(true)
                && let Some(plan) = r.details["plan"].as_str()
            {
                plans.entry(plan.to_owned()).or_default().push(r);
            }
        }
        let mut restored = 0;
        for (id, mut steps) in plans {
            if steps.iter().any(|r| r.state != ActionState::Planned)
                || lock(&self.pending).contains_key(&id)
            {
                continue;
            }
            steps.sort_by_key(|r| r.details["step"].as_u64().unwrap_or(0));
            let total = steps[0].details["steps"].as_u64().unwrap_or(0) as usize;
            let specs: Option<Vec<ActionSpec>> = steps
                .iter()
                .map(|r| serde_json::from_value(r.details["spec"].clone()).ok())
                .collect();
            let Some(specs) = specs.filter(|s| s.len() == total) else {
                continue;
            };
            let first = &steps[0];
            let text = |k: &str| first.details[k].as_str().unwrap_or("").to_owned();
            let container = match self.inventory.get(&first.target) {
                Some(c) => (*c).clone(),
                None => ContainerInfo {
                    id: first.target.clone(),
                    name: text("container_name"),
                    image: text("image"),
                    ..ContainerInfo::default()
                },
            };
            let plan = Plan {
                id: id.clone(),
                alert_id: first.alert_id.clone().unwrap_or_default(),
                rule_id: text("rule_id"),
                container,
                via: "restored",
                policy: first.policy.clone().unwrap_or_default(),
                steps: specs,
                approval: true,
                created_at: first.created_at,
            };
            lock(&self.pending).insert(id, plan);
            restored += 1;
        }
        Ok(restored)
    }

    /// Every record of `container_id`: the store's, updated by the newer ones of this process.
    async fn records_of(&self, container_id: &str) -> Result<Vec<ActionRecord>, GuardError> {
        let store = self.audit.store().clone();
        let query = ActionQuery {
            target: Some(container_id.to_owned()),
            alert_id: None,
            limit: 0,
        };
        let stored = tokio::task::spawn_blocking(move || store.actions(&query))
            .await
            .map_err(|e| GuardError::Log(e.to_string()))?
            .map_err(|e| GuardError::Log(e.to_string()))?;
        let mut by_id: BTreeMap<String, ActionRecord> =
            stored.into_iter().map(|r| (r.id.clone(), r)).collect();
        for r in lock(&self.records).values() {
            if r.target == container_id {
                by_id.insert(r.id.clone(), r.clone());
            }
        }
        Ok(by_id.into_values().collect())
    }

    /// Undoes the isolations and pauses of a container (named by id, prefix or name):
    /// reconnects the saved networks, then unpauses. Stops, kills and snapshots stay. Pending
    /// plans for it are dropped, and its cooldowns end.
    pub async fn release(&self, key: &str) -> Result<Release, GuardError> {
        let id = match self.inventory.get(key) {
            Some(c) => c.id.clone(),
            None => key.to_owned(),
        };
        let mut records = self.records_of(&id).await?;
        if records.is_empty() && self.inventory.get(key).is_none() {
            return Err(GuardError::UnknownContainer(key.to_owned()));
        }
        // Networks first: a container let go runs with its connectivity already back.
        records.retain(|r| {
            r.state == ActionState::Done && matches!(r.action.as_str(), "network_isolate" | "pause")
        });
        records.sort_by_key(|r| (r.action != "network_isolate", r.created_at));
        let mut out = Release {
            container: id.clone(),
            ..Release::default()
        };
        for mut r in records {
            let result = match r.action.as_str() {
                "network_isolate" => actions::reconnect(&self.actions, &id, &r.details).await,
                _ => actions::unpause(&self.actions, &id).await,
            };
            match result {
                Ok(undo) => {
                    r.state = ActionState::Released;
                    r.updated_at = Utc::now();
                    if let Some(d) = r.details.as_object_mut() {
                        d.insert("release".into(), undo);
                    }
                    self.counters.add("released", 1);
                    self.keep(r.clone());
                    out.released.push(r);
                }
                Err(e) => out.errors.push(format!("{} {}: {e}", r.action, r.id)),
            }
        }
        let dropped: Vec<Plan> = {
            let mut pending = lock(&self.pending);
            let ids: Vec<String> = pending
                .values()
                .filter(|p| p.container.id == id)
                .map(|p| p.id.clone())
                .collect();
            ids.iter().filter_map(|i| pending.remove(i)).collect()
        };
        for plan in dropped {
            self.record_plan(
                &plan,
                ActionState::Suppressed,
                Some("released before approval"),
            );
        }
        lock(&self.safeguards).clear_container(&id);
        Ok(out)
    }

    /// Every known container with its protection, active actions and pending plans.
    pub async fn overview(&self) -> Result<Vec<ContainerView>, GuardError> {
        let pending = self.pending();
        let mut views = Vec::new();
        for c in self.inventory.list() {
            let active: Vec<String> = self
                .records_of(&c.id)
                .await?
                .into_iter()
                .filter(|r| r.state == ActionState::Done)
                .map(|r| r.action)
                .collect();
            views.push(ContainerView {
                protected: self.protection(&c).is_some(),
                active,
                pending: pending
                    .iter()
                    .filter(|p| p.container.id == c.id)
                    .map(|p| p.id.clone())
                    .collect(),
                info: (*c).clone(),
            });
        }
        Ok(views)
    }
}
