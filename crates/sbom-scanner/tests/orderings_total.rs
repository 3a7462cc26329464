//! Each ordering is a consistent total order over the real versions it will meet: every
//! version in the shared lockfiles and every range event of the shared advisories, per
//! ecosystem. After sorting, no later version may compare below an earlier one, and
//! comparison is antisymmetric.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ironpost_sbom_scanner::Ecosystem;
use ironpost_sbom_scanner::discover::{DiscoverOptions, read_inventories};
use ironpost_sbom_scanner::versions::compare;
use ironpost_sbom_scanner::vulndb::osv::OsvRecord;
use ironpost_sbom_scanner::vulndb::read_records;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

fn corpus() -> BTreeMap<Ecosystem, BTreeSet<String>> {
    let mut out: BTreeMap<Ecosystem, BTreeSet<String>> = BTreeMap::new();
    let invs = read_inventories(
        &[Path::new(SHARED).join("lockfiles")],
        &DiscoverOptions::default(),
    )
    .unwrap();
    for p in invs.iter().flat_map(|i| &i.packages) {
        out.entry(p.ecosystem)
            .or_default()
            .insert(p.version.clone());
    }
    let adv = Path::new(SHARED).join("advisories");
    let records: Vec<OsvRecord> =
        read_records(&[adv.join("rustsec-osv"), adv.join("ghsa")]).unwrap();
    for r in &records {
        for a in &r.affected {
            let Some(eco) = a
                .package
                .as_ref()
                .and_then(|p| Ecosystem::from_osv(&p.ecosystem))
            else {
                continue;
            };
            let set = out.entry(eco).or_default();
            set.extend(a.versions.iter().cloned());
            for range in &a.ranges {
                set.extend(range.events.iter().flat_map(|e| e.values().cloned()));
            }
        }
    }
    out.entry(Ecosystem::Debian).or_default().extend(
        [
            "1.0~rc1-1",
            "1.0-1",
            "1:0.9-1",
            "2.36-9+deb12u4",
            "2.36-9+deb12u10",
            "7.88.1-10+deb12u5",
            "1.0-1~bpo1",
            "0.0",
        ]
        .map(String::from),
    );
    out.entry(Ecosystem::Alpine).or_default().extend(
        [
            "1.2.4-r2",
            "1.2.4_rc1",
            "1.2.4_p1-r0",
            "1.36.1-r15",
            "3.0.8-r0",
            "1.0a",
            "2.0_alpha2",
            "10.1",
        ]
        .map(String::from),
    );
    out
}

#[test]
fn every_ordering_sorts_its_real_versions_consistently() {
    for (eco, set) in corpus() {
        let mut v: Vec<&str> = set.iter().map(String::as_str).collect();
        assert!(v.len() >= 8, "{eco}: {} versions", v.len());
        v.sort_by(|a, b| compare(eco, a, b));
        for i in 0..v.len() {
            for j in i + 1..v.len() {
                let o = compare(eco, v[i], v[j]);
                assert_ne!(
                    o,
                    Ordering::Greater,
                    "{eco}: {} sorted before {}",
                    v[i],
                    v[j]
                );
                assert_eq!(
                    compare(eco, v[j], v[i]),
                    o.reverse(),
                    "{eco}: {} vs {}",
                    v[i],
                    v[j]
                );
            }
        }
    }
}
