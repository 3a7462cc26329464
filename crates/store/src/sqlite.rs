//! The embedded SQLite backend: one file, WAL journal, versioned migrations.

use std::path::Path;
use std::sync::Mutex;

use ironpost_core::{ActionRecord, Alert, ScanFinding, SourceCheckpoint};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{ActionQuery, AlertQuery, Store, StoreError, from_nanos, to_nanos};

/// Migrations in order; a migration's version is its index plus one.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/sqlite/0001_init.sql")];

/// The SQLite store. One connection behind a mutex: SQLite serializes writers anyway, and the
/// daemon writes in batches from one task.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn query_err(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::Query {
        operation,
        message: e.to_string(),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                message: format!("cannot create directory {}: {e}", parent.display()),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::init(conn, &path.display().to_string())
    }

    /// An in-memory database, for tests and offline tools.
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Open {
            path: ":memory:".into(),
            message: e.to_string(),
        })?;
        Self::init(conn, ":memory:")
    }

    fn init(conn: Connection, path: &str) -> Result<SqliteStore, StoreError> {
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: path.to_owned(),
            message: e.to_string(),
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        // WAL lets the CLI read while the daemon writes; NORMAL is durable across process
        // crashes, which is what a checkpoint needs.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        let store = SqliteStore {
            conn: Mutex::new(conn),
        };
        store.migrate()?;
        Ok(store)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.lock();
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .map_err(|e| StoreError::Migration {
            version: 0,
            message: e.to_string(),
        })?;
        let current: u32 = conn
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(|e| StoreError::Migration {
                version: 0,
                message: e.to_string(),
            })?;
        let supported = MIGRATIONS.len() as u32;
        if current > supported {
            return Err(StoreError::TooNew {
                found: current,
                supported,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = i as u32 + 1;
            let mig_err = |e: rusqlite::Error| StoreError::Migration {
                version,
                message: e.to_string(),
            };
            let tx = conn.transaction().map_err(mig_err)?;
            tx.execute_batch(sql).map_err(mig_err)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, to_nanos(chrono::Utc::now())],
            )
            .map_err(mig_err)?;
            tx.commit().map_err(mig_err)?;
        }
        Ok(())
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    kind: &'static str,
    id: &str,
    body: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        kind,
        id: id.to_owned(),
        message: e.to_string(),
    })
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Query {
        operation: "encode",
        message: e.to_string(),
    })
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn schema_version(&self) -> Result<u32, StoreError> {
        self.lock()
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(query_err("schema version"))
    }

    fn insert_alerts(&self, alerts: &[Alert]) -> Result<usize, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(query_err("insert alerts"))?;
        let mut inserted = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO alerts (id, host, rule_id, title, severity, module,
                         event_time, detected_at, container_id, src_ip, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(query_err("insert alerts"))?;
            for a in alerts {
                inserted += stmt
                    .execute(params![
                        a.id.as_str(),
                        a.attribution.host,
                        a.rule_id,
                        a.title,
                        a.severity.rank(),
                        a.module,
                        to_nanos(a.event_time),
                        to_nanos(a.detected_at),
                        a.attribution.container_id,
                        a.attribution.src_ip.map(|ip| ip.to_string()),
                        encode(a)?,
                    ])
                    .map_err(query_err("insert alerts"))?;
            }
        }
        tx.commit().map_err(query_err("insert alerts"))?;
        Ok(inserted)
    }

    fn alert(&self, id: &str) -> Result<Option<Alert>, StoreError> {
        let body: Option<String> = self
            .lock()
            .query_row("SELECT body FROM alerts WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(query_err("read alert"))?;
        body.map(|b| decode("alert", id, &b)).transpose()
    }

    fn alerts(&self, q: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, body FROM alerts
                 WHERE (?1 IS NULL OR detected_at >= ?1)
                   AND (?2 IS NULL OR severity >= ?2)
                   AND (?3 IS NULL OR rule_id = ?3)
                   AND (?4 IS NULL OR host = ?4)
                 ORDER BY detected_at DESC, id
                 LIMIT ?5",
            )
            .map_err(query_err("list alerts"))?;
        let rows = stmt
            .query_map(
                params![
                    q.since.map(to_nanos),
                    q.min_severity.map(|s| s.rank()),
                    q.rule,
                    q.host,
                    q.limit as i64
                ],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .map_err(query_err("list alerts"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body) = row.map_err(query_err("list alerts"))?;
            out.push(decode("alert", &id, &body)?);
        }
        Ok(out)
    }

    fn alert_count(&self) -> Result<u64, StoreError> {
        self.lock()
            .query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(query_err("count alerts"))
    }

    fn upsert_action(&self, a: &ActionRecord) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "INSERT INTO actions (id, alert_id, host, module, action, target, state,
                     created_at, updated_at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state,
                     updated_at = excluded.updated_at, body = excluded.body",
                params![
                    a.id,
                    a.alert_id,
                    a.host,
                    a.module,
                    a.action,
                    a.target,
                    a.state.as_str(),
                    to_nanos(a.created_at),
                    to_nanos(a.updated_at),
                    encode(a)?,
                ],
            )
            .map_err(query_err("write action"))?;
        Ok(())
    }

    fn actions(&self, q: &ActionQuery) -> Result<Vec<ActionRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, body FROM actions
                 WHERE (?1 IS NULL OR target = ?1) AND (?2 IS NULL OR alert_id = ?2)
                 ORDER BY created_at DESC, id LIMIT ?3",
            )
            .map_err(query_err("list actions"))?;
        let limit = if q.limit == 0 { -1 } else { q.limit as i64 };
        let rows = stmt
            .query_map(params![q.target, q.alert_id, limit], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(query_err("list actions"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body) = row.map_err(query_err("list actions"))?;
            out.push(decode("action", &id, &body)?);
        }
        Ok(out)
    }

    fn insert_findings(&self, findings: &[ScanFinding]) -> Result<Vec<String>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(query_err("insert findings"))?;
        let mut new = Vec::new();
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO findings (id, host, advisory_id, package, severity,
                         first_seen, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(query_err("insert findings"))?;
            for f in findings {
                let n = stmt
                    .execute(params![
                        f.id,
                        f.host,
                        f.advisory_id,
                        f.package,
                        f.severity.rank(),
                        to_nanos(f.first_seen),
                        encode(f)?,
                    ])
                    .map_err(query_err("insert findings"))?;
                if n > 0 {
                    new.push(f.id.clone());
                }
            }
        }
        tx.commit().map_err(query_err("insert findings"))?;
        Ok(new)
    }

    fn findings(&self, limit: usize) -> Result<Vec<ScanFinding>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT id, body FROM findings ORDER BY first_seen DESC, id LIMIT ?1")
            .map_err(query_err("list findings"))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(query_err("list findings"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body) = row.map_err(query_err("list findings"))?;
            out.push(decode("finding", &id, &body)?);
        }
        Ok(out)
    }

    fn checkpoint(&self, source: &str) -> Result<Option<SourceCheckpoint>, StoreError> {
        self.lock()
            .query_row(
                "SELECT source, device, inode, offset, updated_at FROM checkpoints WHERE source = ?1",
                [source],
                |r| {
                    Ok(SourceCheckpoint {
                        source: r.get(0)?,
                        device: r.get::<_, i64>(1)? as u64,
                        inode: r.get::<_, i64>(2)? as u64,
                        offset: r.get::<_, i64>(3)? as u64,
                        updated_at: from_nanos(r.get(4)?),
                    })
                },
            )
            .optional()
            .map_err(query_err("read checkpoint"))
    }

    fn save_checkpoints(&self, checkpoints: &[SourceCheckpoint]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(query_err("save checkpoints"))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO checkpoints (source, device, inode, offset, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (source) DO UPDATE SET device = excluded.device,
                         inode = excluded.inode, offset = excluded.offset,
                         updated_at = excluded.updated_at",
                )
                .map_err(query_err("save checkpoints"))?;
            for c in checkpoints {
                stmt.execute(params![
                    c.source,
                    c.device as i64,
                    c.inode as i64,
                    c.offset as i64,
                    to_nanos(c.updated_at)
                ])
                .map_err(query_err("save checkpoints"))?;
            }
        }
        tx.commit().map_err(query_err("save checkpoints"))
    }

    fn delete_older_than(&self, cutoff: chrono::DateTime<chrono::Utc>) -> Result<u64, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(query_err("retention"))?;
        let at = to_nanos(cutoff);
        let mut n = 0;
        for sql in [
            "DELETE FROM alerts WHERE detected_at < ?1",
            "DELETE FROM actions WHERE updated_at < ?1",
            "DELETE FROM findings WHERE first_seen < ?1",
        ] {
            n += tx.execute(sql, [at]).map_err(query_err("retention"))? as u64;
        }
        tx.commit().map_err(query_err("retention"))?;
        Ok(n)
    }
}
