//! `[log_pipeline]`: runs the configured log sources and puts their records on the event bus.
//!
//! Each `[[log_pipeline.sources]]` entry becomes a file tail, a syslog UDP or a syslog TCP
//! source of `ironpost-log-pipeline`; file checkpoints go to the store through
//! [`StoreCheckpoints`]. A source that cannot start (a port taken, a bad glob) fails the module,
//! and the supervisor restarts it with backoff. The sources' counters are summed into the
//! module's counters (`lines`, `parsed`, `failed`, `truncated`, `lossy_utf8`, ...) every second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ironpost_core::SourceCheckpoint;
use ironpost_core::config::modules::{LogPipelineConfig, LogSourceConfig};
use ironpost_core::module::{Module, ModuleContext, ModuleError, ModuleFuture};
use ironpost_log_pipeline::checkpoint::{CheckpointError, CheckpointStore};
use ironpost_log_pipeline::sources::SourceStats;
use ironpost_log_pipeline::sources::file::{FileSource, FileSourceOptions, StartAt};
use ironpost_log_pipeline::sources::tcp::{SyslogTcpOptions, SyslogTcpSource, TlsOptions};
use ironpost_log_pipeline::sources::udp::{SyslogUdpOptions, SyslogUdpSource};
use ironpost_log_pipeline::{Format, ParseOptions, parse_utc_offset};
use ironpost_store::Store;

/// The store seen as a checkpoint store of file sources.
pub struct StoreCheckpoints(pub Arc<dyn Store>);

impl CheckpointStore for StoreCheckpoints {
    fn load(&self, key: &str) -> Result<Option<SourceCheckpoint>, CheckpointError> {
        self.0
            .checkpoint(key)
            .map_err(|e| CheckpointError::Store(e.to_string()))
    }

    fn save(&self, cp: &SourceCheckpoint) -> Result<(), CheckpointError> {
        self.0
            .save_checkpoints(std::slice::from_ref(cp))
            .map_err(|e| CheckpointError::Store(e.to_string()))
    }
}

/// The log pipeline module.
pub struct LogPipeline {
    config: LogPipelineConfig,
    store: Arc<dyn Store>,
}

impl LogPipeline {
    /// Builds the module from its section and the store that keeps checkpoints.
    pub fn new(config: LogPipelineConfig, store: Arc<dyn Store>) -> Self {
        LogPipeline { config, store }
    }
}

/// A source's format and parse options from its section.
fn parse_options(s: &LogSourceConfig) -> Result<(Format, ParseOptions), ModuleError> {
    let format: Format = s
        .format
        .parse()
        .map_err(|e| ModuleError::new(format!("log_pipeline source {}: {e}", s.name)))?;
    let timezone = parse_utc_offset(&s.timezone).ok_or_else(|| {
        ModuleError::new(format!(
            "log_pipeline source {}: timezone `{}` is not UTC or an offset such as +02:00",
            s.name, s.timezone
        ))
    })?;
    Ok((
        format,
        ParseOptions {
            timezone,
            ..ParseOptions::default()
        },
    ))
}

impl Module for LogPipeline {
    fn name(&self) -> &'static str {
        "log_pipeline"
    }

    fn run(self: Arc<Self>, ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            let checkpoints: Arc<dyn CheckpointStore> =
                Arc::new(StoreCheckpoints(self.store.clone()));
            let mut tasks = tokio::task::JoinSet::new();
            let mut stats: Vec<Arc<SourceStats>> = Vec::new();
            for s in &self.config.sources {
                let (format, parse) = parse_options(s)?;
                let fail = |e: &dyn std::fmt::Display| ModuleError::new(e.to_string());
                let (events, shutdown) = (ctx.events.clone(), ctx.shutdown.clone());
                match s.kind.as_str() {
                    "file" | "json_file" => {
                        let mut o = FileSourceOptions::new(&s.name, s.paths.clone());
                        o.format = if s.kind == "json_file" {
                            Format::Json
                        } else {
                            format
                        };
                        o.start_at = if s.start_at == "beginning" {
                            StartAt::Beginning
                        } else {
                            StartAt::End
                        };
                        o.max_line_bytes = s.max_line_bytes;
                        o.poll_interval = Duration::from_millis(s.poll_interval_ms.max(10));
                        o.parse = parse;
                        let src = FileSource::new(o, checkpoints.clone()).map_err(|e| fail(&e))?;
                        stats.push(src.stats());
                        tasks.spawn(src.run(events, shutdown));
                    }
                    "syslog_udp" => {
                        let mut o = SyslogUdpOptions::new(&s.name);
                        o.bind = s.listen.parse().map_err(|e| fail(&e))?;
                        o.format = format;
                        o.recv_buffer_bytes = s.recv_buffer_bytes;
                        o.parse = parse;
                        let src = SyslogUdpSource::bind(o).map_err(|e| fail(&e))?;
                        stats.push(src.stats());
                        tasks.spawn(src.run(events, shutdown));
                    }
                    "syslog_tcp" => {
                        let mut o = SyslogTcpOptions::new(&s.name);
                        o.bind = s.listen.parse().map_err(|e| fail(&e))?;
                        o.format = format;
                        o.max_connections = s.max_connections;
                        o.idle_timeout = Duration::from_secs(s.idle_timeout_secs.max(1));
                        o.frame_timeout = Duration::from_secs(s.frame_timeout_secs.max(1));
                        o.max_frame_bytes = s.max_frame_bytes;
                        o.parse = parse;
                        if !s.tls_cert.as_os_str().is_empty() {
                            o.tls = Some(TlsOptions {
                                cert_path: s.tls_cert.clone(),
                                key_path: s.tls_key.clone(),
                            });
                        }
                        let src = SyslogTcpSource::bind(o).await.map_err(|e| fail(&e))?;
                        stats.push(src.stats());
                        tasks.spawn(src.run(events, shutdown));
                    }
                    other => {
                        return Err(ModuleError::new(format!(
                            "log_pipeline source {}: unknown type `{other}`",
                            s.name
                        )));
                    }
                }
            }
            ctx.health.healthy();
            let mut shown: BTreeMap<&'static str, u64> = BTreeMap::new();
            let publish = |shown: &mut BTreeMap<&'static str, u64>| {
                let mut total: BTreeMap<&'static str, u64> = BTreeMap::new();
                for s in &stats {
                    for (k, v) in s.snapshot() {
                        *total.entry(k).or_default() += v;
                    }
                }
                for (k, v) in total {
                    let before = shown.insert(k, v).unwrap_or(0);
                    ctx.counters.add(k, v.saturating_sub(before));
                }
            };
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut shutdown = ctx.shutdown.clone();
            loop {
                tokio::select! {
                    _ = shutdown.wait() => break,
                    _ = tick.tick() => publish(&mut shown),
                    Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                        match done {
                            Ok(Err(e)) => return Err(ModuleError::new(e.to_string())),
                            Err(e) if e.is_panic() => return Err(ModuleError::new(format!("a log source panicked: {e}"))),
                            _ => {}
                        }
                    }
                }
            }
            while tasks.join_next().await.is_some() {}
            publish(&mut shown);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use ironpost_core::Event;
    use ironpost_core::bus::bus;
    use ironpost_core::module::{Counters, HealthHandle, shutdown_signal};
    use ironpost_store::SqliteStore;

    use super::*;

    #[tokio::test]
    async fn a_file_source_feeds_the_event_bus_and_checkpoints_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("auth.log");
        std::fs::write(
            &log,
            "Dec 10 06:55:46 LabSZ sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2\n",
        )
        .unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let config = LogPipelineConfig {
            enabled: true,
            sources: vec![LogSourceConfig {
                name: "auth".into(),
                kind: "file".into(),
                paths: vec![log.display().to_string()],
                start_at: "beginning".into(),
                poll_interval_ms: 20,
                ..LogSourceConfig::default()
            }],
        };
        let module = Arc::new(LogPipeline::new(config, store.clone()));
        let (events, mut rx) = bus::<Event>("events", 16);
        let (alerts, _arx) = bus("alerts", 16);
        let (trigger, shutdown) = shutdown_signal();
        let ctx = ModuleContext {
            host: "h".into(),
            health: HealthHandle::default(),
            counters: Counters::default(),
            shutdown,
            events,
            alerts,
        };
        let counters = ctx.counters.clone();
        let task = tokio::spawn(module.run(ctx));
        let ev = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .unwrap()
            .unwrap();
        let Event::Log(rec) = ev else {
            panic!("not a log record")
        };
        assert_eq!(
            rec.fields
                .get("user")
                .and_then(|v| v.view().as_str().map(str::to_owned))
                .as_deref(),
            Some("root")
        );
        trigger.fire();
        task.await.unwrap().unwrap();
        let cp = store
            .checkpoint(&format!("auth:{}", log.display()))
            .unwrap()
            .unwrap();
        assert_eq!(cp.offset, std::fs::metadata(&log).unwrap().len());
        assert_eq!(counters.snapshot().get("parsed"), Some(&1));
    }
}
