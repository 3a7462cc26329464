//! Writes alerts from the alert bus to the store in batches, off the detection path.
//!
//! A failed write keeps its batch and retries with backoff (the module reports degraded
//! meanwhile), so a store that is briefly unavailable loses nothing; on shutdown the bus is
//! closed and drained before the module returns.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ironpost_core::Alert;
use ironpost_core::bus::BusReceiver;
use ironpost_core::module::{Module, ModuleContext, ModuleFuture};
use ironpost_store::Store;
use tokio::sync::Mutex;

/// The alert writer.
pub struct StoreWriter {
    rx: Mutex<BusReceiver<Alert>>,
    store: Arc<dyn Store>,
    batch: usize,
}

impl StoreWriter {
    /// Reads from `rx`, writes to `store` at most `batch` alerts per transaction.
    pub fn new(rx: BusReceiver<Alert>, store: Arc<dyn Store>, batch: usize) -> Self {
        StoreWriter {
            rx: Mutex::new(rx),
            store,
            batch: batch.max(1),
        }
    }
}

/// Writes `batch`, retrying until it is written or `give_up` says stop; returns the count stored.
async fn write(
    store: &Arc<dyn Store>,
    batch: Vec<Alert>,
    ctx: &ModuleContext,
    stopping: bool,
) -> bool {
    let errors = ctx.counters.counter("write_errors");
    let mut delay = Duration::from_millis(100);
    let batch = Arc::new(batch);
    loop {
        let store = store.clone();
        let b = batch.clone();
        match tokio::task::spawn_blocking(move || store.insert_alerts(&b)).await {
            Ok(Ok(new)) => {
                ctx.counters.add("alerts_written", new as u64);
                ctx.counters
                    .add("alerts_duplicate", (batch.len() - new) as u64);
                if errors.load(Ordering::Relaxed) > 0 {
                    ctx.health.healthy();
                }
                return true;
            }
            Ok(Err(e)) => {
                errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, batch = batch.len(), "writing alerts failed; retrying");
                ctx.health.degraded(format!("store write failed: {e}"));
            }
            Err(e) => {
                errors.fetch_add(1, Ordering::Relaxed);
                ctx.health
                    .degraded(format!("store writer task failed: {e}"));
            }
        }
        if stopping && delay > Duration::from_secs(2) {
            ctx.counters.add("alerts_lost", batch.len() as u64);
            tracing::error!(
                lost = batch.len(),
                "giving up on alerts at shutdown: the store keeps failing"
            );
            return false;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

impl Module for StoreWriter {
    fn name(&self) -> &'static str {
        "store_writer"
    }

    fn run(self: Arc<Self>, ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            let mut rx = self.rx.lock().await;
            for name in [
                "alerts_written",
                "alerts_duplicate",
                "write_errors",
                "alerts_lost",
            ] {
                ctx.counters.counter(name);
            }
            ctx.health.healthy();
            let mut shutdown = ctx.shutdown.clone();
            loop {
                let mut buf = Vec::with_capacity(self.batch);
                tokio::select! {
                    n = rx.recv_many(&mut buf, self.batch) => {
                        if n == 0 {
                            return Ok(());
                        }
                        write(&self.store, buf, &ctx, false).await;
                    }
                    _ = shutdown.wait() => break,
                }
            }
            rx.close();
            loop {
                let mut buf = Vec::with_capacity(self.batch);
                while buf.len() < self.batch {
                    match rx.try_recv() {
                        Some(a) => buf.push(a),
                        None => break,
                    }
                }
                if buf.is_empty() {
                    return Ok(());
                }
                write(&self.store, buf, &ctx, true).await;
            }
        })
    }
}
