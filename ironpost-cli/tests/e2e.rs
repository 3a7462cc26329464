//! The attack scenarios of `scripts/demo`, end to end: the real daemon with every sensor, real
//! containers, a real network namespace and real attacks (SSH brute force in a watched log, a SQL
//! injection in a web container's access log, a reverse shell inside a container, a SYN sweep over
//! XDP, a vulnerable lockfile in a watched directory). The demo writes one JSON object per step;
//! this test asserts each step happened as the story says, not only the exit code.
//!
//! Needs root, a Docker Engine (started by scripts/start-dockerd when this user may) and a kernel
//! with BTF; without them it says so and returns. The daemon binary must be built beside the
//! `ironpost` binary (`cargo build -p ironpost-daemon`; scripts/test does).

mod support;

use std::path::Path;
use std::process::Command;

use support::{cli_bin, daemon_bin, repo};

/// False, after saying why, when the demo cannot run here.
fn prerequisites() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: the demo needs root (namespaces, XDP, the exec tracer, Docker)");
        return false;
    }
    // Starts the engine and builds the image when this user may.
    if !support::docker_ready() {
        return false;
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("skipped: the kernel has no BTF, the exec tracer cannot run");
        return false;
    }
    true
}

/// Each step of the story: its name in the summary and what its detail must mention.
const STEPS: [(&str, &[&str]); 5] = [
    (
        "ssh_brute_force",
        &["SSH Brute Force (high)", "203.0.113.7"],
    ),
    (
        "web_exploit",
        &[
            "Web SQL Injection",
            "network_isolate by policy 10-web-exploit",
            "networks now: none",
        ],
    ),
    (
        "reverse_shell",
        &[
            "Linux Reverse Shell (critical)",
            "pause by policy 20-reverse-shell",
        ],
    ),
    (
        "syn_sweep",
        &["Port scan from 10.214.", "auto-block of 10.214.", "dropped"],
    ),
    (
        "vulnerable_lockfile",
        &[
            "RUSTSEC-2021-0003",
            "CVE-2021-25900",
            "smallvec 1.6.0",
            "(critical)",
        ],
    ),
];

#[test]
fn every_step_of_the_attack_demo_is_detected_and_answered() {
    if !prerequisites() {
        return;
    }
    let bin_dir = cli_bin().parent().unwrap().to_path_buf();
    daemon_bin();
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let out = Command::new(repo().join("scripts/demo"))
        .arg("--json-summary")
        .arg(&summary)
        .env("IRONPOST_BIN_DIR", &bin_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown by `cargo test -- --nocapture`, and with the failure of any assertion below.
    println!("{stdout}");
    let context = format!("demo exited {:?}\n{stdout}\n{stderr}", out.status.code());
    let text = std::fs::read_to_string(&summary)
        .unwrap_or_else(|e| panic!("no summary {}: {e}\n{context}", summary.display()));
    let doc: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("summary: {e}: {text}"));
    let steps = doc["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        STEPS.map(|(name, _)| name),
        "every step, in order\n{context}"
    );
    for (step, (name, mentions)) in steps.iter().zip(STEPS) {
        let detail = step["detail"].as_str().unwrap();
        assert_eq!(step["ok"], true, "{name}: {detail}\n{context}");
        for m in mentions {
            assert!(detail.contains(m), "{name}: `{m}` not in: {detail}");
        }
        let seconds = step["seconds"].as_f64().unwrap();
        assert!(
            (0.0..20.0).contains(&seconds),
            "{name} took {seconds} s\n{context}"
        );
    }
    assert_eq!(doc["ok"], true, "{context}");
    assert_eq!(out.status.code(), Some(0), "{context}");
    let total = doc["seconds"].as_f64().unwrap();
    assert!(total < 90.0, "the demo took {total} s\n{context}");
}
