//! `ironpost-daemon`: one per host. Reads the configuration, opens the store, runs every enabled
//! module under the supervisor, serves the control API and metrics, and on SIGTERM or SIGINT
//! stops the modules stage by stage, drains the queues and exits 0.

mod control;
mod control_block;
mod control_guard;
mod logging;
mod metrics;
mod modules;
mod pidfile;
mod reload;
mod state;
mod supervisor;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ironpost_core::bus::bus;
use ironpost_core::config::{Config, StoreLocation, redact_url};
use ironpost_store::{
    PostgresOptions, PostgresStore, SpoolStats, SpoolingStore, SqliteStore, Store,
};

use crate::modules::{BuildContext, STAGE_OUTPUT};
use crate::state::DaemonState;
use crate::supervisor::Supervisor;

/// The Ironpost host security daemon.
#[derive(Debug, Parser)]
#[command(name = "ironpost-daemon", version, about)]
struct Args {
    /// Configuration file (default: $IRONPOST_CONFIG, ./ironpost.toml, /etc/ironpost/ironpost.toml, built-in defaults).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log level or filter; overrides RUST_LOG and general.log_level.
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (config, path) = match Config::discover(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ironpost-daemon: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    logging::init(
        args.log_level.as_deref(),
        &config.general.log_level,
        &config.general.log_format,
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ironpost")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ironpost-daemon: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(config, path, args.config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "ironpost-daemon stopped on an error"
            );
            eprintln!("ironpost-daemon: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The opened store, where it is, and its spool when it has one.
type OpenedStore = (Arc<dyn Store>, String, Option<Arc<SpoolStats>>);

fn open_store(config: &Config, host: &str) -> anyhow::Result<OpenedStore> {
    match config.store_location().map_err(anyhow::Error::msg)? {
        StoreLocation::Sqlite(path) => {
            let store = SqliteStore::open(&path)?;
            Ok((Arc::new(store), path.display().to_string(), None))
        }
        StoreLocation::Postgres(url) => {
            let mut options = PostgresOptions::new(url.clone(), host);
            options.pool_size = config.store.pool_size;
            options.ca_file =
                Some(config.store.tls_ca_file.clone()).filter(|p| !p.as_os_str().is_empty());
            let pg = PostgresStore::open_lazy(&options)?;
            let spool = Arc::new(SpoolingStore::new(
                Arc::new(pg),
                &config.spool_path(),
                config.store.spool_max_bytes,
            )?);
            spool.start_replayer(Duration::from_millis(500));
            let stats = spool.stats();
            Ok((spool, redact_url(&url), Some(stats)))
        }
    }
}

async fn run(
    config: Config,
    path: Option<PathBuf>,
    config_arg: Option<PathBuf>,
) -> anyhow::Result<()> {
    // Alerts, the store and the socket are for the daemon's user alone.
    // SAFETY: umask only changes this process's file-creation mask.
    unsafe { libc::umask(0o077) };
    let data_dir = &config.general.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let (_pid, stale) = pidfile::PidFile::acquire(&config.pid_path())?;
    if let Some(pid) = stale {
        tracing::warn!(pid, file = %config.pid_path().display(), "replaced a stale PID file");
    }
    let host = config.host_name();
    // The PostgreSQL client blocks; it must not run on the runtime's threads.
    let (store, store_location, spool) = {
        let (config, host) = (config.clone(), host.clone());
        tokio::task::spawn_blocking(move || open_store(&config, &host)).await??
    };
    let (events_tx, events_rx) = bus("events", config.general.event_queue);
    let (alerts_tx, alerts_rx) = bus("alerts", config.general.alert_queue);
    let state = Arc::new(DaemonState::new(
        host,
        store.clone(),
        store_location,
        spool,
        events_tx,
        alerts_tx,
    ));

    // The XDP lists: the section's own plus its list files, checked before anything runs.
    let lists = if config.xdp.enabled {
        modules::xdp::read_lists(&config.xdp).map_err(anyhow::Error::msg)?
    } else {
        modules::xdp::XdpLists::default()
    };
    let blocklist = Arc::new(ironpost_ebpf_engine::xdp::Blocklist::default());
    modules::xdp::apply_lists(&blocklist, &lists);
    if config.xdp.enabled {
        crate::control_block::register(blocklist.clone());
    }

    let mut supervisor = Supervisor::new(state.clone(), modules::STAGES);
    let built = modules::build(
        BuildContext {
            config: &config,
            store,
            events: Some(events_rx),
            alerts: Some(alerts_rx),
        },
        &blocklist,
    );
    for module in built.modules {
        if module.replaceable {
            supervisor.spawn_replaceable(module.stage, module.module);
        } else {
            supervisor.spawn(module.stage, module.module);
        }
    }
    if config.metrics.enabled {
        supervisor.spawn(
            STAGE_OUTPUT,
            Arc::new(metrics::MetricsEndpoint::new(
                state.clone(),
                config.metrics.listen.clone(),
            )),
        );
    }
    let supervisor = Arc::new(tokio::sync::Mutex::new(supervisor));
    let reloader = reload::Reloader::install(reload::ReloaderParts {
        config_arg,
        config: config.clone(),
        supervisor: supervisor.clone(),
        state: state.clone(),
        store: built.store,
        sigma: built.sigma_updates,
        refused_rules: built.sigma_refused,
        blocklist,
        lists,
    });
    let watcher = tokio::spawn(reloader.clone().watch());

    let (control_stop, control_task) = if config.control.enabled {
        let socket = config.socket_path();
        let listener = control::bind(&socket)?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(control::serve(
            listener,
            socket,
            state.clone(),
            async move {
                let _ = rx.await;
            },
        ));
        (Some(tx), Some(task))
    } else {
        (None, None)
    };

    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "<defaults>".into()),
        data_dir = %data_dir.display(),
        socket = %config.socket_path().display(),
        "ironpost-daemon started"
    );

    wait_for_signal(&reloader).await?;
    watcher.abort();
    tracing::info!("stopping: draining queues");
    let late = supervisor
        .lock()
        .await
        .shutdown(Duration::from_secs(config.general.shutdown_timeout_secs))
        .await;
    if late > 0 {
        tracing::warn!(
            stages = late,
            "some modules did not stop in time and were aborted"
        );
    }
    if let Some(stop) = control_stop {
        let _ = stop.send(());
    }
    if let Some(task) = control_task {
        let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
    }
    tracing::info!("ironpost-daemon stopped");
    Ok(())
}

/// Waits for SIGTERM or SIGINT, reloading on each SIGHUP meanwhile.
async fn wait_for_signal(reloader: &Arc<reload::Reloader>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;
    loop {
        tokio::select! {
            _ = term.recv() => {
                tracing::info!(signal = "SIGTERM", "signal received");
                return Ok(());
            }
            _ = int.recv() => {
                tracing::info!(signal = "SIGINT", "signal received");
                return Ok(());
            }
            _ = hup.recv() => {
                tracing::info!(signal = "SIGHUP", "signal received");
                // The outcome is logged and shown in the status.
                let _ = reloader.reload(reload::Trigger::Signal).await;
            }
        }
    }
}
