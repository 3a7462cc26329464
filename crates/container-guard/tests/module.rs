//! The guard as a supervised module: Docker unreachable makes it degraded, not failed, and the
//! alerts it is handed meanwhile are consumed without waiting.

use std::sync::Arc;
use std::time::Duration;

use ironpost_container_guard::{ContainerGuardModule, GuardSlot};
use ironpost_core::bus::bus;
use ironpost_core::config::modules::ContainerGuardConfig;
use ironpost_core::module::{
    Counters, Health, HealthHandle, Module, ModuleContext, shutdown_signal,
};
use ironpost_store::{SqliteStore, Store};

#[tokio::test]
async fn docker_unreachable_makes_the_module_degraded_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
    let config = ContainerGuardConfig {
        enabled: true,
        docker_socket: dir.path().join("no-docker.sock"),
        policies_dir: dir.path().join("policies"),
        ..ContainerGuardConfig::default()
    };
    let (guard_tx, guard_rx) = bus("container_guard", 8);
    let slot = GuardSlot::default();
    let module = Arc::new(ContainerGuardModule::new(
        config,
        store,
        guard_rx,
        slot.clone(),
    ));
    let (trigger, shutdown) = shutdown_signal();
    let (events, _er) = bus("events", 8);
    let (alerts, _ar) = bus("alerts", 8);
    let health = HealthHandle::default();
    let ctx = ModuleContext {
        host: "h".into(),
        health: health.clone(),
        counters: Counters::default(),
        shutdown,
        events,
        alerts,
    };
    let task = tokio::spawn(module.clone().run(ctx));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !matches!(health.get(), Health::Degraded(_)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {:?}",
            health.get()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reason = health.get().reason().unwrap().to_owned();
    assert!(
        reason.contains("Docker unreachable") && reason.contains("no-docker.sock"),
        "{reason}"
    );
    assert!(slot.read().unwrap().is_none(), "no guard without an engine");
    drop(guard_tx);
    trigger.fire();
    let result = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        result.is_ok(),
        "shutdown while waiting for Docker is a clean stop"
    );
}

#[tokio::test]
async fn a_broken_policy_fails_the_module_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/bad.toml"),
        "[[actions]]\ntype = \"explode\"\n",
    )
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
    let config = ContainerGuardConfig {
        enabled: true,
        policies_dir: dir.path().join("policies"),
        ..ContainerGuardConfig::default()
    };
    let (_guard_tx, guard_rx) = bus("container_guard", 8);
    let module = Arc::new(ContainerGuardModule::new(
        config,
        store,
        guard_rx,
        GuardSlot::default(),
    ));
    let (_trigger, shutdown) = shutdown_signal();
    let (events, _er) = bus("events", 8);
    let (alerts, _ar) = bus("alerts", 8);
    let ctx = ModuleContext {
        host: "h".into(),
        health: HealthHandle::default(),
        counters: Counters::default(),
        shutdown,
        events,
        alerts,
    };
    let err = module.run(ctx).await.unwrap_err().to_string();
    assert!(err.contains("bad.toml") && err.contains("explode"), "{err}");
}

/// A Unix socket that forwards every connection to the Docker socket until aborted, when it
/// closes them all: an engine that can be made unreachable without stopping dockerd.
fn proxy(path: std::path::PathBuf) -> tokio::task::JoinHandle<()> {
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            conns.spawn(async move {
                if let Ok(mut engine) =
                    tokio::net::UnixStream::connect("/var/run/docker.sock").await
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
                }
            });
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_engine_degrades_the_module_until_it_is_back() {
    if std::process::Command::new("docker")
        .arg("info")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        eprintln!("skipped: no Docker Engine answers (scripts/start-dockerd starts one)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let mut engine = proxy(socket.clone());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
    let config = ContainerGuardConfig {
        enabled: true,
        docker_socket: socket.clone(),
        policies_dir: dir.path().join("policies"),
        ..ContainerGuardConfig::default()
    };
    let (_guard_tx, guard_rx) = bus("container_guard", 8);
    let slot = GuardSlot::default();
    let module = Arc::new(ContainerGuardModule::new(
        config,
        store,
        guard_rx,
        slot.clone(),
    ));
    let (trigger, shutdown) = shutdown_signal();
    let (events, _er) = bus("events", 8);
    let (alerts, _ar) = bus("alerts", 8);
    let health = HealthHandle::default();
    let counters = Counters::default();
    let ctx = ModuleContext {
        host: "h".into(),
        health: health.clone(),
        counters: counters.clone(),
        shutdown,
        events,
        alerts,
    };
    let task = tokio::spawn(module.clone().run(ctx));
    let wait = |want: &'static str| {
        let health = health.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while health.get().state() != want {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "still {:?}, want {want}",
                    health.get()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait("healthy").await;
    assert!(slot.read().unwrap().is_some());

    engine.abort();
    let _ = engine.await;
    wait("degraded").await;
    assert!(counters.snapshot()["inventory_resyncs"] >= 1);

    engine = proxy(socket);
    wait("healthy").await;
    trigger.fire();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    engine.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_on_an_unreachable_engine_is_retried_then_recorded_failed() {
    use ironpost_container_guard::{ContainerInfo, Decision, Guard, GuardSettings, Inventory};
    use ironpost_core::{ActionState, AlertId, Attribution, Severity};
    use ironpost_store::ActionQuery;

    let dir = tempfile::tempdir().unwrap();
    // A socket file nobody listens on: connections are refused.
    let socket = dir.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let docker =
        ironpost_container_guard::docker::connect(&socket, Duration::from_secs(2)).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
    let inventory = Inventory::new();
    let id = "d".repeat(64);
    inventory.upsert(ContainerInfo {
        id: id.clone(),
        name: "web".into(),
        state: "running".into(),
        ..ContainerInfo::default()
    });
    let policy = ironpost_container_guard::Policy::parse(
        "pause",
        std::path::Path::new("pause.toml"),
        "[[actions]]\ntype = \"pause\"\n",
    )
    .unwrap();
    let counters = Counters::default();
    let settings = GuardSettings {
        host: "h".into(),
        dry_run: false,
        cooldown: Duration::from_secs(60),
        breaker_max: 10,
        breaker_window: Duration::from_secs(60),
        action_timeout: Duration::from_secs(2),
        workers: 1,
        queue: 8,
        snapshot_repository: "r".into(),
        own_container: None,
    };
    let guard = Guard::new(
        settings,
        docker,
        inventory,
        vec![policy],
        store.clone(),
        counters.clone(),
    );
    let g = guard.clone();
    let worker = tokio::spawn(async move { g.work().await });
    let g = guard.clone();
    let audit = tokio::spawn(async move { g.audit().run().await });
    let now = chrono::Utc::now();
    let alert = ironpost_core::Alert {
        id: AlertId::derive("r", "", now),
        rule_id: "r".into(),
        title: "t".into(),
        severity: Severity::High,
        module: "sigma".into(),
        event_time: now,
        detected_at: now,
        window_start: now,
        group: Default::default(),
        count: 1,
        attribution: Attribution {
            container_name: Some("web".into()),
            ..Attribution::default()
        },
        tags: vec![],
        evidence: vec![],
    };
    assert!(matches!(guard.handle_alert(&alert), Decision::Queued(_)));
    let mut finished = guard.finished();
    tokio::time::timeout(Duration::from_secs(30), finished.changed())
        .await
        .unwrap()
        .unwrap();
    guard.audit().flush().await;
    let records = store
        .actions(&ActionQuery {
            target: Some(id),
            ..ActionQuery::default()
        })
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].state, ActionState::Failed);
    assert!(
        records[0].error.as_deref().unwrap().contains("unreachable"),
        "{records:?}"
    );
    assert_eq!(counters.snapshot()["action_retries"], 2);
    worker.abort();
    audit.abort();
}
