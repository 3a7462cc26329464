//! A 10 000-package Cargo.lock (written by `scripts/gen-lockfile`) scanned against the full
//! imported advisory data, with both SBOMs written: the path `ironpost scan` + `ironpost sbom`
//! take after the index is loaded.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use ironpost_sbom_scanner::lockfiles;
use ironpost_sbom_scanner::sbom::{BomMeta, SbomFormat, write};
use ironpost_sbom_scanner::scan::{IgnoreList, scan};
use ironpost_sbom_scanner::vulndb::VulnDb;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn lockfile() -> PathBuf {
    let path = Path::new(ROOT).join("target/bench-data/Cargo.lock");
    if !path.exists() {
        let status = Command::new("python3")
            .arg(Path::new(ROOT).join("scripts/gen-lockfile"))
            .arg("10000")
            .arg(&path)
            .status()
            .expect("python3 runs scripts/gen-lockfile");
        assert!(status.success(), "scripts/gen-lockfile failed");
    }
    path
}

fn database(dir: &Path) -> VulnDb {
    let adv = Path::new(ROOT).join("../shared/data/advisories");
    let db =
        VulnDb::import(&[adv.join("rustsec-osv"), adv.join("ghsa")]).expect("advisories import");
    db.save(dir).expect("index written");
    VulnDb::load(dir).expect("index loads")
}

fn bench(c: &mut Criterion) {
    let path = lockfile();
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let ignore = IgnoreList::default();
    let meta = BomMeta::new("bench-app");

    let inv = lockfiles::parse_file(&path).unwrap();
    assert_eq!(inv.packages.len(), 10_000);
    assert!(
        !scan(std::slice::from_ref(&inv), &db, &ignore, today)
            .findings
            .is_empty()
    );

    let mut g = c.benchmark_group("10k-cargo-lock");
    g.sample_size(30);
    g.bench_function("parse+scan+cyclonedx+spdx", |b| {
        b.iter(|| {
            let inv = lockfiles::parse_file(&path).unwrap();
            let invs = std::slice::from_ref(&inv);
            let report = scan(invs, &db, &ignore, today);
            let cdx = write(SbomFormat::CycloneDxJson, invs, &meta);
            let spdx = write(SbomFormat::SpdxJson, invs, &meta);
            (report.findings.len(), cdx.len(), spdx.len())
        })
    });
    g.bench_function("load-index", |b| {
        b.iter(|| VulnDb::load(dir.path()).unwrap().advisories.len())
    });
    g.bench_function("parse", |b| {
        b.iter(|| lockfiles::parse_file(&path).unwrap().packages.len())
    });
    g.bench_function("scan", |b| {
        b.iter(|| {
            scan(std::slice::from_ref(&inv), &db, &ignore, today)
                .findings
                .len()
        })
    });
    g.bench_function("cyclonedx", |b| {
        b.iter(|| write(SbomFormat::CycloneDxJson, std::slice::from_ref(&inv), &meta).len())
    });
    g.bench_function("spdx", |b| {
        b.iter(|| write(SbomFormat::SpdxJson, std::slice::from_ref(&inv), &meta).len())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
