//! The audit trail: every action record (planned, dry run, done, failed, released, suppressed)
//! goes to the store through one writer task, in the order it was made, so a record's later
//! state always overwrites its earlier one and no Docker call waits for the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ironpost_core::ActionRecord;
use ironpost_core::module::Counters;
use ironpost_store::Store;
use tokio::sync::{Mutex, mpsc, watch};

/// The sending side of the audit trail, and its writer.
pub struct Audit {
    tx: mpsc::Sender<ActionRecord>,
    rx: Mutex<mpsc::Receiver<ActionRecord>>,
    store: Arc<dyn Store>,
    queued: AtomicU64,
    handled: watch::Sender<u64>,
    counters: Counters,
}

impl Audit {
    /// An audit trail into `store` holding at most `capacity` records waiting.
    pub fn new(store: Arc<dyn Store>, capacity: usize, counters: Counters) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        for name in ["records_written", "records_dropped", "record_write_errors"] {
            counters.counter(name);
        }
        Audit {
            tx,
            rx: Mutex::new(rx),
            store,
            queued: AtomicU64::new(0),
            handled: watch::channel(0).0,
            counters,
        }
    }

    /// The store records go to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Queues `record` without waiting; a full queue drops it and counts the drop.
    pub fn record(&self, record: ActionRecord) {
        match self.tx.try_send(record) {
            Ok(()) => {
                self.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.counters.add("records_dropped", 1);
                let r = match e {
                    mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => r,
                };
                tracing::error!(id = %r.id, state = %r.state, "action record dropped: the audit queue is full");
            }
        }
    }

    /// Waits until every record queued before the call has been written (or given up on).
    pub async fn flush(&self) {
        let target = self.queued.load(Ordering::Relaxed);
        let mut rx = self.handled.subscribe();
        let _ = rx.wait_for(|n| *n >= target).await;
    }

    /// Writes queued records until every sender is gone. One writer runs at a time.
    pub async fn run(&self) {
        let mut rx = self.rx.lock().await;
        let mut buf = Vec::with_capacity(64);
        loop {
            buf.clear();
            if rx.recv_many(&mut buf, 64).await == 0 {
                return;
            }
            let batch = std::mem::take(&mut buf);
            let n = batch.len() as u64;
            self.write(batch).await;
            self.handled.send_modify(|h| *h += n);
        }
    }

    async fn write(&self, batch: Vec<ActionRecord>) {
        let batch = Arc::new(batch);
        let mut delay = Duration::from_millis(50);
        for attempt in 0..6 {
            let store = self.store.clone();
            let b = batch.clone();
            let result = tokio::task::spawn_blocking(move || {
                b.iter().try_for_each(|r| store.upsert_action(r))
            })
            .await;
            match result {
                Ok(Ok(())) => {
                    self.counters.add("records_written", batch.len() as u64);
                    return;
                }
                Ok(Err(e)) => {
                    self.counters.add("record_write_errors", 1);
                    tracing::warn!(error = %e, attempt, "writing action records failed; retrying");
                }
                Err(e) => {
                    self.counters.add("record_write_errors", 1);
                    tracing::warn!(error = %e, attempt, "action record writer task failed; retrying");
                }
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        self.counters.add("records_dropped", batch.len() as u64);
        tracing::error!(
            records = batch.len(),
            "giving up on action records: the store keeps failing"
        );
    }
}
