//! The real OSV data imports (as a directory and as an `all.zip`), survives the index round
//! trip, and finds known advisories in the real Cargo.lock files with lockfile lines and `via`.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use ironpost_core::alert::Severity;
use ironpost_sbom_scanner::Ecosystem;
use ironpost_sbom_scanner::lockfiles;
use ironpost_sbom_scanner::report::{ReportFormat, render};
use ironpost_sbom_scanner::scan::{IgnoreList, scan};
use ironpost_sbom_scanner::vulndb::VulnDb;

const ADVISORIES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/advisories"
);
const LOCKFILES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/lockfiles"
);

fn osv_dirs() -> Vec<PathBuf> {
    vec![
        Path::new(ADVISORIES).join("rustsec-osv"),
        Path::new(ADVISORIES).join("ghsa"),
    ]
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
}

#[test]
fn import_counts_merge_and_round_trip() {
    let db = VulnDb::import(&osv_dirs()).unwrap();
    let s = &db.meta.stats;
    let files = std::fs::read_dir(Path::new(ADVISORIES).join("rustsec-osv"))
        .unwrap()
        .count()
        + ["Go", "Maven", "PyPI", "RubyGems", "crates.io", "npm"]
            .iter()
            .map(|e| {
                std::fs::read_dir(Path::new(ADVISORIES).join("ghsa").join(e))
                    .unwrap()
                    .count()
            })
            .sum::<usize>();
    assert_eq!(s.records, files);
    assert!(
        s.withdrawn > 0,
        "the RustSec export holds withdrawn records"
    );
    assert!(s.merged > 0, "GHSA crates.io records alias RustSec ones");
    assert!(s.informational > 100);
    assert_eq!(s.advisories + s.merged + s.withdrawn, s.records);
    assert!(db.meta.as_of.starts_with("20"));
    // A merged advisory keeps the RustSec id and lists the GHSA id as an alias.
    let merged = db
        .advisories
        .iter()
        .find(|a| a.id.starts_with("RUSTSEC-") && a.aliases.iter().any(|x| x.starts_with("GHSA-")))
        .unwrap();
    assert!(!db.advisories.iter().any(|a| merged.aliases.contains(&a.id)));

    let dir = tempfile::tempdir().unwrap();
    let path = db.save(dir.path()).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let raw: u64 = walk_size(Path::new(ADVISORIES).join("rustsec-osv"))
        + walk_size(Path::new(ADVISORIES).join("ghsa"));
    assert!(
        size * 3 < raw,
        "index {size} bytes should be far smaller than the {raw} bytes of records"
    );
    let back = VulnDb::load(dir.path()).unwrap();
    assert_eq!(back.advisories, db.advisories);
    assert_eq!(back.meta, db.meta);
    let missing = VulnDb::load(&dir.path().join("nope")).unwrap_err();
    assert!(
        missing.to_string().contains("ironpost db import"),
        "{missing}"
    );
}

fn walk_size(p: PathBuf) -> u64 {
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk_size(e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

#[test]
fn all_zip_imports_like_the_directory() {
    let src = Path::new(ADVISORIES).join("ghsa/npm");
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("all.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut names: Vec<_> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in &names {
        w.start_file(p.file_name().unwrap().to_str().unwrap(), opts)
            .unwrap();
        w.write_all(&std::fs::read(p).unwrap()).unwrap();
    }
    w.finish().unwrap();
    let from_zip = VulnDb::import(&[zip_path]).unwrap();
    let from_dir = VulnDb::import(&[src]).unwrap();
    assert_eq!(from_zip.advisories, from_dir.advisories);
    assert_eq!(from_zip.advisories.len(), names.len());
}

#[test]
fn scan_real_cargo_locks() {
    let db = VulnDb::import(&osv_dirs()).unwrap();
    let invs: Vec<_> = ["vector/Cargo.lock", "cargo/Cargo.lock"]
        .iter()
        .map(|r| lockfiles::parse_file(&Path::new(LOCKFILES).join(r)).unwrap())
        .collect();
    let report = scan(&invs, &db, &IgnoreList::default(), today());
    assert!(
        report.findings.len() > 10,
        "old lockfiles have known advisories: {}",
        report.findings.len()
    );
    for f in &report.findings {
        assert_eq!(f.ecosystem, Ecosystem::CratesIo);
        assert!(f.line > 0 && !f.via.is_empty(), "{f:?}");
        let adv = db.advisories.iter().find(|a| a.id == f.id).unwrap();
        assert!(adv.affected.iter().any(|a| a.matches(&f.version)));
        for fixed in &f.fixed {
            assert!(
                !adv.affected
                    .iter()
                    .filter(|a| a.name == f.package)
                    .any(|a| a.matches(fixed)),
                "{} fixed in {fixed}",
                f.id
            );
        }
    }
    // Severity order, most severe first.
    assert!(
        report
            .findings
            .windows(2)
            .all(|w| w[0].severity >= w[1].severity)
    );
    // cargo's 2023 lock carries a git2/libgit2 and a time 0.1-era dependency; check one well-known hit.
    let text = render(ReportFormat::Table, &report);
    assert!(text.contains("finding(s)"));
    let json: serde_json::Value =
        serde_json::from_str(&render(ReportFormat::Json, &report)).unwrap();
    let first = &json["findings"][0];
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
        assert!(first.get(key).is_some(), "JSON finding lacks {key}");
    }
    let sarif: serde_json::Value =
        serde_json::from_str(&render(ReportFormat::Sarif, &report)).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        report.findings.len()
    );
    assert!(report.fails(Severity::Low));
}

#[test]
fn ignore_file_by_alias() {
    let db = VulnDb::import(&osv_dirs()).unwrap();
    let inv = lockfiles::parse_file(&Path::new(LOCKFILES).join("vector/Cargo.lock")).unwrap();
    let all = scan(
        std::slice::from_ref(&inv),
        &db,
        &IgnoreList::default(),
        today(),
    );
    let target = all
        .findings
        .iter()
        .find(|f| f.aliases.iter().any(|a| a.starts_with("CVE-")))
        .expect("a finding with a CVE alias");
    let cve = target
        .aliases
        .iter()
        .find(|a| a.starts_with("CVE-"))
        .unwrap();
    let text = format!("[[ignore]]\nid = \"{cve}\"\nreason = \"test\"\nexpires = 2026-06-30\n");
    let ignore = IgnoreList::parse(Path::new("ignore.toml"), &text).unwrap();
    let filtered = scan(std::slice::from_ref(&inv), &db, &ignore, today());
    let gone = all.findings.iter().filter(|f| f.id == target.id).count();
    assert_eq!(filtered.findings.len(), all.findings.len() - gone);
    assert_eq!(filtered.ignored.len(), gone);
    let later = scan(
        std::slice::from_ref(&inv),
        &db,
        &ignore,
        NaiveDate::from_ymd_opt(2026, 7, 1).unwrap(),
    );
    assert_eq!(
        later.findings.len(),
        all.findings.len(),
        "an expired rule no longer applies"
    );
}
