//! `ironpost db import|status`, `scan` and `sbom` end to end on the shared data, with their
//! exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data");

fn ironpost(dir: &Path, args: &[&str]) -> Output {
    // A config file pins the staleness limit so the exit codes do not depend on today's date.
    let config = dir.join("ironpost.toml");
    if !config.exists() {
        std::fs::write(
            &config,
            format!(
                "[general]\ndata_dir = \"{}\"\n\n[sbom]\nmax_db_age_days = 100000\n",
                dir.display()
            ),
        )
        .unwrap();
    }
    Command::new(env!("CARGO_BIN_EXE_ironpost"))
        .arg("-c")
        .arg(&config)
        .args(args)
        .env_remove("IRONPOST_CONFIG")
        .output()
        .unwrap()
}

fn data(rel: &str) -> String {
    PathBuf::from(SHARED).join(rel).display().to_string()
}

#[test]
fn import_status_scan_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = ironpost(d, &["scan", &data("lockfiles/cargo")]);
    assert_eq!(out.status.code(), Some(2), "no database yet");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ironpost db import"));

    let out = ironpost(
        d,
        &[
            "db",
            "import",
            &data("advisories/rustsec-osv"),
            &data("advisories/ghsa"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        d.join("vulndb/osv-index.json").is_file(),
        "default dir is <data_dir>/vulndb"
    );

    let out = ironpost(d, &["db", "status", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(status["advisories"].as_u64().unwrap() > 1000);

    let out = ironpost(
        d,
        &[
            "scan",
            &data("lockfiles/cargo/Cargo.lock"),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "findings at or above low");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    for key in [
        "package",
        "version",
        "ecosystem",
        "id",
        "aliases",
        "severity",
        "fixed",
        "lockfile",
        "line",
        "via",
    ] {
        assert!(findings[0].get(key).is_some(), "{key}");
    }
    let out = ironpost(
        d,
        &[
            "scan",
            &data("lockfiles/cargo"),
            "--fail-on",
            "never",
            "--format",
            "sarif",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        findings.len()
    );

    // Accept every advisory found, by its first alias where it has one: exit 0.
    let mut rules = String::new();
    for f in findings {
        let id = f["aliases"]
            .as_array()
            .and_then(|a| a.first())
            .unwrap_or(&f["id"])
            .as_str()
            .unwrap();
        rules.push_str(&format!(
            "[[ignore]]\nid = \"{id}\"\nreason = \"accepted in test\"\nexpires = 2999-01-01\n\n"
        ));
    }
    std::fs::write(d.join("ignore.toml"), rules).unwrap();
    let out = ironpost(
        d,
        &[
            "scan",
            &data("lockfiles/cargo"),
            "--ignore",
            &d.join("ignore.toml").display().to_string(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = ironpost(
        d,
        &["scan", &data("lockfiles/cargo"), "--fail-on", "severe"],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sbom_to_file_in_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (format, key) in [("cyclonedx-json", "components"), ("spdx-json", "packages")] {
        let file = d.join(format!("{format}.json"));
        let out = ironpost(
            d,
            &[
                "sbom",
                &data("lockfiles/rubygems.org"),
                "--format",
                format,
                "-o",
                &file.display().to_string(),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert!(doc[key].as_array().unwrap().len() >= 174);
    }
    let out = ironpost(
        d,
        &["sbom", &data("lockfiles/rubygems.org"), "--format", "xml"],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn scan_writes_both_sboms_in_the_same_pass() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = ironpost(
        dir.path(),
        &[
            "db",
            "import",
            &data("advisories/rustsec-osv"),
            "--db",
            db.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lock = data("lockfiles/cargo/Cargo.lock");
    let (cdx, spdx) = (
        dir.path().join("bom.cdx.json"),
        dir.path().join("bom.spdx.json"),
    );
    let out = ironpost(
        dir.path(),
        &[
            "scan",
            &lock,
            "--db",
            db.to_str().unwrap(),
            "--format",
            "json",
            "--fail-on",
            "never",
            "--cyclonedx",
            cdx.to_str().unwrap(),
            "--spdx",
            spdx.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!report["findings"].as_array().unwrap().is_empty());
    // The same documents `ironpost sbom` writes for the same lockfile, but for ids and times.
    let alone = ironpost(dir.path(), &["sbom", &lock, "--format", "cyclonedx-json"]);
    let alone: serde_json::Value = serde_json::from_slice(&alone.stdout).unwrap();
    let with_scan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cdx).unwrap()).unwrap();
    assert_eq!(with_scan["bomFormat"], "CycloneDX");
    assert_eq!(with_scan["components"], alone["components"]);
    assert_eq!(with_scan["dependencies"], alone["dependencies"]);
    let spdx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&spdx).unwrap()).unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    assert_eq!(
        spdx["packages"].as_array().unwrap().len(),
        with_scan["components"].as_array().unwrap().len() + 1
    );
}
