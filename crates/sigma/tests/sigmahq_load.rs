//! Loads every SigmaHQ rule in the shared data and checks the load rate per directory.

mod common;

use ironpost_sigma::{EngineConfig, FileStatus};

#[test]
fn sigmahq_rules_load_or_are_refused_with_a_reason() {
    let root = common::sigma_root();
    let mut total_loaded = 0;
    let mut total = 0;
    for dir in ["linux", "web", "network", "application"] {
        let files = common::rule_files(&root.join(dir));
        assert!(!files.is_empty(), "no rules under {dir}");
        let (engine, report) = common::loader_for(&files, EngineConfig::default()).build();
        for f in &report.files {
            if f.status != FileStatus::Loaded {
                let reason = f.reason.as_deref().unwrap_or("");
                eprintln!("{:?} {}: {reason}", f.status, f.path);
                assert!(!reason.is_empty(), "{} refused without a reason", f.path);
            }
        }
        let rate = report.loaded as f64 / files.len() as f64;
        eprintln!(
            "{dir}: {} of {} loaded ({:.1}%), {} rules",
            report.loaded,
            files.len(),
            rate * 100.0,
            engine.rule_count()
        );
        assert_eq!(
            report.loaded + report.unsupported + report.invalid,
            files.len()
        );
        total_loaded += report.loaded;
        total += files.len();
        assert!(
            rate >= 0.95,
            "{dir}: only {:.1}% of the rules load",
            rate * 100.0
        );
    }
    assert!(total_loaded as f64 / total as f64 >= 0.95);
}

#[test]
fn threat_hunting_rules_are_each_accounted_for() {
    let root = common::sigma_root().join("../rules-threat-hunting");
    let files = common::rule_files(&root);
    assert!(!files.is_empty());
    let (_, report) = common::loader_for(&files, EngineConfig::default()).build();
    assert_eq!(report.files.len(), files.len());
    for f in &report.files {
        if f.status != FileStatus::Loaded {
            assert!(
                f.reason.as_deref().is_some_and(|r| !r.is_empty()),
                "{} refused without a reason",
                f.path
            );
        }
    }
    eprintln!(
        "threat hunting: {} of {} loaded",
        report.loaded,
        files.len()
    );
    assert_eq!(report.loaded, files.len());
}
