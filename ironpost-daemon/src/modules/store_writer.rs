//! Writes alerts from the alert bus to the store in batches, off the detection path.
//!
//! A failed write keeps its batch and retries with backoff (the module reports degraded
//! meanwhile), so a store that is briefly unavailable loses nothing; on shutdown the bus is
//! closed and drained before the module returns.
//!
//! Responders (the container guard) read alerts from their own bounded buses: each batch is
//! forwarded to them with `try_send` as soon as it is taken off the alert bus, before it is
//! written, so a slow or failing store never delays a response; a full responder queue drops
//! the alert for that responder and counts it in `alerts_forward_dropped`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ironpost_core::Alert;
use ironpost_core::bus::{BusReceiver, BusSender};
use ironpost_core::module::{Module, ModuleContext, ModuleFuture};
use ironpost_store::Store;
use tokio::sync::Mutex;

/// The alert writer.
pub struct StoreWriter {
    rx: Mutex<BusReceiver<Alert>>,
    store: Arc<dyn Store>,
    batch: usize,
    downstream: Vec<BusSender<Alert>>,
}

impl StoreWriter {
    /// Reads from `rx`, writes to `store` at most `batch` alerts per transaction.
    pub fn new(rx: BusReceiver<Alert>, store: Arc<dyn Store>, batch: usize) -> Self {
        StoreWriter {
            rx: Mutex::new(rx),
            store,
            batch: batch.max(1),
            downstream: Vec::new(),
        }
    }

    /// Also hands every alert taken off the bus to `downstream` (responders), without waiting.
    pub fn with_downstream(mut self, downstream: Vec<BusSender<Alert>>) -> Self {
        self.downstream = downstream;
        self
    }

    fn forward(&self, batch: &[Alert], ctx: &ModuleContext) {
        for tx in &self.downstream {
            for alert in batch {
                if tx.try_send(alert.clone()).is_err() {
                    ctx.counters.add("alerts_forward_dropped", 1);
                }
            }
        }
    }
}

/// How a batch is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempts {
    /// Retry with backoff until written; once the daemon stops, retry for about 2 s more.
    UntilStopped,
    /// Stopping: retry for about 2 s, then give up and count the batch lost.
    Bounded,
    /// Stopping, and the store already failed a batch: one attempt, then count it lost.
    Once,
}

/// Writes `batch`, retrying as `attempts` says; true when it was stored, false when it was
/// given up (and counted in `alerts_lost`).
async fn write(
    store: &Arc<dyn Store>,
    batch: Vec<Alert>,
    ctx: &ModuleContext,
    mut attempts: Attempts,
) -> bool {
    let errors = ctx.counters.counter("write_errors");
    let mut delay = Duration::from_millis(100);
    let mut shutdown = ctx.shutdown.clone();
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
        let give_up = match attempts {
            Attempts::UntilStopped => false,
            Attempts::Bounded => delay > Duration::from_secs(1),
            Attempts::Once => true,
        };
        if give_up {
            ctx.counters.add("alerts_lost", batch.len() as u64);
            tracing::error!(
                lost = batch.len(),
                "giving up on alerts at shutdown: the store keeps failing"
            );
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            // Stopping while the store fails: the retries become bounded, so that the queued
            // alerts are still written or counted lost before the shutdown deadline.
            _ = shutdown.wait(), if attempts == Attempts::UntilStopped => {
                attempts = Attempts::Bounded;
                delay = Duration::from_millis(100);
                continue;
            }
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

impl Module for StoreWriter {
    fn name(&self) -> &'static str {
        "store_writer"
    }

    fn counters(&self) -> &'static [&'static str] {
        &[
            "alerts_written",
            "alerts_duplicate",
            "write_errors",
            "alerts_lost",
            "alerts_forward_dropped",
        ]
    }

    fn run(self: Arc<Self>, ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            let mut rx = self.rx.lock().await;
            // An alert is done once committed (or given up and counted): senders waiting for
            // it (detection, and through it a file source's checkpoint) see that.
            rx.manual_ack();
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
                        self.forward(&buf, &ctx);
                        write(&self.store, buf, &ctx, Attempts::UntilStopped).await;
                        rx.ack(rx.received());
                    }
                    _ = shutdown.wait() => break,
                }
            }
            rx.close();
            let mut attempts = Attempts::Bounded;
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
                if !write(&self.store, buf, &ctx, attempts).await {
                    // The store failed a whole bounded retry: one attempt for each batch left.
                    attempts = Attempts::Once;
                }
                rx.ack(rx.received());
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Utc;
    use ironpost_core::bus::bus;
    use ironpost_core::module::{Counters, HealthHandle, shutdown_signal};
    use ironpost_core::{AlertId, Attribution, Severity};
    use ironpost_store::{AlertQuery, SqliteStore};

    use super::*;

    fn alert(n: u64) -> Alert {
        let now = Utc::now();
        Alert {
            id: AlertId::derive("r", &n.to_string(), now),
            rule_id: "r".into(),
            title: "t".into(),
            severity: Severity::High,
            module: "test".into(),
            event_time: now,
            detected_at: now,
            window_start: now,
            group: BTreeMap::new(),
            count: 1,
            attribution: Attribution::default(),
            tags: vec![],
            evidence: vec![],
        }
    }

    #[tokio::test]
    async fn alerts_are_stored_and_forwarded_and_a_full_responder_drops_and_counts() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let (alerts_tx, alerts_rx) = bus("alerts", 16);
        let (fast_tx, mut fast_rx) = bus("fast", 16);
        let (full_tx, _full_rx) = bus("full", 1);
        let writer = Arc::new(
            StoreWriter::new(alerts_rx, store.clone(), 8).with_downstream(vec![fast_tx, full_tx]),
        );
        let (trigger, shutdown) = shutdown_signal();
        let (events, _events_rx) = bus("events", 1);
        let counters = Counters::default();
        let ctx = ModuleContext {
            host: "h".into(),
            health: HealthHandle::default(),
            counters: counters.clone(),
            shutdown,
            events,
            alerts: alerts_tx.clone(),
        };
        let task = tokio::spawn(writer.run(ctx));
        for n in 0..3 {
            alerts_tx.send(alert(n)).await.unwrap();
        }
        for _ in 0..3 {
            assert_eq!(fast_rx.recv().await.unwrap().rule_id, "r");
        }
        trigger.fire();
        task.await.unwrap().unwrap();
        assert_eq!(store.alerts(&AlertQuery::default()).unwrap().len(), 3);
        // The responder whose queue holds one alert got the first and dropped the others.
        assert_eq!(counters.snapshot()["alerts_forward_dropped"], 2);
    }
}
