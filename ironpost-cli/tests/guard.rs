//! The container guard end to end, with the real binaries and the real Docker Engine: a line in
//! a container's log becomes a Sigma alert attributed to that container, the guard pauses it and
//! no other, and `ironpost guard history|list|release` show and undo it. Every container is
//! named `ironpost-test-…` and removed when the test ends, passed or failed.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{cli_bin, docker, docker_ok, docker_ready as engine_ready, repo};

/// The daemon and the containers of one test, stopped and removed on drop.
struct World {
    _dir: tempfile::TempDir,
    config: PathBuf,
    daemon: Option<Child>,
    containers: Vec<String>,
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        for c in &self.containers {
            let _ = docker(&["rm", "-f", c]);
        }
    }
}

impl World {
    fn cli(&self, args: &[&str]) -> Output {
        Command::new(cli_bin())
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .env_remove("IRONPOST_CONFIG")
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "ironpost {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn module_state(&self) -> Option<String> {
        let out = self.cli(&["status", "--json"]);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        doc["modules"]
            .as_array()?
            .iter()
            .find(|m| m["name"] == "container_guard")
            .map(|m| m["state"].as_str().unwrap_or("").to_owned())
    }
}

fn paused(name: &str) -> bool {
    docker_ok(&["inspect", "-f", "{{.State.Paused}}", name]) == "true"
}

fn wait(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_container_log_alert_pauses_that_container_and_release_undoes_it() {
    if !engine_ready() {
        return;
    }
    let prefix = format!("ironpost-test-e2e-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("10-web.toml"),
        "[match]\ntags = [\"attack.t1190\"]\nmin_severity = \"high\"\n\n[[actions]]\ntype = \"pause\"\n",
    )
    .unwrap();
    let config = dir.path().join("ironpost.toml");
    std::fs::write(
        &config,
        format!(
            "[general]\ndata_dir = \"{data}\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n\n\
             [sigma]\nenabled = true\nrules = [\"{rules}\"]\n\n\
             [container_guard]\nenabled = true\npolicies_dir = \"{policies}\"\n\
             log_containers = [\"{prefix}-web*\"]\nlog_format = \"access_log\"\n",
            data = dir.path().join("data").display(),
            rules = repo().join("rules/web").display(),
            policies = policies.display(),
        ),
    )
    .unwrap();
    let mut world = World {
        _dir: dir,
        config,
        daemon: None,
        containers: vec![format!("{prefix}-web"), format!("{prefix}-other")],
    };
    let daemon_bin = cli_bin().with_file_name("ironpost-daemon");
    assert!(
        daemon_bin.is_file(),
        "build ironpost-daemon first (scripts/test does)"
    );
    world.daemon = Some(
        Command::new(daemon_bin)
            .arg("-c")
            .arg(&world.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait("the guard to reach Docker", || {
        world.module_state().as_deref() == Some("healthy")
    });

    let web = format!("{prefix}-web");
    let other = format!("{prefix}-other");
    docker_ok(&[
        "run",
        "-d",
        "--name",
        &other,
        "ironpost-test/busybox:latest",
        "sleep",
        "3600",
    ]);
    let line = r#"203.0.113.7 - - [27/Nov/2026:06:00:00 +0000] "GET /cgi-bin/../../etc/passwd HTTP/1.1" 404 153 "-" "curl/8""#;
    docker_ok(&[
        "run",
        "-d",
        "--name",
        &web,
        "ironpost-test/busybox:latest",
        "sh",
        "-c",
        &format!("echo '{line}'; sleep 3600"),
    ]);
    wait("the web container to be paused", || paused(&web));
    assert!(!paused(&other), "the other container is untouched");

    // The record reaches the store just after the pause itself.
    wait("the pause record", || {
        world.json(&["guard", "history", "--container", &web, "--json"])["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["state"] == "done")
    });
    let history = world.json(&["guard", "history", "--container", &web, "--json"]);
    let record = &history["actions"][0];
    assert_eq!(record["action"], "pause");
    assert_eq!(record["policy"], "10-web");
    let alert_id = record["alert_id"].as_str().unwrap().to_owned();
    let alert = world.json(&["alerts", "show", &alert_id, "--json"]);
    assert_eq!(alert["attribution"]["container_name"], web.as_str());

    let list = world.json(&["guard", "list", "--json"]);
    let entry = list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == web.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["active"][0], "pause");

    let out = world.cli(&["guard", "release", &web]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("released pause"));
    assert!(!paused(&web));
    let out = world.cli(&["guard", "approve", "000000000000"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown plan is invalid input"
    );
}

#[test]
fn policy_files_reload_into_the_running_guard_and_a_bad_one_is_refused() {
    if !engine_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    let policy = policies.join("10-web.toml");
    std::fs::write(
        &policy,
        "[match]\ntags = [\"attack.t1190\"]\nmin_severity = \"critical\"\n\n[[actions]]\ntype = \"pause\"\n",
    )
    .unwrap();
    let config = dir.path().join("ironpost.toml");
    std::fs::write(
        &config,
        format!(
            "[general]\ndata_dir = \"{data}\"\nwatch_interval_ms = 0\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n\n\
             [sigma]\nenabled = true\nrules = [\"{rules}\"]\n\n\
             [container_guard]\nenabled = true\npolicies_dir = \"{policies}\"\n",
            data = dir.path().join("data").display(),
            rules = repo().join("rules/web").display(),
            policies = policies.display(),
        ),
    )
    .unwrap();
    let mut world = World {
        _dir: dir,
        config,
        daemon: None,
        containers: Vec::new(),
    };
    world.daemon = Some(
        Command::new(cli_bin().with_file_name("ironpost-daemon"))
            .arg("-c")
            .arg(&world.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait("the guard to reach Docker", || {
        world.module_state().as_deref() == Some("healthy")
    });

    // A broken policy: refused, naming the file; the running policies stay.
    std::fs::write(&policy, "[match]\nmin_severity = \"urgent\"\n").unwrap();
    let out = world.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("10-web.toml"), "{err}");
    let status = world.json(&["status", "--json"]);
    assert_eq!(status["config"]["generation"], 1);
    assert_eq!(status["config"]["failures"], 1);

    // A valid change reaches the running guard.
    std::fs::write(
        &policy,
        "[match]\ntags = [\"attack.t1190\"]\nmin_severity = \"high\"\n\n[[actions]]\ntype = \"pause\"\n",
    )
    .unwrap();
    let answer = world.json(&["reload", "--json"]);
    assert_eq!(answer["generation"], 2);
    assert!(
        answer["applied"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "policies"),
        "{answer}"
    );
    let status = world.json(&["status", "--json"]);
    assert!(status["config"]["last_error"].is_null(), "{status}");
}
