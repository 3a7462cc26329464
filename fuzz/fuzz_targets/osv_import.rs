//! OSV records (a stream of JSON objects, as in an advisory directory) deserialised into the
//! importer's record type, compiled (withdrawn dropped, aliases merged, severities scored, ranges
//! sorted by the ecosystem's ordering) and matched: every version an event or list names is looked
//! up. Never a panic.
#![no_main]

use ironpost_fuzz::now;
use ironpost_sbom_scanner::Ecosystem;
use ironpost_sbom_scanner::vulndb::osv::OsvRecord;
use ironpost_sbom_scanner::vulndb::{DbMeta, INDEX_FORMAT, VulnDb, compile_records};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let records: Vec<OsvRecord> = serde_json::Deserializer::from_slice(data)
        .into_iter::<OsvRecord>()
        .take(16)
        .map_while(Result::ok)
        .collect();
    if records.is_empty() {
        return;
    }
    let (advisories, stats) = compile_records(records);
    assert!(advisories.len() <= stats.records);
    let meta = DbMeta {
        format: INDEX_FORMAT,
        as_of: String::new(),
        imported_at: String::new(),
        sources: Vec::new(),
        stats,
    };
    let db = VulnDb::new(meta, advisories);
    let _ = db.age(now());
    let mut lookups: Vec<(Ecosystem, String, String)> = Vec::new();
    for a in &db.advisories {
        for f in &a.affected {
            let versions = f.ranges.iter().flatten().map(|e| e.version());
            for v in versions
                .chain(f.versions.iter().map(String::as_str))
                .take(32)
            {
                lookups.push((f.ecosystem, f.name.clone(), v.to_owned()));
            }
            let _ = f.fixed().count();
        }
    }
    for (eco, name, version) in lookups {
        for (adv, affected) in db.matching(eco, &name, &version) {
            assert_eq!(affected.ecosystem, eco);
            assert!(adv.affected.iter().any(|f| std::ptr::eq(f, affected)));
        }
    }
});
