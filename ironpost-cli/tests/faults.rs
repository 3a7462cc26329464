//! Faults with a defined outcome, on the real binaries: the Docker Engine stopped and started
//! again while alerts flow, and the store's disk filling up. Each test needs root (and the
//! first a Docker Engine this host may stop); without them it prints `skipped: <why>`.
//!
//! Stopping the engine stops every container on the host: the test waits until no other
//! container runs, removes its own before the stop, and a guard starts the engine again
//! (scripts/start-dockerd) however the test ends. Cargo runs test binaries one after another, so
//! no test of another file uses Docker meanwhile; the disk test in this file does not use it.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ironpost_store::{AlertQuery, SqliteStore, Store};
use serde_json::Value;
use support::{Daemon, Setup, append_line as append, docker, docker_ok, repo};

/// The alert id of the web path traversal rule (rules/web/web_path_traversal.yml).
const WEB_RULE: &str = "f12d7028-ea24-4a62-99f5-f07dc928739c";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn module<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["modules"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["name"] == name))
        .unwrap_or_else(|| panic!("no module {name} in {doc}"))
}

fn counter(doc: &Value, name: &str, counter: &str) -> u64 {
    module(doc, name)["counters"][counter].as_u64().unwrap_or(0)
}

fn alert_bus(doc: &Value) -> &Value {
    doc["buses"]
        .as_array()
        .and_then(|bs| bs.iter().find(|b| b["name"] == "alerts"))
        .unwrap_or_else(|| panic!("no alert bus in {doc}"))
}

/// Checks that the daemon still runs, then returns its status document.
fn status(s: &Setup, d: &mut Daemon) -> Value {
    if let Some(exit) = d.child.as_mut().unwrap().try_wait().unwrap() {
        panic!("the daemon exited ({exit}): {}", d.stderr());
    }
    s.status()
}

/// Polls the status until `cond` holds, failing after `secs` with the status and the log.
fn wait_status(
    s: &Setup,
    d: &mut Daemon,
    what: &str,
    secs: u64,
    mut cond: impl FnMut(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let doc = status(s, d);
        if cond(&doc) {
            return doc;
        }
        if Instant::now() >= deadline {
            let log = std::fs::read_to_string(&d.log).unwrap_or_default();
            let tail: Vec<&str> = log
                .lines()
                .filter(|l| !l.contains("\"DEBUG\""))
                .rev()
                .take(30)
                .collect();
            panic!(
                "waited {secs} s for {what}; last status: {doc}\ndaemon log (newest first):\n{}",
                tail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that every module but `except` is healthy and that no module was restarted.
fn others_healthy_never_restarted(doc: &Value, except: &str) {
    for m in doc["modules"].as_array().unwrap() {
        assert_eq!(m["restarts"], 0, "a module was restarted: {m}");
        if m["name"] != except {
            assert_eq!(m["state"], "healthy", "{m}");
        }
    }
}

/// The `n` of every stored selftest alert, sorted, and how many other alerts there are.
fn stored(data: &Path) -> (Vec<u64>, Vec<ironpost_core::Alert>) {
    let store = SqliteStore::open(&data.join("ironpost.db")).unwrap();
    let all = store
        .alerts(&AlertQuery {
            limit: 10_000_000,
            ..AlertQuery::default()
        })
        .unwrap();
    let (selftest, other): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|a| a.rule_id == "ironpost.selftest");
    let mut ns: Vec<u64> = selftest
        .iter()
        .map(|a| a.group["n"].parse().unwrap())
        .collect();
    ns.sort_unstable();
    (ns, other)
}

/// Asserts that the selftest alerts stored are exactly those numbered 0 to `len - 1`: none
/// lost in between, none twice.
fn assert_gapless(ns: &[u64]) {
    for (i, n) in ns.iter().enumerate() {
        assert_eq!(
            *n,
            i as u64,
            "selftest alerts stored are not exactly 0..{}: first difference at {i}",
            ns.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The Docker Engine stopped and started again while alerts flow.
// ---------------------------------------------------------------------------------------------

fn engine_answers() -> bool {
    docker(&["info"]).status.success()
}

fn start_engine() -> Result<(), String> {
    let out = Command::new(repo().join("scripts/start-dockerd"))
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// The pid of the running dockerd, from its PID file, checked against /proc.
fn dockerd_pid() -> Option<i32> {
    let pid: i32 = std::fs::read_to_string("/var/run/docker.pid")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (comm.trim() == "dockerd").then_some(pid)
}

/// Waits until `pid` is gone; after `secs`, kills it.
fn reap(pid: i32, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while alive(pid) {
        if Instant::now() >= deadline {
            // SAFETY: the pid is dockerd's, which this test stopped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            std::thread::sleep(Duration::from_millis(500));
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Fails the test if the engine answers while this test holds it stopped: someone else (a
/// script calling scripts/start-dockerd) started it, and the outcome can no longer be judged.
fn assert_engine_still_down() {
    assert!(
        dockerd_pid().is_none() && !engine_answers(),
        "another process started the Docker Engine while this test held it stopped \
         (scripts/start-dockerd run elsewhere?); run this test while nothing else uses Docker"
    );
}

/// Whatever happens to the test, the Docker Engine answers again when this is dropped.
struct EngineBack {
    stopped: Option<i32>,
}

impl EngineBack {
    /// Stops dockerd with SIGTERM and waits until it is gone and `docker info` fails.
    fn stop(&mut self, pid: i32) -> Duration {
        let t = Instant::now();
        self.stopped = Some(pid);
        // SAFETY: sending SIGTERM to dockerd, whose pid was just checked.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        reap(pid, 60);
        let deadline = Instant::now() + Duration::from_secs(10);
        while engine_answers() {
            if dockerd_pid().is_some() {
                assert_engine_still_down();
            }
            assert!(
                Instant::now() < deadline,
                "docker info still answers after dockerd exited"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        t.elapsed()
    }

    fn start(&mut self) -> Duration {
        let t = Instant::now();
        start_engine().expect("scripts/start-dockerd");
        self.stopped = None;
        t.elapsed()
    }
}

impl Drop for EngineBack {
    fn drop(&mut self) {
        let Some(pid) = self.stopped.take() else {
            return;
        };
        reap(pid, 60);
        if !engine_answers()
            && let Err(e) = start_engine()
        {
            eprintln!("faults: could not start the Docker Engine again: {e}");
        }
    }
}

/// Removes the test's containers on drop.
struct Containers(Vec<String>);

impl Drop for Containers {
    fn drop(&mut self) {
        if engine_answers() {
            for c in &self.0 {
                let _ = docker(&["rm", "-f", c]);
            }
        }
    }
}

/// Waits (at most 2 minutes) until no container of anyone else runs, since stopping the
/// engine stops them all; then goes ahead anyway.
fn wait_for_idle_engine() {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let running = docker_ok(&["ps", "-q"]);
        if running.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            eprintln!("faults: containers still run ({running}); stopping the engine anyway");
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn paused(name: &str) -> bool {
    docker(&["inspect", "-f", "{{.State.Paused}}", name]).stdout == b"true\n"
}

/// Starts a container whose log holds one access-log line of a path traversal attack from
/// `ip`, then waits (60 s at most) until the guard paused it.
fn attack_from_container(s: &Setup, d: &mut Daemon, name: &str, ip: &str) {
    let line = format!(
        r#"{ip} - - [27/Nov/2026:06:00:00 +0000] "GET /cgi-bin/../../etc/passwd HTTP/1.1" 404 153 "-" "curl/8""#
    );
    docker_ok(&[
        "run",
        "-d",
        "--name",
        name,
        "ironpost-test/busybox:latest",
        "sh",
        "-c",
        &format!("echo '{line}'; sleep 3600"),
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !paused(name) {
        if Instant::now() >= deadline {
            panic!(
                "{name} was not paused within 60 s; status: {}",
                status(s, d)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = s.cli(&["guard", "history", "--container", name, "--json"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
}

/// The defined outcome: the daemon never exits; while the engine is down the container guard
/// reports degraded naming Docker, every other module stays healthy, nothing is restarted, and
/// alerts (synthetic, and Sigma alerts of a log file) keep being stored, none lost or twice;
/// once the engine is back the guard is healthy again and pauses a container whose log line
/// raises an alert, as it did before the stop.
#[test]
fn docker_engine_stopped_and_restarted_while_alerts_flow() {
    if !is_root() {
        eprintln!("skipped: stopping the Docker Engine needs root");
        return;
    }
    if Command::new("docker").arg("--version").output().is_err() {
        eprintln!("skipped: the docker command is not installed");
        return;
    }
    if !engine_answers()
        && let Err(e) = start_engine()
    {
        eprintln!("skipped: no Docker Engine: {e}");
        return;
    }
    if !docker(&["image", "inspect", "ironpost-test/busybox:latest"])
        .status
        .success()
        && let Err(e) = start_engine()
    {
        eprintln!("skipped: no test image: {e}");
        return;
    }
    if dockerd_pid().is_none() {
        eprintln!("skipped: no dockerd process of this host to stop (/var/run/docker.pid)");
        return;
    }
    let t0 = Instant::now();

    let prefix = format!("ironpost-test-faults-{}", std::process::id());
    let s = Setup::new("");
    let policies = s.dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("10-web.toml"),
        "[match]\ntags = [\"attack.t1190\"]\nmin_severity = \"high\"\n\n[[actions]]\ntype = \"pause\"\n",
    )
    .unwrap();
    let access_log = s.dir.path().join("access.log");
    std::fs::write(&access_log, "").unwrap();
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        format!(
            "{config}\n[selftest]\nenabled = true\nemit_alerts = 10000000\nemit_rate = 100\n\n\
             [sigma]\nenabled = true\nrules = [\"{rules}\"]\n\n\
             [[log_pipeline.sources]]\nname = \"web\"\ntype = \"file\"\nformat = \"access_log\"\n\
             paths = [\"{log}\"]\nstart_at = \"beginning\"\npoll_interval_ms = 100\n\n\
             [container_guard]\nenabled = true\npolicies_dir = \"{policies}\"\n\
             log_containers = [\"{prefix}-web*\"]\nlog_format = \"access_log\"\n",
            rules = repo().join("rules/web").display(),
            log = access_log.display(),
            policies = policies.display(),
        ),
    )
    .unwrap();
    let (before, after) = (
        format!("{prefix}-web-before"),
        format!("{prefix}-web-after"),
    );
    // Dropped in reverse: the daemon is killed, the engine started again, then the
    // containers removed.
    let _containers = Containers(vec![before.clone(), after.clone()]);
    let mut engine = EngineBack { stopped: None };
    let mut d = s.start();

    wait_status(&s, &mut d, "every module healthy", 30, |doc| {
        doc["status"] == "healthy"
            && counter(doc, "store_writer", "alerts_written") > 0
            && module(doc, "container_guard")["state"] == "healthy"
    });
    // The guard answers before the fault.
    attack_from_container(&s, &mut d, &before, "203.0.113.7");
    // A paused container would slow the engine's shutdown: remove it first.
    docker_ok(&["rm", "-f", &before]);
    wait_for_idle_engine();

    let dockerd = dockerd_pid().expect("the dockerd pid");
    let stop_took = engine.stop(dockerd);
    let down = Instant::now();
    let doc = wait_status(&s, &mut d, "the guard to report Docker down", 30, |doc| {
        assert_engine_still_down();
        let g = module(doc, "container_guard");
        g["state"] == "degraded" && g["reason"].as_str().unwrap_or("").contains("Docker")
    });
    others_healthy_never_restarted(&doc, "container_guard");
    let written = counter(&doc, "store_writer", "alerts_written");
    let emitted = counter(&doc, "selftest", "alerts_emitted");

    // Alerts keep flowing and being stored while the engine is down: synthetic ones, and a
    // Sigma alert of a log file.
    append(
        &access_log,
        r#"198.51.100.23 - - [27/Nov/2026:06:00:01 +0000] "GET /../../etc/shadow HTTP/1.1" 404 153 "-" "curl/8""#,
    );
    let doc = wait_status(
        &s,
        &mut d,
        "alerts stored while the engine is down",
        30,
        |doc| {
            assert_engine_still_down();
            counter(doc, "sigma", "alerts") >= 1
                && counter(doc, "selftest", "alerts_emitted") >= emitted + 300
                && counter(doc, "store_writer", "alerts_written") >= written + 300
        },
    );
    let file_alert = s.cli(&["alerts", "list", "--rule", WEB_RULE, "--json"]);
    assert!(
        String::from_utf8_lossy(&file_alert.stdout).contains("198.51.100.23"),
        "the Sigma alert of the log file is stored: {}",
        String::from_utf8_lossy(&file_alert.stdout)
    );
    assert_engine_still_down();
    let g = module(&doc, "container_guard");
    assert_eq!(g["state"], "degraded", "the engine is still down: {g}");
    let down_reason = g["reason"].as_str().unwrap_or("").to_owned();
    others_healthy_never_restarted(&doc, "container_guard");
    let down_for = down.elapsed();

    let start_took = engine.start();
    let back = Instant::now();
    let doc = wait_status(&s, &mut d, "the guard healthy again", 60, |doc| {
        module(doc, "container_guard")["state"] == "healthy"
    });
    let guard_back_after = back.elapsed();
    others_healthy_never_restarted(&doc, "");
    assert!(
        counter(&doc, "container_guard", "inventory_resyncs") >= 1,
        "{doc}"
    );

    // After the engine is back, a container-attributed alert is answered again.
    attack_from_container(&s, &mut d, &after, "203.0.113.8");
    let history = s.cli(&["guard", "history", "--container", &after, "--json"]);
    let history: Value = serde_json::from_slice(&history.stdout).unwrap();
    let record = &history["actions"][0];
    assert_eq!(record["action"], "pause", "{history}");
    let alert_id = record["alert_id"].as_str().unwrap().to_owned();
    let alert = s.cli(&["alerts", "show", &alert_id, "--json"]);
    let alert: Value = serde_json::from_slice(&alert.stdout).unwrap();
    assert_eq!(alert["attribution"]["container_name"], after.as_str());

    // Every alert emitted so far reaches the store, and nothing was dropped or lost.
    let doc = status(&s, &mut d);
    let emitted = counter(&doc, "selftest", "alerts_emitted");
    let sigma = counter(&doc, "sigma", "alerts");
    assert!(
        sigma >= 3,
        "Sigma alerts: before, during, after the stop: {doc}"
    );
    let doc = wait_status(&s, &mut d, "the store to catch up", 30, |doc| {
        counter(doc, "store_writer", "alerts_written") >= emitted + sigma
    });
    others_healthy_never_restarted(&doc, "");
    assert_eq!(alert_bus(&doc)["dropped"], 0, "{doc}");
    assert_eq!(counter(&doc, "store_writer", "alerts_lost"), 0, "{doc}");
    assert_eq!(
        counter(&doc, "store_writer", "alerts_duplicate"),
        0,
        "{doc}"
    );
    assert_eq!(counter(&doc, "store_writer", "write_errors"), 0, "{doc}");
    assert_eq!(
        counter(&doc, "store_writer", "alerts_forward_dropped"),
        0,
        "{doc}"
    );
    let sigma = counter(&doc, "sigma", "alerts");

    let (exit, log) = d.terminate();
    assert!(
        exit.success(),
        "the daemon exits 0 on SIGTERM: {exit}\n{log}"
    );
    let (ns, other) = stored(&s.data());
    assert_gapless(&ns);
    assert!(
        ns.len() as u64 >= emitted,
        "{} selftest alerts stored, {emitted} emitted",
        ns.len()
    );
    assert_eq!(
        other.len() as u64,
        sigma,
        "every Sigma alert is stored once"
    );
    eprintln!(
        "docker fault: engine stop {stop_took:?}, down {down_for:?} (guard: {down_reason}), \
         start {start_took:?}, guard healthy {guard_back_after:?} after the start; {} selftest \
         and {sigma} Sigma alerts stored; {:?} in all",
        ns.len(),
        t0.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// The store's disk full.
// ---------------------------------------------------------------------------------------------

/// A tmpfs mounted on a directory, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(Tmpfs(dir.to_owned()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Writes `path` until the file system is full; returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).unwrap();
    let mut written = 0u64;
    for chunk in [1 << 20, 4096, 512] {
        let buf = vec![0xa5u8; chunk];
        loop {
            match f.write(&buf) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
    match f.sync_all() {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {}
        Err(e) => panic!("filling {}: {e}", path.display()),
    }
    written
}

/// How many synthetic alerts the disk tests emit, at 500 a second.
const TOTAL: u64 = 6000;
/// The alert bus's capacity in the disk tests.
const QUEUE: u64 = 256;
/// The store writer's batch in the disk tests.
const BATCH: u64 = 64;

/// A daemon whose data dir (the SQLite store) is a 32 MiB tmpfs. Fields drop in order: the
/// daemon is killed, the tmpfs unmounted, the temporary directory removed.
struct DiskWorld {
    d: Daemon,
    _tmpfs: Tmpfs,
    s: Setup,
}

/// Starts the daemon of the disk tests once alerts are being stored; `None` (the test is
/// skipped, saying why) without root or tmpfs.
fn daemon_on_tmpfs() -> Option<DiskWorld> {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs for the store needs root");
        return None;
    }
    let s = Setup::new(&format!(
        "[store]\nbatch_size = {BATCH}\n\n\
         [selftest]\nenabled = true\nemit_alerts = {TOTAL}\nemit_rate = 500\n"
    ));
    let config = std::fs::read_to_string(&s.config).unwrap().replace(
        "[general]\n",
        &format!("[general]\nalert_queue = {QUEUE}\n"),
    );
    std::fs::write(&s.config, config).unwrap();
    let tmpfs = match Tmpfs::mount(&s.data(), "32m") {
        Ok(t) => t,
        Err(e) => {
            eprintln!("skipped: cannot mount a tmpfs for the store: {e}");
            return None;
        }
    };
    let mut d = s.start();
    wait_status(&s, &mut d, "alerts being stored", 30, |doc| {
        counter(doc, "store_writer", "alerts_written") >= 300
    });
    Some(DiskWorld {
        d,
        _tmpfs: tmpfs,
        s,
    })
}

/// Fills the store's file system while alerts flow and checks what the daemon does once it is
/// full: the store writer degraded, naming the store error, write errors counted; the alert
/// bus full and its sender waiting, nothing dropped, every alert emitted stored, queued or in
/// the one batch held for retry. Returns the filler file, its size, how long the writer took
/// to report, and the status with the stream stalled.
fn fill_and_stall(w: &mut DiskWorld) -> (PathBuf, u64, Duration, Value) {
    let DiskWorld { d, s, .. } = w;
    let filler = s.data().join("filler");
    let filled = fill(&filler);
    let full = Instant::now();
    let doc = wait_status(
        s,
        d,
        "the store writer to report the full disk",
        30,
        |doc| module(doc, "store_writer")["state"] == "degraded",
    );
    let degraded_after = full.elapsed();
    let reason = module(&doc, "store_writer")["reason"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        reason.starts_with("store write failed") && reason.contains("disk is full"),
        "the reason names the store error: {reason}"
    );
    assert!(
        counter(&doc, "selftest", "alerts_emitted") < TOTAL,
        "the disk was full before the stream ended: {doc}"
    );

    // The bus fills, the sender waits: the stream stalls without a drop.
    let doc = wait_status(s, d, "the alert bus to fill up", 30, |doc| {
        alert_bus(doc)["queued"] == QUEUE
    });
    std::thread::sleep(Duration::from_secs(2));
    let later = status(s, d);
    let emitted = counter(&later, "selftest", "alerts_emitted");
    assert_eq!(
        emitted,
        counter(&doc, "selftest", "alerts_emitted"),
        "the stream waits while the store cannot write: {later}"
    );
    let written = counter(&later, "store_writer", "alerts_written");
    let queued = alert_bus(&later)["queued"].as_u64().unwrap();
    let held = emitted - written - queued;
    assert!(
        (1..=BATCH).contains(&held),
        "emitted {emitted} = stored {written} + queued {queued} + one batch held for retry \
         (at most {BATCH}), not {held}: {later}"
    );
    assert!(
        counter(&later, "store_writer", "write_errors") >= 1,
        "{later}"
    );
    assert_eq!(alert_bus(&later)["sent"], emitted, "{later}");
    assert_eq!(alert_bus(&later)["dropped"], 0, "{later}");
    assert_eq!(counter(&later, "store_writer", "alerts_lost"), 0, "{later}");
    assert_eq!(module(&later, "store_writer")["state"], "degraded");
    others_healthy_never_restarted(&later, "store_writer");
    (filler, filled, degraded_after, later)
}

/// The defined outcome: the daemon neither exits nor drops an alert. The store writer reports
/// degraded naming the store error and counts write errors; it keeps the batch that failed and
/// retries it, the alert bus fills up and holds the alerts that follow, and its senders wait
/// (back-pressure) instead of dropping: every alert emitted is stored, queued on the bus or in
/// the batch being retried. Once space is freed, writing resumes, the writer is healthy again,
/// and every alert emitted is stored exactly once.
#[test]
fn store_disk_full_holds_alerts_and_resumes_when_space_is_freed() {
    let t0 = Instant::now();
    let Some(mut w) = daemon_on_tmpfs() else {
        return;
    };
    let (filler, filled, degraded_after, _) = fill_and_stall(&mut w);
    let DiskWorld { d, s, .. } = &mut w;

    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    let doc = wait_status(s, d, "the store writer healthy again", 30, |doc| {
        module(doc, "store_writer")["state"] == "healthy"
    });
    let healthy_after = freed.elapsed();
    let errors = counter(&doc, "store_writer", "write_errors");
    let doc = wait_status(s, d, "every alert stored", 60, |doc| {
        counter(doc, "selftest", "alerts_emitted") == TOTAL
            && counter(doc, "store_writer", "alerts_written") == TOTAL
    });
    others_healthy_never_restarted(&doc, "");
    assert_eq!(
        counter(&doc, "store_writer", "write_errors"),
        errors,
        "{doc}"
    );
    assert_eq!(alert_bus(&doc)["dropped"], 0, "{doc}");
    assert_eq!(alert_bus(&doc)["sent"], TOTAL, "{doc}");
    assert_eq!(counter(&doc, "store_writer", "alerts_lost"), 0, "{doc}");
    assert_eq!(
        counter(&doc, "store_writer", "alerts_duplicate"),
        0,
        "{doc}"
    );

    let (exit, log) = stop(d);
    assert!(
        exit.success(),
        "the daemon exits 0 on SIGTERM: {exit}\n{log}"
    );
    let (ns, other) = stored(&s.data());
    assert_eq!(ns.len() as u64, TOTAL);
    assert_gapless(&ns);
    assert!(other.is_empty());
    eprintln!(
        "disk full: filler {filled} bytes, degraded after {degraded_after:?}, {errors} write \
         errors, healthy {healthy_after:?} after the space was freed; {:?} in all",
        t0.elapsed()
    );
}

/// Sends SIGTERM and waits (20 s at most) for the exit; returns it with the daemon's log.
fn stop(d: &mut Daemon) -> (std::process::ExitStatus, String) {
    d.signal(libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(exit) = d.child.as_mut().unwrap().try_wait().unwrap() {
            d.child = None;
            return (exit, std::fs::read_to_string(&d.log).unwrap_or_default());
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not exit within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The alerts the daemon's log reports lost (the `lost` field of its JSON lines).
fn reported_lost(log: &str) -> u64 {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["lost"].as_u64())
        .sum()
}

/// The defined outcome: SIGTERM while the disk is still full ends the daemon within its
/// shutdown timeout (`general.shutdown_timeout_secs`, 8 s) with exit code 0, and every alert
/// emitted is either stored or reported lost (the store writer's "giving up on alerts at
/// shutdown" log line and its `lost` count): none disappears unreported.
#[test]
fn store_disk_full_at_shutdown_every_alert_is_stored_or_reported_lost() {
    let Some(mut w) = daemon_on_tmpfs() else {
        return;
    };
    let (filler, _, _, stalled) = fill_and_stall(&mut w);
    let emitted = counter(&stalled, "selftest", "alerts_emitted");
    let DiskWorld { d, s, .. } = &mut w;
    let t = Instant::now();
    let (exit, log) = stop(d);
    let took = t.elapsed();
    // The store is read with the space freed again.
    std::fs::remove_file(&filler).unwrap();
    let (ns, _) = stored(&s.data());
    assert_gapless(&ns);
    let lost = reported_lost(&log);
    assert_eq!(
        ns.len() as u64 + lost,
        emitted,
        "stored {} + reported lost {lost} = emitted {emitted}; exit after {took:?}",
        ns.len()
    );
    assert!(exit.success(), "{exit}");
    assert!(
        took < Duration::from_secs(10),
        "the daemon exits within its shutdown timeout: {took:?}"
    );
}
