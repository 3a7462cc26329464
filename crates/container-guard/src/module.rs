//! The guard as a daemon module: connects to Docker (retrying while it is unreachable, the
//! module reporting degraded), follows the inventory, runs the workers and the audit writer,
//! follows the logs of the selected containers onto the event bus, and hands every alert of its
//! queue to [`Guard::handle_alert`].

use std::sync::{Arc, RwLock};
use std::time::Duration;

use ironpost_core::Alert;
use ironpost_core::bus::BusReceiver;
use ironpost_core::config::modules::ContainerGuardConfig;
use ironpost_core::module::{Module, ModuleContext, ModuleError, ModuleFuture};
use ironpost_store::Store;
use tokio::task::JoinSet;

use crate::guard::{Guard, GuardSettings, MODULE};
use crate::inventory::{self, Inventory};
use crate::logs::{self, LogSelection};
use crate::{docker, policy};

/// Where the running guard is published for the control API; empty until Docker answered once.
pub type GuardSlot = Arc<RwLock<Option<Arc<Guard>>>>;

/// The `container_guard` module.
pub struct ContainerGuardModule {
    config: ContainerGuardConfig,
    store: Arc<dyn Store>,
    alerts: tokio::sync::Mutex<BusReceiver<Alert>>,
    slot: GuardSlot,
}

impl ContainerGuardModule {
    /// Reads alerts from `alerts` and records into `store`; publishes the guard in `slot`.
    pub fn new(
        config: ContainerGuardConfig,
        store: Arc<dyn Store>,
        alerts: BusReceiver<Alert>,
        slot: GuardSlot,
    ) -> Self {
        ContainerGuardModule {
            config,
            store,
            alerts: tokio::sync::Mutex::new(alerts),
            slot,
        }
    }

    /// Connects to the engine, waiting (degraded) until it answers or shutdown fires.
    async fn guard(&self, ctx: &ModuleContext) -> Result<Option<Arc<Guard>>, ModuleError> {
        if let Some(g) = self.slot.read().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(Some(g));
        }
        let policies = policy::load_dir(&self.config.policies_dir)
            .map_err(|e| ModuleError::new(e.to_string()))?;
        tracing::info!(policies = policies.len(), dir = %self.config.policies_dir.display(), "container guard policies loaded");
        let timeout = Duration::from_secs(self.config.action_timeout_secs.max(1));
        let mut delay = Duration::from_millis(500);
        let mut shutdown = ctx.shutdown.clone();
        loop {
            let attempt = match docker::connect(&self.config.docker_socket, timeout) {
                Ok(d) => match tokio::time::timeout(timeout, d.ping()).await {
                    Ok(Ok(_)) => Ok(d),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("no answer to ping".into()),
                },
                Err(e) => Err(e.to_string()),
            };
            match attempt {
                Ok(d) => {
                    let guard = Guard::new(
                        GuardSettings::from_config(&self.config, &ctx.host),
                        d,
                        Inventory::new(),
                        policies,
                        self.store.clone(),
                        ctx.counters.clone(),
                    );
                    match guard.restore_pending().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(plans = n, "plans awaiting approval restored"),
                        Err(e) => {
                            tracing::warn!(error = %e, "plans awaiting approval not restored")
                        }
                    }
                    *self.slot.write().unwrap_or_else(|e| e.into_inner()) = Some(guard.clone());
                    return Ok(Some(guard));
                }
                Err(e) => {
                    ctx.health.degraded(format!(
                        "Docker unreachable at {}: {e}; retrying",
                        self.config.docker_socket.display()
                    ));
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.wait() => return Ok(None),
            }
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }
}

/// Follows the engine's events forever, reporting degraded while Docker is unreachable.
async fn follow_inventory(guard: Arc<Guard>, ctx: ModuleContext) {
    let mut delay = Duration::from_millis(500);
    loop {
        let health = ctx.health.clone();
        let mut synced = false;
        let result = inventory::follow(guard.docker(), guard.inventory(), |n| {
            tracing::info!(containers = n, "container inventory loaded");
            health.healthy();
            synced = true;
        })
        .await;
        if synced {
            // The engine was back for a while: the next loss starts a fresh backoff.
            delay = Duration::from_millis(500);
        }
        if let Err(e) = result {
            tracing::warn!(error = %e, "container inventory lost the engine; retrying");
            ctx.health.degraded(format!("{e}; retrying"));
        }
        ctx.counters.add("inventory_resyncs", 1);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

impl Module for ContainerGuardModule {
    fn name(&self) -> &'static str {
        MODULE
    }

    fn counters(&self) -> &'static [&'static str] {
        crate::guard::COUNTERS
    }

    fn run(self: Arc<Self>, ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            let mut rx = self.alerts.lock().await;
            let selection = LogSelection::new(
                &self.config.log_containers,
                &self.config.log_labels,
                &self.config.log_format,
            )
            .map_err(|e| ModuleError::new(e.to_string()))?;
            let Some(guard) = self.guard(&ctx).await? else {
                return Ok(());
            };
            let mut tasks = JoinSet::new();
            {
                let g = guard.clone();
                tasks.spawn(async move { g.audit().run().await });
            }
            for _ in 0..self.config.workers.max(1) {
                let g = guard.clone();
                tasks.spawn(async move { g.work().await });
            }
            tasks.spawn(follow_inventory(guard.clone(), ctx.clone()));
            if !selection.is_empty() {
                tasks.spawn(logs::follow(
                    guard.docker().clone(),
                    guard.inventory().clone(),
                    selection,
                    ctx.events.clone(),
                    ctx.counters.clone(),
                ));
            }
            let mut shutdown = ctx.shutdown.clone();
            loop {
                tokio::select! {
                    alert = rx.recv() => match alert {
                        Some(a) => {
                            let decision = guard.handle_alert(&a);
                            tracing::debug!(alert = %a.id, ?decision, "container guard decision");
                        }
                        None => break,
                    },
                    _ = shutdown.wait() => break,
                }
            }
            // Records of what was done must reach the store before the daemon exits.
            let _ = tokio::time::timeout(Duration::from_secs(2), guard.audit().flush()).await;
            tasks.abort_all();
            Ok(())
        })
    }
}
