//! A local disk spool in front of a remote store: nothing is lost while the database is down.
//!
//! [`SpoolingStore`] wraps another [`Store`]. A write that fails with
//! [`StoreError::Unavailable`] is appended to the spool instead (JSON lines in numbered segment
//! files under the spool directory), and from then on every write goes to the spool, so that the
//! order of writes is kept. [`SpoolingStore::replay`] (run by a background thread) replays the
//! oldest segment into the store and deletes it once every record in it is written; a replay that
//! fails half-way is simply repeated, which is harmless because alert and finding ids are
//! deterministic and actions and checkpoints are upserts. The spool is bounded: a record that
//! would take it past its byte limit is dropped and counted.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ironpost_core::{ActionRecord, Alert, ScanFinding, SourceCheckpoint};
use serde::{Deserialize, Serialize};

use crate::{ActionQuery, AlertQuery, Store, StoreError};

/// A segment is closed for appending past this size.
const SEGMENT_BYTES: u64 = 8 << 20;

/// One spooled write.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Record {
    Alerts { alerts: Vec<Alert> },
    Action { action: Box<ActionRecord> },
    Findings { findings: Vec<ScanFinding> },
    Checkpoints { checkpoints: Vec<SourceCheckpoint> },
}

impl Record {
    fn items(&self) -> u64 {
        match self {
            Record::Alerts { alerts } => alerts.len() as u64,
            Record::Action { .. } => 1,
            Record::Findings { findings } => findings.len() as u64,
            Record::Checkpoints { checkpoints } => checkpoints.len() as u64,
        }
    }

    fn apply(&self, store: &dyn Store) -> Result<(), StoreError> {
        match self {
            Record::Alerts { alerts } => store.insert_alerts(alerts).map(|_| ()),
            Record::Action { action } => store.upsert_action(action),
            Record::Findings { findings } => store.insert_findings(findings).map(|_| ()),
            Record::Checkpoints { checkpoints } => store.save_checkpoints(checkpoints),
        }
    }
}

/// Counters of the spool, for status and metrics.
#[derive(Debug, Default)]
pub struct SpoolStats {
    spooled: AtomicU64,
    replayed: AtomicU64,
    dropped: AtomicU64,
    bytes: AtomicU64,
}

impl SpoolStats {
    /// Items (alerts, actions, findings, checkpoints) written to the spool.
    pub fn spooled(&self) -> u64 {
        self.spooled.load(Ordering::Relaxed)
    }

    /// Items replayed from the spool into the store.
    pub fn replayed(&self) -> u64 {
        self.replayed.load(Ordering::Relaxed)
    }

    /// Items dropped because the spool was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Bytes waiting in the spool.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

struct Segment {
    seq: u64,
    bytes: u64,
}

struct SpoolState {
    dir: PathBuf,
    max_bytes: u64,
    segments: VecDeque<Segment>,
    /// The newest segment, open for appending, unless a replay has closed it.
    writer: Option<File>,
}

impl SpoolState {
    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:012}.jsonl"))
    }

    fn total(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    fn append(&mut self, line: &[u8]) -> std::io::Result<()> {
        let need_new = match (self.segments.back(), &self.writer) {
            (Some(last), Some(_)) => last.bytes >= SEGMENT_BYTES,
            _ => true,
        };
        if need_new {
            let seq = self.segments.back().map(|s| s.seq + 1).unwrap_or(1);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(seq))?;
            self.segments.push_back(Segment { seq, bytes: 0 });
            self.writer = Some(file);
        }
        let writer = self.writer.as_mut().expect("a segment is open");
        writer.write_all(line)?;
        writer.flush()?;
        if let Some(last) = self.segments.back_mut() {
            last.bytes += line.len() as u64;
        }
        Ok(())
    }
}

/// A store that spools writes to local disk while the wrapped store is unavailable.
pub struct SpoolingStore {
    inner: Arc<dyn Store>,
    state: Mutex<SpoolState>,
    stats: Arc<SpoolStats>,
}

impl SpoolingStore {
    /// Wraps `inner`, spooling under `dir` (created if needed; segments left by an earlier run
    /// are kept and replayed) up to `max_bytes`.
    pub fn new(
        inner: Arc<dyn Store>,
        dir: &Path,
        max_bytes: u64,
    ) -> Result<SpoolingStore, StoreError> {
        let open_err = |e: std::io::Error| StoreError::Open {
            path: dir.display().to_string(),
            message: format!("spool directory: {e}"),
        };
        std::fs::create_dir_all(dir).map_err(open_err)?;
        let mut segments: Vec<Segment> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(open_err)? {
            let entry = entry.map_err(open_err)?;
            let name = entry.file_name();
            let Some(seq) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".jsonl"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            let bytes = entry.metadata().map_err(open_err)?.len();
            segments.push(Segment { seq, bytes });
        }
        segments.sort_by_key(|s| s.seq);
        let stats = Arc::new(SpoolStats::default());
        let state = SpoolState {
            dir: dir.to_owned(),
            max_bytes,
            segments: segments.into(),
            writer: None,
        };
        stats.bytes.store(state.total(), Ordering::Relaxed);
        Ok(SpoolingStore {
            inner,
            state: Mutex::new(state),
            stats,
        })
    }

    /// The spool's counters.
    pub fn stats(&self) -> Arc<SpoolStats> {
        self.stats.clone()
    }

    /// True when nothing waits in the spool.
    pub fn is_drained(&self) -> bool {
        self.lock().segments.is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SpoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes through to the store while the spool is empty and the store answers; otherwise
    /// appends `record` to the spool. Returns `Some(result)` of a direct write, `None` if spooled.
    fn write<T>(
        &self,
        record: impl FnOnce() -> Record,
        direct: impl FnOnce(&dyn Store) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut state = self.lock();
        if state.segments.is_empty() {
            match direct(self.inner.as_ref()) {
                Ok(v) => return Ok(Some(v)),
                Err(StoreError::Unavailable(why)) => {
                    tracing::warn!(reason = %why, spool = %state.dir.display(), "store unavailable; spooling writes to disk");
                }
                Err(e) => return Err(e),
            }
        }
        let record = record();
        let items = record.items();
        let mut line = serde_json::to_vec(&record).map_err(|e| StoreError::Query {
            operation: "spool",
            message: e.to_string(),
        })?;
        line.push(b'\n');
        if state.total() + line.len() as u64 > state.max_bytes {
            self.stats.dropped.fetch_add(items, Ordering::Relaxed);
            tracing::error!(
                items,
                max_bytes = state.max_bytes,
                "spool full; dropping a write"
            );
            return Ok(None);
        }
        state.append(&line).map_err(|e| StoreError::Query {
            operation: "spool",
            message: format!("{}: {e}", state.dir.display()),
        })?;
        self.stats.spooled.fetch_add(items, Ordering::Relaxed);
        self.stats.bytes.store(state.total(), Ordering::Relaxed);
        Ok(None)
    }

    /// Replays spooled segments, oldest first, until the spool is empty or the store fails.
    /// Returns the number of items replayed.
    pub fn replay(&self) -> Result<u64, StoreError> {
        let mut replayed = 0;
        loop {
            let (seq, path) = {
                let mut state = self.lock();
                let Some(first) = state.segments.front() else {
                    return Ok(replayed);
                };
                let seq = first.seq;
                if state.segments.len() == 1 {
                    // Appends go to a new segment from now on; this one is read whole.
                    state.writer = None;
                }
                (seq, state.path(seq))
            };
            let file = File::open(&path).map_err(|e| StoreError::Query {
                operation: "spool replay",
                message: format!("{}: {e}", path.display()),
            })?;
            let mut items = 0;
            for (n, line) in BufReader::new(file).lines().enumerate() {
                let line = line.map_err(|e| StoreError::Query {
                    operation: "spool replay",
                    message: format!("{}: {e}", path.display()),
                })?;
                if line.trim().is_empty() {
                    continue;
                }
                let record: Record = match serde_json::from_str(&line) {
                    Ok(r) => r,
                    Err(e) => {
                        // A torn last line from a crash mid-append: nothing after it was written.
                        tracing::error!(file = %path.display(), line = n + 1, error = %e, "skipping an unreadable spool record");
                        continue;
                    }
                };
                record.apply(self.inner.as_ref())?;
                items += record.items();
            }
            let mut state = self.lock();
            if state.segments.front().map(|s| s.seq) == Some(seq) {
                state.segments.pop_front();
                if state.segments.is_empty() {
                    state.writer = None;
                }
            }
            let _ = std::fs::remove_file(&path);
            self.stats.bytes.store(state.total(), Ordering::Relaxed);
            self.stats.replayed.fetch_add(items, Ordering::Relaxed);
            replayed += items;
        }
    }

    /// Starts a thread that replays every `interval` while this store lives.
    pub fn start_replayer(self: &Arc<Self>, interval: Duration) {
        let weak: Weak<SpoolingStore> = Arc::downgrade(self);
        let _ = std::thread::Builder::new()
            .name("ironpost-spool".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    let Some(store) = weak.upgrade() else { return };
                    if store.is_drained() {
                        continue;
                    }
                    match store.replay() {
                        Ok(n) if n > 0 => {
                            tracing::info!(items = n, "replayed spooled writes into the store")
                        }
                        Ok(_) => {}
                        Err(StoreError::Unavailable(_)) => {}
                        Err(e) => tracing::error!(error = %e, "replaying the spool failed"),
                    }
                }
            });
    }
}

impl Store for SpoolingStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn schema_version(&self) -> Result<u32, StoreError> {
        self.inner.schema_version()
    }

    fn insert_alerts(&self, alerts: &[Alert]) -> Result<usize, StoreError> {
        // Spooled alerts count as new: whether they were stored before is known only on replay.
        let done = self.write(
            || Record::Alerts {
                alerts: alerts.to_vec(),
            },
            |s| s.insert_alerts(alerts),
        )?;
        Ok(done.unwrap_or(alerts.len()))
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
        self.write(
            || Record::Action {
                action: Box::new(action.clone()),
            },
            |s| s.upsert_action(action),
        )
        .map(|_| ())
    }

    fn actions(&self, query: &ActionQuery) -> Result<Vec<ActionRecord>, StoreError> {
        self.inner.actions(query)
    }

    fn insert_findings(&self, findings: &[ScanFinding]) -> Result<Vec<String>, StoreError> {
        // Spooled findings count as new: an alert for a finding already known is deduplicated
        // by its deterministic id, a missed one would be lost.
        let done = self.write(
            || Record::Findings {
                findings: findings.to_vec(),
            },
            |s| s.insert_findings(findings),
        )?;
        Ok(done.unwrap_or_else(|| findings.iter().map(|f| f.id.clone()).collect()))
    }

    fn findings(&self, limit: usize) -> Result<Vec<ScanFinding>, StoreError> {
        self.inner.findings(limit)
    }

    fn checkpoint(&self, source: &str) -> Result<Option<SourceCheckpoint>, StoreError> {
        self.inner.checkpoint(source)
    }

    fn save_checkpoints(&self, checkpoints: &[SourceCheckpoint]) -> Result<(), StoreError> {
        self.write(
            || Record::Checkpoints {
                checkpoints: checkpoints.to_vec(),
            },
            |s| s.save_checkpoints(checkpoints),
        )
        .map(|_| ())
    }

    fn delete_older_than(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        self.inner.delete_older_than(cutoff)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::SqliteStore;
    use crate::conformance::sample_alert;
    use ironpost_core::Severity;

    /// A store that fails with `Unavailable` while `down` is set: fault injection over a real
    /// SQLite store.
    struct Flaky {
        inner: SqliteStore,
        down: AtomicBool,
    }

    impl Flaky {
        fn check(&self) -> Result<(), StoreError> {
            if self.down.load(Ordering::SeqCst) {
                Err(StoreError::Unavailable("injected outage".into()))
            } else {
                Ok(())
            }
        }
    }

    impl Store for Flaky {
        fn backend(&self) -> &'static str {
            "flaky"
        }
        fn schema_version(&self) -> Result<u32, StoreError> {
            self.inner.schema_version()
        }
        fn insert_alerts(&self, a: &[Alert]) -> Result<usize, StoreError> {
            self.check()?;
            self.inner.insert_alerts(a)
        }
        fn alert(&self, id: &str) -> Result<Option<Alert>, StoreError> {
            self.inner.alert(id)
        }
        fn alerts(&self, q: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
            self.inner.alerts(q)
        }
        fn alert_count(&self) -> Result<u64, StoreError> {
            self.inner.alert_count()
        }
        fn upsert_action(&self, a: &ActionRecord) -> Result<(), StoreError> {
            self.check()?;
            self.inner.upsert_action(a)
        }
        fn actions(&self, q: &ActionQuery) -> Result<Vec<ActionRecord>, StoreError> {
            self.inner.actions(q)
        }
        fn insert_findings(&self, f: &[ScanFinding]) -> Result<Vec<String>, StoreError> {
            self.check()?;
            self.inner.insert_findings(f)
        }
        fn findings(&self, limit: usize) -> Result<Vec<ScanFinding>, StoreError> {
            self.inner.findings(limit)
        }
        fn checkpoint(&self, s: &str) -> Result<Option<SourceCheckpoint>, StoreError> {
            self.inner.checkpoint(s)
        }
        fn save_checkpoints(&self, c: &[SourceCheckpoint]) -> Result<(), StoreError> {
            self.check()?;
            self.inner.save_checkpoints(c)
        }
        fn delete_older_than(&self, t: DateTime<Utc>) -> Result<u64, StoreError> {
            self.inner.delete_older_than(t)
        }
    }

    fn flaky() -> Arc<Flaky> {
        Arc::new(Flaky {
            inner: SqliteStore::in_memory().unwrap(),
            down: AtomicBool::new(false),
        })
    }

    fn alerts(range: std::ops::Range<i64>) -> Vec<Alert> {
        range
            .map(|m| sample_alert("spool", "h", m, Severity::High))
            .collect()
    }

    #[test]
    fn an_outage_spools_in_order_and_replay_loses_and_doubles_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let inner = flaky();
        let spool = SpoolingStore::new(inner.clone(), dir.path(), 1 << 30).unwrap();
        assert_eq!(spool.insert_alerts(&alerts(0..10)).unwrap(), 10);
        inner.down.store(true, Ordering::SeqCst);
        assert_eq!(
            spool.insert_alerts(&alerts(10..20)).unwrap(),
            10,
            "spooled writes count as new"
        );
        inner.down.store(false, Ordering::SeqCst);
        // The spool is not empty, so this goes behind the spooled batch, in order.
        spool.insert_alerts(&alerts(20..30)).unwrap();
        // A duplicate of an already-stored batch while spooling.
        spool.insert_alerts(&alerts(0..5)).unwrap();
        assert_eq!(inner.alert_count().unwrap(), 10);
        assert_eq!(spool.stats().spooled(), 25);
        assert!(spool.stats().bytes() > 0);
        assert_eq!(spool.replay().unwrap(), 25);
        assert!(spool.is_drained());
        assert_eq!(spool.stats().bytes(), 0);
        assert_eq!(inner.alert_count().unwrap(), 30, "lost or doubled alerts");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "segment files left behind"
        );
        // Writes go straight through again.
        spool.insert_alerts(&alerts(30..31)).unwrap();
        assert_eq!(inner.alert_count().unwrap(), 31);
    }

    #[test]
    fn a_failed_replay_is_repeated_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let inner = flaky();
        let spool = SpoolingStore::new(inner.clone(), dir.path(), 1 << 30).unwrap();
        inner.down.store(true, Ordering::SeqCst);
        spool.insert_alerts(&alerts(0..3)).unwrap();
        assert!(matches!(spool.replay(), Err(StoreError::Unavailable(_))));
        assert!(!spool.is_drained());
        inner.down.store(false, Ordering::SeqCst);
        assert_eq!(spool.replay().unwrap(), 3);
        assert_eq!(inner.alert_count().unwrap(), 3);
    }

    #[test]
    fn the_spool_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let inner = flaky();
        inner.down.store(true, Ordering::SeqCst);
        {
            let spool = SpoolingStore::new(inner.clone(), dir.path(), 1 << 30).unwrap();
            spool.insert_alerts(&alerts(0..4)).unwrap();
        }
        inner.down.store(false, Ordering::SeqCst);
        let spool = SpoolingStore::new(inner.clone(), dir.path(), 1 << 30).unwrap();
        assert!(!spool.is_drained());
        assert!(spool.stats().bytes() > 0);
        spool.insert_alerts(&alerts(4..5)).unwrap();
        assert_eq!(
            inner.alert_count().unwrap(),
            0,
            "a write overtook the spooled ones"
        );
        assert_eq!(spool.replay().unwrap(), 5);
        assert_eq!(inner.alert_count().unwrap(), 5);
    }

    #[test]
    fn a_full_spool_drops_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let inner = flaky();
        inner.down.store(true, Ordering::SeqCst);
        let spool = SpoolingStore::new(inner.clone(), dir.path(), 4096).unwrap();
        for m in 0..100 {
            spool.insert_alerts(&alerts(m..m + 1)).unwrap();
        }
        let stats = spool.stats();
        assert!(stats.dropped() > 0, "nothing dropped");
        assert_eq!(stats.spooled() + stats.dropped(), 100);
        assert!(stats.bytes() <= 4096);
        inner.down.store(false, Ordering::SeqCst);
        assert_eq!(spool.replay().unwrap(), stats.spooled());
    }

    #[test]
    fn actions_and_findings_are_spooled_too() {
        let dir = tempfile::tempdir().unwrap();
        let inner = flaky();
        let spool = SpoolingStore::new(inner.clone(), dir.path(), 1 << 30).unwrap();
        inner.down.store(true, Ordering::SeqCst);
        crate::conformance::run_writes_only(&spool);
        inner.down.store(false, Ordering::SeqCst);
        spool.replay().unwrap();
        assert_eq!(inner.actions(&ActionQuery::default()).unwrap().len(), 1);
        assert_eq!(inner.findings(10).unwrap().len(), 1);
        assert!(inner.checkpoint("file:/spooled").unwrap().is_some());
    }
}
