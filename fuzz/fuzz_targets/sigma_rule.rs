//! One Sigma rule file (YAML; one or several documents, detections, filters or correlations)
//! loaded, validated and compiled through [`Loader`], then evaluated on a fixed set of events.
//! Never a panic; the report accounts for the one file exactly once.
#![no_main]

use ironpost_fuzz::{sigma_events, sigma_map, text};
use ironpost_sigma::{EngineConfig, Loader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let yaml = text(data);
    let mut loader = Loader::new(sigma_map(), EngineConfig::default());
    loader.add_file("fuzz.yml", &yaml);
    let (mut engine, report) = loader.build();
    assert_eq!(report.files.len(), 1);
    assert_eq!(report.loaded + report.unsupported + report.invalid, 1);
    if engine.rule_count() + engine.correlation_count() == 0 {
        return;
    }
    for event in sigma_events() {
        engine.process(event, &mut |_| {});
        let _ = engine.matching_rules_unfiltered(event);
    }
});
