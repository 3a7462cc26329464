//! `[store] retention_days`: deletes old alerts, actions and findings, at start and hourly.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ironpost_core::module::{Module, ModuleContext, ModuleFuture};
use ironpost_store::Store;

/// The retention task.
pub struct Retention {
    store: Arc<dyn Store>,
    days: u64,
}

impl Retention {
    /// Deletes records of `store` older than `days` days.
    pub fn new(store: Arc<dyn Store>, days: u64) -> Self {
        Retention { store, days }
    }
}

impl Module for Retention {
    fn name(&self) -> &'static str {
        "retention"
    }

    fn run(self: Arc<Self>, mut ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            let deleted = ctx.counters.counter("records_deleted");
            ctx.health.healthy();
            loop {
                let cutoff = Utc::now() - chrono::Duration::days(self.days.min(365_000) as i64);
                let store = self.store.clone();
                match tokio::task::spawn_blocking(move || store.delete_older_than(cutoff)).await {
                    Ok(Ok(n)) => {
                        deleted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                        if n > 0 {
                            tracing::info!(
                                deleted = n,
                                days = self.days,
                                "retention deleted old records"
                            );
                        }
                        ctx.health.healthy();
                    }
                    Ok(Err(e)) => ctx.health.degraded(format!("retention failed: {e}")),
                    Err(e) => ctx.health.degraded(format!("retention task failed: {e}")),
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                    _ = ctx.shutdown.wait() => return Ok(()),
                }
            }
        })
    }
}
