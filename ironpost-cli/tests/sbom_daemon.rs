//! The daemon's periodic scan: findings stored once, one alert per new finding, findings and
//! their alerts delivered to the sinks marked as such.

mod support;

use std::path::Path;
use std::process::Command;

use support::{Setup, cli_bin, stderr, stored_alerts};

fn shared(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared")
        .join(path)
}

fn module(doc: &serde_json::Value, name: &str) -> serde_json::Value {
    doc["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_daemon_scans_lockfiles_and_alerts_once_per_new_finding() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vulndb");
    let out = Command::new(cli_bin())
        .args(["db", "import"])
        .arg(shared("data/advisories/rustsec-osv"))
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The findings an offline scan reports are what the daemon must store and alert on.
    let lockfile = shared("data/lockfiles/cargo/Cargo.lock");
    let out = Command::new(cli_bin())
        .arg("scan")
        .arg(&lockfile)
        .arg("--db")
        .arg(&db)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let expected = report["findings"].as_array().unwrap().len();
    assert!(expected > 0, "the fixture has no finding");

    let sink = dir.path().join("delivered.jsonl");
    let s = Setup::new(&format!(
        "[sbom]\ndb_dir = \"{}\"\nscan_paths = [\"{}\"]\n\n[[sinks]]\nname = \"file\"\ntype = \"jsonl\"\npath = \"{}\"\nkinds = [\"alert\", \"finding\"]\n",
        db.display(),
        lockfile.display(),
        sink.display()
    ));
    for round in 0..2 {
        let d = s.start();
        s.wait_for("a scan stored and alerted", |doc| {
            let m = module(doc, "sbom");
            let w = module(doc, "store_writer");
            m["counters"]["scans"].as_u64().unwrap_or(0) >= 1
                && m["state"] == "healthy"
                && doc["buses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|b| b["queued"] == 0)
                && w["counters"]["alerts_written"].as_u64().unwrap_or(0)
                    + w["counters"]["alerts_duplicate"].as_u64().unwrap_or(0)
                    >= if round == 0 { expected as u64 } else { 0 }
        });
        let m = module(&s.status(), "sbom");
        assert_eq!(
            m["counters"]["findings"].as_u64().unwrap(),
            expected as u64,
            "{m}"
        );
        let fresh = m["counters"]["findings_new"].as_u64().unwrap();
        assert_eq!(
            fresh,
            if round == 0 { expected as u64 } else { 0 },
            "round {round}: {m}"
        );
        let (status, log) = d.terminate();
        assert!(status.success(), "{log}");
    }
    let alerts: Vec<_> = stored_alerts(&s.data())
        .into_iter()
        .filter(|a| a.module == "sbom")
        .collect();
    assert_eq!(
        alerts.len(),
        expected,
        "one alert per finding, none twice after a restart"
    );
    assert!(alerts.iter().all(|a| a.rule_id == "ironpost.vulnerable_package" && a.group.contains_key("advisory")));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&sink)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |kind: &str| lines.iter().filter(|l| l["kind"] == kind).count();
    assert_eq!(
        count("finding"),
        expected,
        "findings reach the sinks marked as findings"
    );
    assert_eq!(count("alert"), expected);
}

#[test]
fn a_missing_index_makes_the_scanner_degraded_not_the_daemon_dead() {
    let dir = tempfile::tempdir().unwrap();
    let s = Setup::new(&format!(
        "[sbom]\ndb_dir = \"{}\"\nscan_paths = [\"{}\"]\n",
        dir.path().join("nothing-here").display(),
        shared("data/lockfiles/cargo/Cargo.lock").display()
    ));
    let d = s.start();
    s.wait_for("the scanner degraded", |doc| {
        module(doc, "sbom")["state"] == "degraded"
    });
    let m = module(&s.status(), "sbom");
    assert!(
        m["reason"].as_str().unwrap().contains("ironpost db import"),
        "{m}"
    );
    assert_eq!(s.cli(&["status"]).status.code(), Some(1));
    let (status, _) = d.terminate();
    assert!(status.success());
}

/// Removes the test's container even when the test fails.
struct ContainerGuard(String);

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

#[test]
fn the_daemon_scans_running_containers_too() {
    let docker_ok = |args: &[&str]| {
        Command::new("docker")
            .args(args)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !docker_ok(&["info"]) || !docker_ok(&["image", "inspect", "ironpost-test/busybox:latest"]) {
        eprintln!(
            "skipped: no Docker Engine or no ironpost-test/busybox image (scripts/start-dockerd provides both)"
        );
        return;
    }
    let name = format!("ironpost-test-sbom-{}", std::process::id());
    let _guard = ContainerGuard(name.clone());
    assert!(docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "ironpost-test/busybox:latest",
        "sleep",
        "3600"
    ]));
    let lockfile = shared("data/lockfiles/cargo/Cargo.lock");
    assert!(docker_ok(&[
        "cp",
        lockfile.to_str().unwrap(),
        &format!("{name}:/Cargo.lock")
    ]));

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vulndb");
    let out = Command::new(cli_bin())
        .args(["db", "import"])
        .arg(shared("data/advisories/rustsec-osv"))
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = Command::new(cli_bin())
        .arg("scan")
        .arg(&lockfile)
        .arg("--db")
        .arg(&db)
        .args(["--format", "json", "--fail-on", "never"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = report["findings"].as_array().unwrap().len();

    let s = Setup::new(&format!(
        "[sbom]\ndb_dir = \"{}\"\nscan_containers = true\n",
        db.display()
    ));
    let d = s.start();
    s.wait_for("a container scan stored and alerted", |doc| {
        let m = module(doc, "sbom");
        m["counters"]["findings_new"].as_u64().unwrap_or(0) >= expected as u64
            && doc["buses"]
                .as_array()
                .unwrap()
                .iter()
                .all(|b| b["queued"] == 0)
    });
    let (status, log) = d.terminate();
    assert!(status.success(), "{log}");
    let location = format!("container:{name}:/Cargo.lock");
    let alerts: Vec<_> = stored_alerts(&s.data())
        .into_iter()
        .filter(|a| a.module == "sbom" && a.group.get("location") == Some(&location))
        .collect();
    assert_eq!(
        alerts.len(),
        expected,
        "one alert per finding in the container"
    );
}
