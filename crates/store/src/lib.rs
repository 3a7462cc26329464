//! Where Ironpost keeps what it found and did: alerts, response actions, scan findings and the
//! read positions of file sources.
//!
//! Everything goes through the [`Store`] trait, so the daemon and the CLI do not care which
//! backend holds the data. [`SqliteStore`] is the embedded default: one file in the data dir, in
//! WAL mode, with versioned migrations from `migrations/sqlite/`. [`PostgresStore`] serves a fleet:
//! many daemons, one database, the same tables (`migrations/postgres/`) and the same behaviour,
//! checked by the same [`conformance`] suite. Writes are idempotent by id: an
//! alert replayed after a crash or an outage is stored once, because alert ids are derived from
//! rule, group key and window start.
//!
//! The trait is synchronous on purpose: both backends are called from blocking worker threads,
//! never from the paths that read sensors.

mod postgres;
pub mod spool;
mod sqlite;
pub mod testing;

use chrono::{DateTime, Utc};
use ironpost_core::{ActionRecord, Alert, ScanFinding, Severity, SourceCheckpoint};

pub use postgres::{PostgresOptions, PostgresStore};
pub use spool::{SpoolStats, SpoolingStore};
pub use sqlite::SqliteStore;

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened at `path`.
    #[error("cannot open store {path}: {message}")]
    Open {
        /// Where.
        path: String,
        /// Why.
        message: String,
    },
    /// Migration `version` failed.
    #[error("store migration {version} failed: {message}")]
    Migration {
        /// The migration's version.
        version: u32,
        /// Why.
        message: String,
    },
    /// The database is newer than this build understands.
    #[error(
        "store schema version {found} is newer than this build supports ({supported}); upgrade Ironpost"
    )]
    TooNew {
        /// The version found.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// A query failed.
    #[error("store {operation} failed: {message}")]
    Query {
        /// What was being done.
        operation: &'static str,
        /// Why.
        message: String,
    },
    /// The database cannot be reached (connection refused, closed, shutting down); writes may be
    /// spooled and replayed later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored record could not be decoded.
    #[error("stored {kind} {id} is unreadable: {message}")]
    Corrupt {
        /// Record kind.
        kind: &'static str,
        /// Record id.
        id: String,
        /// Why.
        message: String,
    },
}

/// Which alerts to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertQuery {
    /// Only alerts detected at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only alerts at least this severe.
    pub min_severity: Option<Severity>,
    /// Only alerts of this rule id.
    pub rule: Option<String>,
    /// Only alerts of this host.
    pub host: Option<String>,
    /// At most this many, newest first.
    pub limit: usize,
}

impl Default for AlertQuery {
    fn default() -> Self {
        AlertQuery {
            since: None,
            min_severity: None,
            rule: None,
            host: None,
            limit: 100,
        }
    }
}

/// Which actions to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionQuery {
    /// Only actions on this target.
    pub target: Option<String>,
    /// Only actions triggered by this alert.
    pub alert_id: Option<String>,
    /// At most this many, newest first (0: no limit).
    pub limit: usize,
}

/// The records Ironpost keeps, whatever the backend.
pub trait Store: Send + Sync {
    /// The backend name (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// The schema version after migrations.
    fn schema_version(&self) -> Result<u32, StoreError>;

    /// Inserts alerts in one transaction; an id already stored is skipped. Returns how many were new.
    fn insert_alerts(&self, alerts: &[Alert]) -> Result<usize, StoreError>;

    /// The alert with `id`.
    fn alert(&self, id: &str) -> Result<Option<Alert>, StoreError>;

    /// Alerts matching `query`, newest first.
    fn alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>, StoreError>;

    /// The number of alerts stored.
    fn alert_count(&self) -> Result<u64, StoreError>;

    /// Inserts an action or replaces the record with the same id (actions change state).
    fn upsert_action(&self, action: &ActionRecord) -> Result<(), StoreError>;

    /// Actions matching `query`, newest first.
    fn actions(&self, query: &ActionQuery) -> Result<Vec<ActionRecord>, StoreError>;

    /// Inserts findings; an id already stored is kept as it is. Returns the findings that were new.
    fn insert_findings(&self, findings: &[ScanFinding]) -> Result<Vec<String>, StoreError>;

    /// Every finding, newest first.
    fn findings(&self, limit: usize) -> Result<Vec<ScanFinding>, StoreError>;

    /// The checkpoint of source `source`.
    fn checkpoint(&self, source: &str) -> Result<Option<SourceCheckpoint>, StoreError>;

    /// Saves checkpoints in one transaction.
    fn save_checkpoints(&self, checkpoints: &[SourceCheckpoint]) -> Result<(), StoreError>;

    /// Deletes alerts, actions and findings recorded before `cutoff`; returns how many rows went.
    fn delete_older_than(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Nanoseconds since the epoch, the stored form of timestamps (saturating far outside 1677..2262).
pub fn to_nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// The timestamp of stored nanoseconds.
pub fn from_nanos(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(n)
}

pub mod conformance;
