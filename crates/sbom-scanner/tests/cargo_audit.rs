//! Our scan against `cargo audit` itself: on the same Cargo.lock and the same RustSec data (the
//! OSV export for us, the advisory database it was exported from for cargo-audit), the
//! advisories found are the same, yanked-crate checks aside.
//!
//! Needs the `cargo-audit` command (`cargo install cargo-audit --locked`, which
//! scripts/install-deps does); without it the test says it is skipped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use ironpost_sbom_scanner::lockfiles;
use ironpost_sbom_scanner::scan::{IgnoreList, scan};
use ironpost_sbom_scanner::vulndb::VulnDb;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

fn cargo_audit() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let candidates = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("cargo-audit"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .chain(home.map(|h| h.join("bin/cargo-audit")));
    candidates.into_iter().find(|p| p.is_file())
}

/// A git copy of the RustSec database, as `cargo audit --db` requires.
fn advisory_git(dir: &Path) -> PathBuf {
    let db = dir.join("advisory-db");
    let status = Command::new("cp")
        .arg("-r")
        .arg(Path::new(SHARED).join("advisories/rustsec-advisory-db"))
        .arg(&db)
        .status()
        .unwrap();
    assert!(status.success());
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"][..],
        &[
            "-c",
            "user.name=ironpost-test",
            "-c",
            "user.email=test@ironpost.invalid",
            "commit",
            "-q",
            "-m",
            "snapshot",
        ][..],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(&db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    db
}

/// Every advisory id cargo-audit reports: vulnerabilities and warnings (unmaintained, unsound,
/// notice), without yanked crates, which need the registry.
fn audit_ids(bin: &Path, db: &Path, lockfile: &Path) -> BTreeSet<(String, String, String)> {
    let out = Command::new(bin)
        .args(["audit", "--no-fetch", "--stale", "--json", "--db"])
        .arg(db)
        .arg("--file")
        .arg(lockfile)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "cargo audit output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut ids = BTreeSet::new();
    let mut take = |entry: &serde_json::Value| {
        if let Some(id) = entry["advisory"]["id"].as_str() {
            ids.insert((
                id.to_owned(),
                entry["package"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                entry["package"]["version"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ));
        }
    };
    for v in report["vulnerabilities"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        take(v);
    }
    for (kind, list) in report["warnings"].as_object().into_iter().flatten() {
        if kind == "yanked" {
            continue;
        }
        for w in list.as_array().into_iter().flatten() {
            take(w);
        }
    }
    ids
}

#[test]
fn findings_equal_cargo_audit_on_real_cargo_locks() {
    let Some(bin) = cargo_audit() else {
        eprintln!("skipped: cargo-audit is not installed (cargo install cargo-audit --locked)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let git = advisory_git(dir.path());
    let db = VulnDb::import(&[Path::new(SHARED).join("advisories/rustsec-osv")]).unwrap();
    for rel in ["lockfiles/vector/Cargo.lock", "lockfiles/cargo/Cargo.lock"] {
        let lockfile = Path::new(SHARED).join(rel);
        let expected = audit_ids(&bin, &git, &lockfile);
        let inv = lockfiles::parse_file(&lockfile).unwrap();
        let report = scan(
            std::slice::from_ref(&inv),
            &db,
            &IgnoreList::default(),
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        );
        let found: BTreeSet<(String, String, String)> = report
            .findings
            .iter()
            // The OSV export holds one record the database snapshot lacks (shared/README).
            .filter(|f| f.id != "RUSTSEC-2025-0000")
            .map(|f| (f.id.clone(), f.package.clone(), f.version.clone()))
            .collect();
        assert!(
            expected.len() > 20,
            "{rel}: cargo audit found only {}",
            expected.len()
        );
        let missing: Vec<_> = expected.difference(&found).collect();
        let extra: Vec<_> = found.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{rel}: missing {missing:#?}\nextra {extra:#?}"
        );
    }
}
