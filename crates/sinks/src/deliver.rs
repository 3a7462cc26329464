//! The task of one sink: batches from its queue, attempts with exponential backoff, and the
//! dead-letter file for what every attempt failed to deliver.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ironpost_core::config::sinks::SinkConfig;
use tokio::sync::{mpsc, watch};

use crate::record::Record;
use crate::{SinkState, SinkStats};

/// How long a stopping sink waits for late records once its queue is empty (the daemon stops
/// the sinks after the writers, so records offered late are rare).
const QUIET_ON_STOP: Duration = Duration::from_millis(100);

/// Why one delivery attempt failed.
#[derive(Debug, Clone)]
pub(crate) struct DeliveryError {
    pub message: String,
    /// False for answers that another attempt would get again (HTTP 400, 401, 404...).
    pub retryable: bool,
}

impl DeliveryError {
    pub(crate) fn retry(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            retryable: true,
        }
    }

    pub(crate) fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            retryable: false,
        }
    }
}

/// The destination of a sink.
pub(crate) enum Output {
    Jsonl(crate::jsonl::JsonlFile),
    Stdout(crate::stdout::Stdout),
    Webhook(crate::webhook::Webhook),
    Alertmanager(crate::alertmanager::Alertmanager),
    Syslog(crate::syslog::Syslog),
}

impl Output {
    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<(), DeliveryError> {
        match self {
            Output::Jsonl(o) => o.deliver(batch),
            Output::Stdout(o) => o.deliver(batch),
            Output::Webhook(o) => o.deliver(batch).await,
            Output::Alertmanager(o) => o.deliver(batch).await,
            Output::Syslog(o) => o.deliver(batch).await,
        }
    }

    /// Drops any connection or open file, so the next attempt starts afresh.
    fn reset(&mut self) {
        match self {
            Output::Jsonl(o) => o.reset(),
            Output::Stdout(_) => {}
            Output::Webhook(o) => o.reset(),
            Output::Alertmanager(o) => o.reset(),
            Output::Syslog(o) => o.reset(),
        }
    }
}

/// One sink's delivery loop and its settings.
pub(crate) struct Driver {
    name: String,
    output: Output,
    stats: Arc<SinkStats>,
    batch: usize,
    max_attempts: u32,
    backoff_initial: Duration,
    backoff_max: Duration,
    timeout: Duration,
    dead_letter: Option<PathBuf>,
}

impl Driver {
    pub(crate) fn new(config: &SinkConfig, output: Output, stats: Arc<SinkStats>) -> Driver {
        Driver {
            name: config.name.clone(),
            output,
            stats,
            batch: config.batch_size.max(1),
            max_attempts: config.max_attempts.max(1),
            backoff_initial: Duration::from_millis(config.backoff_initial_ms),
            backoff_max: Duration::from_millis(
                config.backoff_max_ms.max(config.backoff_initial_ms),
            ),
            timeout: Duration::from_secs(config.timeout_secs.max(1)),
            dead_letter: Some(config.dead_letter.clone()).filter(|p| !p.as_os_str().is_empty()),
        }
    }

    /// Runs until stopped and drained, or until every sender of its queue is gone.
    pub(crate) async fn run(
        mut self,
        mut rx: mpsc::Receiver<Arc<Record>>,
        mut stop: watch::Receiver<bool>,
    ) {
        self.stats.set_state(SinkState::Ok);
        let mut buf = Vec::with_capacity(self.batch);
        let mut stopping = *stop.borrow();
        loop {
            buf.clear();
            if stopping {
                match tokio::time::timeout(QUIET_ON_STOP, rx.recv_many(&mut buf, self.batch)).await
                {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            } else {
                tokio::select! {
                    n = rx.recv_many(&mut buf, self.batch) => if n == 0 { break },
                    changed = stop.changed() => {
                        stopping = changed.is_err() || *stop.borrow();
                        continue;
                    }
                }
            }
            self.deliver(&buf, &mut stop, &mut stopping).await;
        }
        if let Output::Jsonl(o) = &mut self.output {
            o.reset();
        }
        self.stats.set_state(SinkState::Stopped);
    }

    async fn deliver(
        &mut self,
        batch: &[Arc<Record>],
        stop: &mut watch::Receiver<bool>,
        stopping: &mut bool,
    ) {
        let mut delay = self.backoff_initial;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = match tokio::time::timeout(self.timeout, self.output.deliver(batch)).await
            {
                Ok(r) => r,
                Err(_) => Err(DeliveryError::retry(format!(
                    "no answer within {}s",
                    self.timeout.as_secs()
                ))),
            };
            let err = match result {
                Ok(()) => {
                    self.stats
                        .delivered
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    self.stats.set_state(SinkState::Ok);
                    return;
                }
                Err(e) => e,
            };
            self.output.reset();
            let last = !err.retryable || attempt >= self.max_attempts || *stopping;
            if last {
                self.stats.error(SinkState::Failing, &err.message);
                self.stats
                    .failed
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                tracing::warn!(
                    sink = %self.name,
                    error = %err.message,
                    attempts = attempt,
                    records = batch.len(),
                    "delivery failed"
                );
                self.dead_letter(batch, &err.message, attempt);
                return;
            }
            self.stats.error(SinkState::Retrying, &err.message);
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(sink = %self.name, error = %err.message, attempt, "delivery failed; retrying");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                changed = stop.changed() => *stopping = changed.is_err() || *stop.borrow(),
            }
            delay = (delay * 2).min(self.backoff_max);
        }
    }

    fn dead_letter(&self, batch: &[Arc<Record>], error: &str, attempts: u32) {
        let Some(path) = &self.dead_letter else {
            return;
        };
        let mut text = String::new();
        let now = chrono::Utc::now().to_rfc3339();
        for r in batch {
            let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
            text.push_str(&format!(
                "{{\"sink\":{},\"failed_at\":{},\"attempts\":{attempts},\"error\":{},\"record\":{}}}\n",
                quote(&self.name),
                quote(&now),
                quote(error),
                r.json()
            ));
        }
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        match written {
            Ok(()) => {
                self.stats
                    .dead_lettered
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Err(e) => tracing::error!(
                sink = %self.name,
                file = %path.display(),
                error = %e,
                lost = batch.len(),
                "cannot write the dead-letter file"
            ),
        }
    }
}
