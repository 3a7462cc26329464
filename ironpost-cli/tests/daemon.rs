//! The real `ironpost-daemon` and `ironpost` binaries, driven as a user would drive them.
//!
//! The daemon binary is looked up beside the `ironpost` binary cargo built for these tests; a
//! workspace test run (`cargo test --workspace`, as `scripts/test` does) builds both.

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Setup, cli_bin, daemon_bin, stderr, stored_alerts};

#[test]
fn status_exit_codes_are_0_healthy_1_degraded_3_unreachable() {
    let s = Setup::new("");
    let out = s.cli(&["status"]);
    assert_eq!(out.status.code(), Some(3), "no daemon: {}", stderr(&out));
    assert!(stderr(&out).contains("unreachable"), "{}", stderr(&out));
    let out = s.cli(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "unreachable");

    let d = s.start();
    let out = s.cli(&["status"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("HEALTHY") && text.contains("store_writer"),
        "{text}"
    );
    let (status, _) = d.terminate();
    assert!(status.success());

    let s =
        Setup::new("[selftest]\nenabled = true\ndegraded_reason = \"no CAP_BPF in this test\"\n");
    let d = s.start();
    let out = s.cli(&["status"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no CAP_BPF in this test"));
    let m = s.module("selftest");
    assert_eq!(m["state"], "degraded");
    assert_eq!(m["reason"], "no CAP_BPF in this test");
    drop(d);
}

#[test]
fn config_errors_name_file_line_column_and_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[general]\nlog_level = \"info\"\nlog_levle = \"debug\"\n",
            ":3:1: key `general.log_levle`",
            "unknown field",
        ),
        (
            "[general]\ndata_dir = \"x\"\n[stor]\nurl = \"\"\n",
            ":3:2: key `stor`",
            "unknown field",
        ),
        (
            "[store]\nbatch_size = \"lots\"\n",
            ":2:14: key `store.batch_size`",
            "invalid type",
        ),
        (
            "[general]\nevent_queue = -1\n",
            ":2:15: key `general.event_queue`",
            "invalid value",
        ),
        (
            "[metrics]\nenabled = \"yes\"\n",
            ":2:11: key `metrics.enabled`",
            "invalid type",
        ),
        ("[general\n", ":1:", ""),
        (
            "[general]\nlog_level = \"loud\"\n",
            ": key `general.log_level`",
            "not a level",
        ),
        (
            "[metrics]\nlisten = \"localhost\"\n",
            ": key `metrics.listen`",
            "address:port",
        ),
    ];
    for (text, location, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let out = Command::new(cli_bin())
            .args(["config", "validate", "-c"])
            .arg(&file)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        let expected = format!("{}{location}", file.display());
        assert!(
            err.contains(&expected),
            "{text:?}: expected `{expected}` in: {err}"
        );
        assert!(
            err.contains(message),
            "{text:?}: expected `{message}` in: {err}"
        );
        // The daemon refuses the same file with the same message and exit code 2.
        let out = Command::new(daemon_bin())
            .arg("-c")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "daemon on {text:?}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(&expected),
            "daemon on {text:?}: {}",
            stderr(&out)
        );
    }
    let out = Command::new(cli_bin())
        .args(["config", "validate", "-c", "/nonexistent/ironpost.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/ironpost.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_example_configuration_validates() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ironpost.toml.example");
    let out = Command::new(cli_bin())
        .args(["config", "validate", "-c"])
        .arg(&example)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("valid:"));
}

#[test]
fn environment_overrides_reach_cli_and_daemon_and_secrets_stay_hidden() {
    let s = Setup::new("");
    let other = s.dir.path().join("elsewhere");
    let out = Command::new(cli_bin())
        .args(["-c"])
        .arg(&s.config)
        .args(["config", "show"])
        .env("IRONPOST_GENERAL__DATA_DIR", &other)
        .env(
            "IRONPOST_STORE__URL",
            "postgres://ironpost:hunter2@db.example/ironpost",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(&format!("data_dir = \"{}\"", other.display())),
        "{shown}"
    );
    assert!(!shown.contains("hunter2"), "password leaked: {shown}");
    assert!(
        shown.contains("postgres://ironpost:<redacted>@db.example/ironpost"),
        "{shown}"
    );

    let out = Command::new(cli_bin())
        .args(["-c"])
        .arg(&s.config)
        .args(["config", "validate"])
        .env("IRONPOST_GENERAL__EVENT_QUEUE", "many")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("IRONPOST_GENERAL__EVENT_QUEUE"),
        "{}",
        stderr(&out)
    );

    // The daemon puts its socket where the override says, and the CLI finds it there.
    let mut child = Command::new(daemon_bin())
        .arg("-c")
        .arg(&s.config)
        .env("IRONPOST_GENERAL__DATA_DIR", &other)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !other.join("ironpost.sock").exists() {
        assert!(
            Instant::now() < deadline,
            "no socket under the overridden data dir"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new(cli_bin())
        .arg("-c")
        .arg(&s.config)
        .args(["status"])
        .env("IRONPOST_GENERAL__DATA_DIR", &other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!s.data().join("ironpost.sock").exists());
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_panicking_module_is_restarted_and_the_daemon_keeps_running() {
    let s = Setup::new("[selftest]\nenabled = true\npanic_after_ms = 100\n");
    let d = s.start();
    s.wait_for("two restarts of selftest", |doc| {
        doc["modules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "selftest" && m["restarts"].as_u64().unwrap() >= 2)
    });
    let m = s.module("selftest");
    assert!(m["counters"]["starts"].as_u64().unwrap() >= 2, "{m}");
    // The others never noticed.
    for other in ["store_writer", "metrics"] {
        let m = s.module(other);
        assert_eq!(m["state"], "healthy", "{m}");
        assert_eq!(m["restarts"], 0, "{m}");
    }
    let (status, log) = d.terminate();
    assert!(status.success(), "{log}");
    assert!(log.contains("panicked: selftest: panic requested"), "{log}");
    assert!(
        log.contains("\"level\":\"ERROR\""),
        "logs are JSON lines: {log}"
    );

    let s = Setup::new("[selftest]\nenabled = true\nfail_after_ms = 50\n");
    let d = s.start();
    s.wait_for("a restart after an error", |doc| {
        doc["modules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "selftest" && m["restarts"].as_u64().unwrap() >= 1)
    });
    drop(d);
}

#[test]
fn sigterm_drains_the_alert_queue_and_exits_0() {
    let s = Setup::new("[selftest]\nenabled = true\nemit_alerts = 5000\n");
    let d = s.start();
    s.wait_for("alerts being emitted", |doc| {
        doc["modules"].as_array().unwrap().iter().any(|m| {
            m["name"] == "selftest" && m["counters"]["alerts_emitted"].as_u64().unwrap_or(0) > 0
        })
    });
    let (status, log) = d.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("ironpost-daemon stopped"), "{log}");
    assert!(
        !s.data().join("ironpost.sock").exists(),
        "socket left behind"
    );
    assert!(
        !s.data().join("ironpost.pid").exists(),
        "PID file left behind"
    );
    assert_eq!(
        stored_alerts(&s.data()).len(),
        5000,
        "alerts lost in the drain"
    );
}

#[test]
fn the_control_socket_is_mode_0600() {
    let s = Setup::new("");
    let _d = s.start();
    let mode = std::fs::metadata(s.data().join("ironpost.sock"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "socket mode {mode:o}");
    let db_mode = std::fs::metadata(s.data().join("ironpost.db"))
        .unwrap()
        .permissions()
        .mode()
        & 0o077;
    assert_eq!(db_mode, 0, "the store is readable by others");
}

#[test]
fn replayed_alerts_are_stored_once_and_the_cli_lists_and_shows_them() {
    let s = Setup::new("[selftest]\nenabled = true\nemit_alerts = 3\n");
    for _ in 0..2 {
        let d = s.start();
        s.wait_for("alerts written", |doc| {
            doc["modules"].as_array().unwrap().iter().any(|m| {
                m["name"] == "store_writer"
                    && m["counters"]["alerts_written"].as_u64().unwrap()
                        + m["counters"]["alerts_duplicate"].as_u64().unwrap()
                        == 3
            })
        });
        let out = s.cli(&["alerts", "list", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["alerts"].as_array().unwrap().len(), 3, "{doc}");
        let (status, _) = d.terminate();
        assert!(status.success());
    }
    let alerts = stored_alerts(&s.data());
    assert_eq!(alerts.len(), 3, "a restart stored the same alerts twice");

    let d = s.start();
    let id = alerts[0].id.to_string();
    let out = s.cli(&["alerts", "show", &id, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["id"], id.as_str());
    let out = s.cli(&["alerts", "show", &id]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ironpost.selftest"));
    let out = s.cli(&[
        "alerts",
        "list",
        "--rule",
        "ironpost.selftest",
        "--severity",
        "informational",
        "--since",
        "1h",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        4,
        "header plus three rows"
    );
    let out = s.cli(&["alerts", "list", "--severity", "high", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["alerts"].as_array().unwrap().is_empty());
    let out = s.cli(&["alerts", "show", "0000"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no alert with id 0000"));
    let out = s.cli(&["alerts", "list", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("since"), "{}", stderr(&out));
    drop(d);
}

#[test]
fn a_stale_pid_file_is_replaced_and_a_live_one_refused() {
    let s = Setup::new("");
    std::fs::create_dir_all(s.data()).unwrap();
    // A PID far above pid_max never belongs to a live process.
    std::fs::File::create(s.data().join("ironpost.pid"))
        .unwrap()
        .write_all(b"99999999\n")
        .unwrap();
    let d = s.start();
    let pid: i32 = std::fs::read_to_string(s.data().join("ironpost.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, d.pid());
    // A second daemon on the same data dir refuses to start.
    let out = Command::new(daemon_bin())
        .arg("-c")
        .arg(&s.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("another ironpost-daemon (pid {pid})")),
        "{}",
        stderr(&out)
    );
    // ...and left the first one's socket alone.
    assert_eq!(s.cli(&["status"]).status.code(), Some(0));
    let (status, _) = d.terminate();
    assert!(status.success());
}

#[test]
fn metrics_are_served_in_prometheus_text_format() {
    // A fixed loopback port chosen from a free ephemeral one.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = Setup::new("");
    std::fs::write(
        &s.config,
        std::fs::read_to_string(&s.config)
            .unwrap()
            .replace("127.0.0.1:0", &format!("127.0.0.1:{port}")),
    )
    .unwrap();
    let _d = s.start();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    use std::io::Read;
    stream.read_to_string(&mut body).unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    for needle in [
        "# TYPE ironpost_bus_dropped_total counter",
        "ironpost_bus_dropped_total{bus=\"events\"} 0",
        "ironpost_module_healthy{module=\"store_writer\"} 1",
        "ironpost_build_info{version=",
    ] {
        assert!(body.contains(needle), "missing {needle}: {body}");
    }
}
