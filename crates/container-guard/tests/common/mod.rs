//! Fixtures for tests against the real Docker Engine: containers and networks named
//! `ironpost-test-…` that are removed when the fixture drops, even after a failed assertion.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use ironpost_container_guard::{Guard, GuardSettings, Inventory, Policy, inventory};
use ironpost_core::event::{ContainerRef, Event, LogRecord};
use ironpost_core::module::Counters;
use ironpost_core::{ActionRecord, Alert, AlertId, Attribution, Severity};
use ironpost_store::{ActionQuery, SqliteStore, Store};

/// The image every test container runs.
pub const IMAGE: &str = "ironpost-test/busybox:latest";
/// The Engine socket.
pub const SOCKET: &str = "/var/run/docker.sock";

fn docker(args: &[&str]) -> (bool, String) {
    match Command::new("docker").args(args).output() {
        Ok(o) => (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
            .trim()
            .to_owned(),
        ),
        Err(e) => (false, e.to_string()),
    }
}

/// Runs `docker args`, panicking with its output when it fails.
pub fn docker_ok(args: &[&str]) -> String {
    let (ok, out) = docker(args);
    assert!(ok, "docker {}: {out}", args.join(" "));
    out
}

/// True when `docker args` succeeds.
pub fn docker_succeeds(args: &[&str]) -> bool {
    docker(args).0
}

/// Makes sure an engine answers and the test image exists (starting dockerd through
/// scripts/start-dockerd when this user may); `false`, with the reason printed, when not.
pub fn engine_ready() -> bool {
    if docker_succeeds(&["info"]) && docker_succeeds(&["image", "inspect", IMAGE]) {
        return true;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/start-dockerd");
    match Command::new(&script).output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!(
                "skipped: no Docker Engine ({} failed: {})",
                script.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            );
            false
        }
        Err(e) => {
            eprintln!("skipped: no Docker Engine ({}: {e})", script.display());
            false
        }
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Docker resources of one test, removed on drop.
pub struct Resources {
    prefix: String,
    containers: Vec<String>,
    networks: Vec<String>,
    images: Vec<String>,
}

impl Resources {
    /// A fresh set whose names start with `ironpost-test-<test>-<pid>-<n>`.
    pub fn new(test: &str) -> Resources {
        Resources {
            prefix: format!(
                "ironpost-test-{test}-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            ),
            containers: Vec::new(),
            networks: Vec::new(),
            images: Vec::new(),
        }
    }

    /// Creates a user-defined bridge network; returns its name.
    pub fn network(&mut self, name: &str) -> String {
        let full = format!("{}-{name}", self.prefix);
        self.networks.push(full.clone());
        docker_ok(&["network", "create", &full]);
        full
    }

    /// Starts a busybox container sleeping, on `network` (or the default bridge), with
    /// `labels`; returns its full id.
    pub fn container(&mut self, name: &str, network: Option<&str>, labels: &[&str]) -> String {
        let full = format!("{}-{name}", self.prefix);
        self.containers.push(full.clone());
        let mut args = vec!["run", "-d", "--name", &full];
        if let Some(n) = network {
            args.extend(["--network", n]);
        }
        for l in labels {
            args.extend(["--label", l]);
        }
        args.extend([IMAGE, "sleep", "3600"]);
        docker_ok(&args)
    }

    /// Removes the container `name` (created by the test itself) on drop too.
    pub fn container_named(&mut self, name: &str) {
        self.containers.push(name.to_owned());
    }

    /// Removes `image` on drop too.
    pub fn image(&mut self, image: &str) {
        self.images.push(image.to_owned());
    }

    /// The full name of a container created as `name`.
    pub fn name(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }
}

impl Drop for Resources {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = docker(&["rm", "-f", c]);
        }
        for n in &self.networks {
            let _ = docker(&["network", "rm", n]);
        }
        for i in &self.images {
            let _ = docker(&["rmi", "-f", i]);
        }
    }
}

/// `docker inspect -f FORMAT target`.
pub fn inspect(target: &str, format: &str) -> String {
    docker_ok(&["inspect", "-f", format, target])
}

/// True when container `name` is paused.
pub fn paused(name: &str) -> bool {
    inspect(name, "{{.State.Paused}}") == "true"
}

/// True when `from` can ping `ip` once within a second.
pub fn can_ping(from: &str, ip: &str) -> bool {
    docker_succeeds(&["exec", from, "ping", "-c1", "-W1", ip])
}

/// True when `from` reaches `ip` within five tries (a fresh endpoint may miss the first ARP).
pub fn reaches(from: &str, ip: &str) -> bool {
    (0..5).any(|_| can_ping(from, ip))
}

/// A guard under test, with its store, its background tasks and its policy directory.
pub struct Harness {
    pub guard: Arc<Guard>,
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
    tasks: tokio::task::JoinSet<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

/// Settings for tests: a long cooldown, a breaker that does not trip unless asked.
pub fn settings() -> GuardSettings {
    GuardSettings {
        host: "test-host".into(),
        dry_run: false,
        cooldown: Duration::from_secs(300),
        breaker_max: 100,
        breaker_window: Duration::from_secs(60),
        action_timeout: Duration::from_secs(20),
        workers: 2,
        queue: 64,
        snapshot_repository: "ironpost-test-forensics".into(),
        own_container: None,
    }
}

impl Harness {
    /// Starts a guard with `policies` (name, TOML) and `settings`; waits until its inventory
    /// holds every container of `expect`.
    pub async fn start(
        settings: GuardSettings,
        policies: &[(&str, &str)],
        expect: &[&str],
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let pdir = dir.path().join("policies");
        std::fs::create_dir_all(&pdir).unwrap();
        for (name, text) in policies {
            std::fs::write(pdir.join(format!("{name}.toml")), text).unwrap();
        }
        let policies: Vec<Policy> = ironpost_container_guard::policy::load_dir(&pdir).unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("ironpost.db")).unwrap());
        let docker =
            ironpost_container_guard::docker::connect(Path::new(SOCKET), Duration::from_secs(20))
                .unwrap();
        let workers = settings.workers;
        let guard = Guard::new(
            settings,
            docker,
            Inventory::new(),
            policies,
            store.clone(),
            Counters::default(),
        );
        let mut tasks = tokio::task::JoinSet::new();
        {
            let g = guard.clone();
            tasks.spawn(async move { g.audit().run().await });
        }
        for _ in 0..workers {
            let g = guard.clone();
            tasks.spawn(async move { g.work().await });
        }
        {
            let g = guard.clone();
            tasks.spawn(async move {
                if let Err(e) = inventory::follow(g.docker(), g.inventory(), |_| {}).await {
                    panic!("inventory stopped following: {e}");
                }
            });
        }
        let h = Harness {
            guard,
            store,
            dir,
            tasks,
        };
        let want: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
        h.wait_inventory(|inv| {
            want.iter()
                .all(|c| inv.get(c).is_some_and(|i| i.state == "running"))
        })
        .await;
        h
    }

    /// Waits (30 s at most) until `cond` holds for the inventory.
    pub async fn wait_inventory(&self, cond: impl FnMut(&Inventory) -> bool) {
        tokio::time::timeout(
            Duration::from_secs(30),
            self.guard.inventory().wait_until(cond),
        )
        .await
        .expect("the inventory did not reach the expected state within 30 s");
    }

    /// The stored records of `container`, oldest step first.
    pub fn records(&self, container: &str) -> Vec<ActionRecord> {
        let mut v = self
            .store
            .actions(&ActionQuery {
                target: Some(container.to_owned()),
                alert_id: None,
                limit: 0,
            })
            .unwrap();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Waits (60 s at most) until the stored records of `container` satisfy `cond`.
    pub async fn wait_records(
        &self,
        container: &str,
        what: &str,
        cond: impl Fn(&[ActionRecord]) -> bool,
    ) -> Vec<ActionRecord> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.guard.audit().flush().await;
            let r = self.records(container);
            if cond(&r) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: records of {container} are {r:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The policy directory.
    pub fn policy_dir(&self) -> PathBuf {
        self.dir.path().join("policies")
    }
}

/// An alert of `rule` at `severity` with no attribution yet.
pub fn alert(rule: &str, severity: Severity) -> Alert {
    let now = Utc::now();
    Alert {
        id: AlertId::derive(
            rule,
            &format!("{}", SEQ.fetch_add(1, Ordering::Relaxed)),
            now,
        ),
        rule_id: rule.into(),
        title: format!("test alert {rule}"),
        severity,
        module: "sigma".into(),
        event_time: now,
        detected_at: now,
        window_start: now,
        group: BTreeMap::new(),
        count: 1,
        attribution: Attribution {
            host: "test-host".into(),
            ..Attribution::default()
        },
        tags: vec!["attack.t1190".into()],
        evidence: Vec::new(),
    }
}

/// An alert whose only clue is a log line read from container `id`'s logs.
pub fn alert_from_container_log(rule: &str, id: &str) -> Alert {
    let mut a = alert(rule, Severity::High);
    let mut rec = LogRecord::new("docker", "json", "GET /cgi-bin/../../bin/sh HTTP/1.1");
    rec.container = Some(ContainerRef {
        id: id.to_owned(),
        name: None,
        image: None,
    });
    a.evidence.push(Event::Log(rec));
    a
}

/// A policy with `actions` (TOML `[[actions]]` blocks) and `extra` top-level keys.
pub fn policy(extra: &str, actions: &[&str]) -> String {
    let mut s = format!("{extra}\n");
    for a in actions {
        s.push_str(&format!("[[actions]]\n{a}\n"));
    }
    s
}
