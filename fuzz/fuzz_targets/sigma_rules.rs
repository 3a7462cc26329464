//! Several Sigma files loaded together, split at NUL bytes (at most 8): rules in one file,
//! correlations or filters naming them in another, duplicate ids and names across files. Loaded,
//! compiled and evaluated on a fixed set of events; never a panic, one report line per file.
#![no_main]

use ironpost_fuzz::{sigma_events, sigma_map, text};
use ironpost_sigma::{EngineConfig, Loader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let files: Vec<_> = data.splitn(8, |&b| b == 0).map(text).collect();
    let config = EngineConfig {
        suppression_secs: 5,
        correlation_memory_bytes: 64 * 1024,
        ..EngineConfig::default()
    };
    let mut loader = Loader::new(sigma_map(), config);
    for (i, yaml) in files.iter().enumerate() {
        loader.add_file(&format!("fuzz{i}.yml"), yaml);
    }
    let (mut engine, report) = loader.build();
    assert_eq!(report.files.len(), files.len());
    assert_eq!(
        report.loaded + report.unsupported + report.invalid,
        files.len()
    );
    if engine.rule_count() + engine.correlation_count() == 0 {
        return;
    }
    for event in sigma_events() {
        engine.process(event, &mut |_| {});
    }
    let _ = engine.stats();
});
