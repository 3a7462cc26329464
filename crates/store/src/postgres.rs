//! The PostgreSQL backend: many daemons, one database.
//!
//! The tables are those of the SQLite backend (bodies as JSONB), every record carries its host,
//! and checkpoints are keyed by host and source. Alerts are written with one
//! `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING` per batch, so a replay is idempotent. Connections come from a
//! small pool; a connection that fails is dropped, and a failure to reach the server is reported
//! as [`StoreError::Unavailable`] so that writes can be spooled (see [`crate::spool`]).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ironpost_core::{ActionRecord, Alert, ScanFinding, SourceCheckpoint};
use postgres::Client;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::{ActionQuery, AlertQuery, Store, StoreError, from_nanos, to_nanos};

/// Migrations in order; a migration's version is its index plus one.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/postgres/0001_init.sql")];

/// A key for `pg_advisory_xact_lock`, so two daemons starting together migrate one at a time.
const MIGRATION_LOCK: i64 = 0x1120_9057;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/db?…` (libpq keywords in the query are honoured).
    pub url: String,
    /// This host's name: checkpoints are kept per host.
    pub host: String,
    /// Most connections open at once.
    pub pool_size: usize,
    /// How long to wait for a connection to the server.
    pub connect_timeout: Duration,
    /// PEM file of the certificate authorities that sign the server's certificate; `None` uses
    /// the system's roots. TLS itself is chosen by `sslmode` in the URL (`prefer`, the default,
    /// uses it when the server offers it; `require` insists; `disable` never does); the server's
    /// certificate and name are always verified when TLS is used.
    pub ca_file: Option<std::path::PathBuf>,
}

impl PostgresOptions {
    /// Options for `url` as host `host`, with a pool of 4 and a 5-second connect timeout.
    pub fn new(url: impl Into<String>, host: impl Into<String>) -> Self {
        PostgresOptions {
            url: url.into(),
            host: host.into(),
            pool_size: 4,
            connect_timeout: Duration::from_secs(5),
            ca_file: None,
        }
    }
}

/// Connections, at most `max` checked out at once.
struct Pool {
    config: postgres::Config,
    tls: MakeRustlsConnect,
    idle: Mutex<Vec<Client>>,
    busy: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

/// True when `e` means the server cannot be reached, rather than a bad statement.
fn is_unavailable(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let c = code.code();
            // Class 08: connection exceptions; 57P01..57P03: shutdown and startup.
            c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03"
        }
        // No SQLSTATE: an I/O error, a timeout or a refused connection.
        None => e.as_db_error().is_none(),
    }
}

/// The error with its causes, which name what actually failed (a refused connection, a
/// certificate that does not verify).
fn chain(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn pg_err(operation: &'static str) -> impl Fn(postgres::Error) -> StoreError {
    move |e| {
        if is_unavailable(&e) {
            StoreError::Unavailable(format!("{operation}: {}", chain(&e)))
        } else {
            StoreError::Query {
                operation,
                message: e
                    .as_db_error()
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| e.to_string()),
            }
        }
    }
}

impl Pool {
    fn with<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        /// Gives the slot back even if the operation panics, so a panic cannot shrink the pool.
        struct Slot<'a>(&'a Pool);
        impl Drop for Slot<'_> {
            fn drop(&mut self) {
                *self.0.busy.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
                self.0.freed.notify_one();
            }
        }
        {
            let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
            while *busy >= self.max {
                busy = self.freed.wait(busy).unwrap_or_else(|e| e.into_inner());
            }
            *busy += 1;
        }
        let _slot = Slot(self);
        self.run(op, f)
    }

    fn run<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut client = match idle {
            Some(c) if !c.is_closed() => c,
            _ => self
                .config
                .connect(self.tls.clone())
                .map_err(pg_err("connect"))?,
        };
        let result = f(&mut client).map_err(pg_err(op));
        if !client.is_closed() && !matches!(result, Err(StoreError::Unavailable(_))) {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(client);
        }
        result
    }
}

/// A TLS connector trusting `ca_file`, or the system's roots.
fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<MakeRustlsConnect, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let bad = |message: String| StoreError::Open {
                path: path.display().to_string(),
                message,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(format!("cannot read the CA file: {e}")))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
            if certs.is_empty() {
                return Err(bad("no certificate in the CA file".into()));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("unusable certificate: {e}")))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A system root rustls cannot use is skipped, as browsers do.
                let _ = roots.add(cert);
            }
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Open {
            path: "tls".into(),
            message: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

impl Drop for Pool {
    fn drop(&mut self) {
        // A client closes its connection by blocking on its own runtime, which panics on a
        // thread that drives another runtime (the daemon drops its store on one): close them on
        // a thread of their own.
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|e| e.into_inner()));
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: Pool,
    host: String,
    migrated: std::sync::atomic::AtomicBool,
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

impl PostgresStore {
    /// Connects, checks that the server answers and applies pending migrations.
    pub fn open(options: &PostgresOptions) -> Result<PostgresStore, StoreError> {
        let store = Self::open_lazy(options)?;
        store.ready()?;
        Ok(store)
    }

    /// Like [`PostgresStore::open`], but a server that cannot be reached yet is not an error:
    /// migrations run on the first operation that reaches it (a daemon starts during an outage
    /// and spools meanwhile). A bad URL or a failing migration is still an error.
    pub fn open_lazy(options: &PostgresOptions) -> Result<PostgresStore, StoreError> {
        let mut config: postgres::Config = options.url.parse().map_err(|e| StoreError::Open {
            path: ironpost_core::config::redact_url(&options.url),
            message: format!("not a PostgreSQL URL: {e}"),
        })?;
        config.connect_timeout(options.connect_timeout);
        config.application_name("ironpost");
        let tls = tls_connector(options.ca_file.as_deref())?;
        let store = PostgresStore {
            pool: Pool {
                config,
                tls,
                idle: Mutex::new(Vec::new()),
                busy: Mutex::new(0),
                freed: Condvar::new(),
                max: options.pool_size.max(1),
            },
            host: options.host.clone(),
            migrated: std::sync::atomic::AtomicBool::new(false),
        };
        match store.ready() {
            Ok(()) | Err(StoreError::Unavailable(_)) => Ok(store),
            Err(e) => Err(e),
        }
    }

    /// Applies migrations once per process, on the first call that reaches the server.
    fn ready(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if self.migrated.load(Ordering::Acquire) {
            return Ok(());
        }
        self.migrate()?;
        self.migrated.store(true, Ordering::Release);
        Ok(())
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let supported = MIGRATIONS.len() as u32;
        self.pool.with("migrate", |c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )?;
            let current: i32 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])?.get(0);
            if current as u32 > supported {
                tx.commit()?;
                return Ok(Err(StoreError::TooNew {
                    found: current as u32,
                    supported,
                }));
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
                let version = i as i32 + 1;
                tx.batch_execute(sql)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    &[&version, &to_nanos(Utc::now())],
                )?;
            }
            tx.commit()?;
            Ok(Ok(()))
        })?
    }

    /// The host name checkpoints are kept under.
    pub fn host(&self) -> &str {
        &self.host
    }
}

fn rows_to<T: serde::de::DeserializeOwned>(
    kind: &'static str,
    rows: Vec<postgres::Row>,
) -> Result<Vec<T>, StoreError> {
    rows.iter()
        .map(|r| decode(kind, r.get::<_, &str>(0), r.get::<_, &str>(1)))
        .collect()
}

impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn schema_version(&self) -> Result<u32, StoreError> {
        self.ready()?;
        self.pool.with("schema version", |c| {
            let v: i32 = c
                .query_one(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    &[],
                )?
                .get(0);
            Ok(v as u32)
        })
    }

    fn insert_alerts(&self, alerts: &[Alert]) -> Result<usize, StoreError> {
        self.ready()?;
        if alerts.is_empty() {
            return Ok(0);
        }
        // One array a column: the statement is the same whatever the batch size, and rows travel
        // in binary.
        let n = alerts.len();
        let (mut id, mut host, mut rule, mut title) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut severity, mut module, mut event_time, mut detected_at) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut container, mut src_ip, mut body) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for a in alerts {
            id.push(a.id.as_str());
            host.push(a.attribution.host.as_str());
            rule.push(a.rule_id.as_str());
            title.push(a.title.as_str());
            severity.push(i16::from(a.severity.rank()));
            module.push(a.module.as_str());
            event_time.push(to_nanos(a.event_time));
            detected_at.push(to_nanos(a.detected_at));
            container.push(a.attribution.container_id.as_deref());
            src_ip.push(a.attribution.src_ip.map(|i| i.to_string()));
            body.push(encode(a)?);
        }
        self.pool.with("insert alerts", |c| {
            let inserted = c.execute(
                "INSERT INTO alerts (id, host, rule_id, title, severity, module, event_time, detected_at, container_id, src_ip, body)
                 SELECT id, host, rule_id, title, severity, module, event_time, detected_at, container_id, src_ip, body::jsonb
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int2[], $6::text[], $7::int8[], $8::int8[], $9::text[], $10::text[], $11::text[])
                   AS t(id, host, rule_id, title, severity, module, event_time, detected_at, container_id, src_ip, body)
                 ON CONFLICT (id) DO NOTHING",
                &[&id, &host, &rule, &title, &severity, &module, &event_time, &detected_at, &container, &src_ip, &body],
            )?;
            Ok(inserted as usize)
        })
    }

    fn alert(&self, id: &str) -> Result<Option<Alert>, StoreError> {
        self.ready()?;
        let row = self.pool.with("read alert", |c| {
            c.query_opt("SELECT id, body::text FROM alerts WHERE id = $1", &[&id])
        })?;
        row.map(|r| decode("alert", id, r.get::<_, &str>(1)))
            .transpose()
    }

    fn alerts(&self, q: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
        self.ready()?;
        let since = q.since.map(to_nanos);
        let severity = q.min_severity.map(|s| i16::from(s.rank()));
        let limit = q.limit as i64;
        let rows = self.pool.with("list alerts", |c| {
            c.query(
                "SELECT id, body::text FROM alerts
                 WHERE ($1::BIGINT IS NULL OR detected_at >= $1)
                   AND ($2::SMALLINT IS NULL OR severity >= $2)
                   AND ($3::TEXT IS NULL OR rule_id = $3)
                   AND ($4::TEXT IS NULL OR host = $4)
                 ORDER BY detected_at DESC, id
                 LIMIT $5",
                &[&since, &severity, &q.rule, &q.host, &limit],
            )
        })?;
        rows_to("alert", rows)
    }

    fn alert_count(&self) -> Result<u64, StoreError> {
        self.ready()?;
        self.pool.with("count alerts", |c| {
            let n: i64 = c.query_one("SELECT COUNT(*) FROM alerts", &[])?.get(0);
            Ok(n as u64)
        })
    }

    fn upsert_action(&self, a: &ActionRecord) -> Result<(), StoreError> {
        self.ready()?;
        let body = encode(a)?;
        let (created, updated) = (to_nanos(a.created_at), to_nanos(a.updated_at));
        let state = a.state.as_str();
        self.pool.with("write action", |c| {
            c.execute(
                "INSERT INTO actions (id, alert_id, host, module, action, target, state, created_at, updated_at, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb)
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state,
                     updated_at = excluded.updated_at, body = excluded.body",
                &[&a.id, &a.alert_id, &a.host, &a.module, &a.action, &a.target, &state, &created, &updated, &body],
            )
            .map(|_| ())
        })
    }

    fn actions(&self, q: &ActionQuery) -> Result<Vec<ActionRecord>, StoreError> {
        self.ready()?;
        let limit: Option<i64> = if q.limit == 0 {
            None
        } else {
            Some(q.limit as i64)
        };
        let rows = self.pool.with("list actions", |c| {
            c.query(
                "SELECT id, body::text FROM actions
                 WHERE ($1::TEXT IS NULL OR target = $1) AND ($2::TEXT IS NULL OR alert_id = $2)
                 ORDER BY created_at DESC, id LIMIT $3",
                &[&q.target, &q.alert_id, &limit],
            )
        })?;
        rows_to("action", rows)
    }

    fn insert_findings(&self, findings: &[ScanFinding]) -> Result<Vec<String>, StoreError> {
        self.ready()?;
        let bodies = findings.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        self.pool.with("insert findings", |c| {
            let mut tx = c.transaction()?;
            let stmt = tx.prepare(
                "INSERT INTO findings (id, host, advisory_id, package, severity, first_seen, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb) ON CONFLICT (id) DO NOTHING",
            )?;
            let mut new = Vec::new();
            for (f, body) in findings.iter().zip(&bodies) {
                let n = tx.execute(
                    &stmt,
                    &[
                        &f.id,
                        &f.host,
                        &f.advisory_id,
                        &f.package,
                        &i16::from(f.severity.rank()),
                        &to_nanos(f.first_seen),
                        body,
                    ],
                )?;
                if n > 0 {
                    new.push(f.id.clone());
                }
            }
            tx.commit()?;
            Ok(new)
        })
    }

    fn findings(&self, limit: usize) -> Result<Vec<ScanFinding>, StoreError> {
        self.ready()?;
        let limit = limit as i64;
        let rows = self.pool.with("list findings", |c| {
            c.query(
                "SELECT id, body::text FROM findings ORDER BY first_seen DESC, id LIMIT $1",
                &[&limit],
            )
        })?;
        rows_to("finding", rows)
    }

    fn checkpoint(&self, source: &str) -> Result<Option<SourceCheckpoint>, StoreError> {
        self.ready()?;
        let row = self.pool.with("read checkpoint", |c| {
            c.query_opt(
                r#"SELECT source, device, inode, "offset", updated_at FROM checkpoints WHERE host = $1 AND source = $2"#,
                &[&self.host, &source],
            )
        })?;
        Ok(row.map(|r| SourceCheckpoint {
            source: r.get(0),
            device: r.get::<_, i64>(1) as u64,
            inode: r.get::<_, i64>(2) as u64,
            offset: r.get::<_, i64>(3) as u64,
            updated_at: from_nanos(r.get(4)),
        }))
    }

    fn save_checkpoints(&self, checkpoints: &[SourceCheckpoint]) -> Result<(), StoreError> {
        self.ready()?;
        self.pool.with("save checkpoints", |c| {
            let mut tx = c.transaction()?;
            let stmt = tx.prepare(
                r#"INSERT INTO checkpoints (host, source, device, inode, "offset", updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (host, source) DO UPDATE SET device = excluded.device,
                       inode = excluded.inode, "offset" = excluded."offset", updated_at = excluded.updated_at"#,
            )?;
            for cp in checkpoints {
                tx.execute(
                    &stmt,
                    &[&self.host, &cp.source, &(cp.device as i64), &(cp.inode as i64), &(cp.offset as i64), &to_nanos(cp.updated_at)],
                )?;
            }
            tx.commit()
        })
    }

    fn delete_older_than(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        self.ready()?;
        let at = to_nanos(cutoff);
        self.pool.with("retention", |c| {
            let mut tx = c.transaction()?;
            let mut n = 0;
            n += tx.execute("DELETE FROM alerts WHERE detected_at < $1", &[&at])?;
            n += tx.execute("DELETE FROM actions WHERE updated_at < $1", &[&at])?;
            n += tx.execute("DELETE FROM findings WHERE first_seen < $1", &[&at])?;
            tx.commit()?;
            Ok(n)
        })
    }
}
