//! The exec tracer end to end: the real daemon with `[exec]` and the shipped process_creation
//! rules; a reverse-shell-looking exec on the host becomes an alert in the store, its near miss
//! does not.
//!
//! Needs root and a kernel with BTF; without them the test says so and returns.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Setup, stored_alerts};

const REVERSE_SHELL: &str = "f6ef8629-b83a-4387-ac50-9c7423f6f7d1";

#[test]
fn a_reverse_shell_exec_becomes_an_alert_through_the_daemon() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: the exec tracer needs root");
        return;
    }
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("skipped: the kernel has no BTF");
        return;
    }
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rules/linux/process_creation"
    );
    let s = Setup::new(&format!(
        "[sigma]\nenabled = true\nrules = [\"{rules}\"]\n\n[exec]\nenabled = true\nexclude_path_prefixes = [\"/usr/lib/\"]\n"
    ));
    let d = s.start();
    s.wait_for("exec healthy", |doc| {
        doc["modules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "exec" && m["state"] == "healthy")
    });
    let marker = format!("ironpost-e2e-{}", std::process::id());
    for script in [
        format!("echo {marker}-miss /dev/tcp_x; true"),
        format!("echo {marker}-hit > /dev/tcp/127.0.0.1/9; true"),
    ] {
        let _ = Command::new("/bin/sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let alert = loop {
        let found = stored_alerts(&s.data()).into_iter().find(|a| {
            a.rule_id == REVERSE_SHELL
                && a.evidence.iter().any(|e| match e {
                    ironpost_core::Event::Process(p) => p.command_line.contains(&marker),
                    _ => false,
                })
        });
        if let Some(a) = found {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no reverse-shell alert stored within 30 s; status: {}",
            s.status()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let lines: Vec<String> = alert
        .evidence
        .iter()
        .filter_map(|e| match e {
            ironpost_core::Event::Process(p) => Some(p.command_line.clone()),
            _ => None,
        })
        .collect();
    assert!(
        lines.iter().any(|l| l.contains(&format!("{marker}-hit"))),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains(&format!("{marker}-miss"))),
        "{lines:?}"
    );
    assert!(s.module("exec")["counters"]["execs"].as_u64().unwrap() >= 2);
    let (status, log) = d.terminate();
    assert!(status.success(), "{log}");
}
