//! The harness shared by the real-binary tests: temporary configurations, a daemon process
//! that is killed if a test fails, and polling of `ironpost status --json`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ironpost_store::{AlertQuery, SqliteStore, Store};

pub fn cli_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ironpost"))
}

pub fn daemon_bin() -> PathBuf {
    let path = cli_bin().with_file_name("ironpost-daemon");
    assert!(
        path.is_file(),
        "{} is missing: build it first with `cargo build -p ironpost-daemon` (scripts/test does)",
        path.display()
    );
    path
}

/// A temporary data dir and configuration file.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Setup {
    /// A configuration with its data dir in a fresh temporary directory, metrics on a free
    /// port, plus `extra` TOML appended.
    pub fn new(extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("ironpost.toml");
        let data = dir.path().join("data");
        std::fs::write(
            &config,
            format!(
                "[general]\ndata_dir = \"{}\"\nlog_level = \"debug\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n\n{extra}\n",
                data.display()
            ),
        )
        .unwrap();
        Setup { dir, config }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(cli_bin())
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .env_remove("IRONPOST_CONFIG")
            .output()
            .unwrap()
    }

    pub fn start(&self) -> Daemon {
        let log = self.dir.path().join("daemon.log");
        let child = Command::new(daemon_bin())
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut d = Daemon {
            child: Some(child),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.cli(&["status", "--json"]);
            match out.status.code() {
                Some(0 | 1) => break,
                Some(3) => {}
                other => panic!("status exited {other:?}: {}", stderr(&out)),
            }
            if let Some(status) = d.child.as_mut().unwrap().try_wait().unwrap() {
                let err = d.stderr();
                panic!("daemon exited with {status} before answering: {err}");
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not answer within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    pub fn status(&self) -> serde_json::Value {
        let out = self.cli(&["status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json: {e}: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub fn module(&self, name: &str) -> serde_json::Value {
        let doc = self.status();
        doc["modules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no module {name} in {doc}"))
    }

    /// Polls `cond` on the status document until it holds (30 s at most).
    pub fn wait_for(&self, what: &str, cond: impl Fn(&serde_json::Value) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let doc = self.status();
            if cond(&doc) {
                return;
            }
            if Instant::now() >= deadline {
                let log =
                    std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default();
                let tail: Vec<&str> = log
                    .lines()
                    .filter(|l| !l.contains("\"DEBUG\""))
                    .rev()
                    .take(40)
                    .collect();
                panic!(
                    "waited 30 s for {what}; last status: {doc}\ndaemon log (last lines, newest first):\n{}",
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A running daemon, killed if a test ends without stopping it.
pub struct Daemon {
    pub child: Option<Child>,
    /// Where the daemon's standard error goes.
    pub log: PathBuf,
}

impl Daemon {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0);
    }

    /// Sends SIGTERM and waits for the exit (the daemon promises to exit within 10 s).
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        self.signal(libc::SIGTERM);
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (
                    status,
                    std::fs::read_to_string(&self.log).unwrap_or_default(),
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("daemon did not exit within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr(&mut self) -> String {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stored_alerts(data: &Path) -> Vec<ironpost_core::Alert> {
    let store = SqliteStore::open(&data.join("ironpost.db")).unwrap();
    store
        .alerts(&AlertQuery {
            limit: 1_000_000,
            ..AlertQuery::default()
        })
        .unwrap()
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Appends `line` and a newline to the file at `path`, creating it.
pub fn append_line(path: &Path, line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

/// Runs `docker ARGS`.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().unwrap()
}

/// Runs `docker ARGS`, which must succeed; its standard output, trimmed.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A Docker Engine answering with the test image `ironpost-test/busybox:latest` built: started
/// (scripts/start-dockerd) when this user may; false, after saying why, when it cannot be.
pub fn docker_ready() -> bool {
    let ready = || {
        docker(&["info"]).status.success()
            && docker(&["image", "inspect", "ironpost-test/busybox:latest"])
                .status
                .success()
    };
    if Command::new("docker").arg("--version").output().is_err() {
        eprintln!("skipped: the docker command is not installed");
        return false;
    }
    if ready() {
        return true;
    }
    let out = Command::new(repo().join("scripts/start-dockerd"))
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!(
            "skipped: no Docker Engine: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return false;
    }
    if !ready() {
        eprintln!(
            "skipped: scripts/start-dockerd succeeded but the engine or test image is not ready"
        );
        return false;
    }
    true
}
