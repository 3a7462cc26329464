//! Runs the examples every rule of the shipped pack carries (see rules/README.md).

mod common;

use ironpost_sigma::examples::examples_from_yaml;
use ironpost_sigma::{EngineConfig, FileStatus};

#[test]
fn every_pack_rule_loads_and_its_examples_hold() {
    let files = common::rule_files(&common::pack_root());
    assert!(files.len() >= 10, "the pack has {} files", files.len());
    let config = EngineConfig {
        suppression_secs: 0,
        ..EngineConfig::default()
    };
    let (_, report) = common::loader_for(&files, config.clone()).build();
    for f in &report.files {
        assert_eq!(f.status, FileStatus::Loaded, "{}: {:?}", f.path, f.reason);
        assert!(
            f.reason.is_none(),
            "{} loads but does not route: {:?}",
            f.path,
            f.reason
        );
    }
    let mut checked = 0;
    let mut documents = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let examples =
            examples_from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        documents += text.split("\n---\n").count();
        for ex in &examples {
            assert!(
                !ex.must_match.is_empty(),
                "{}: {} has no matching example",
                file.display(),
                ex.rule_id
            );
            assert!(
                !ex.must_not_match.is_empty(),
                "{}: {} has no non-matching example",
                file.display(),
                ex.rule_id
            );
            for (want, sequences) in [(true, &ex.must_match), (false, &ex.must_not_match)] {
                for (i, seq) in sequences.iter().enumerate() {
                    let (mut engine, _) = common::loader_for(&files, config.clone()).build();
                    let hit = if ex.correlation {
                        let mut ids = Vec::new();
                        for e in seq {
                            engine.process(e, &mut |a| ids.push(a.alert.rule_id));
                        }
                        ids.contains(&ex.rule_id)
                    } else {
                        seq.iter()
                            .any(|e| engine.matching_rules(e).contains(&ex.rule_id))
                    };
                    assert_eq!(
                        hit,
                        want,
                        "{}: rule {} example {} of {}",
                        file.display(),
                        ex.rule_id,
                        i,
                        if want { "match" } else { "nomatch" }
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(
            examples.len(),
            text.split("\n---\n").count(),
            "{}: a document has no examples",
            file.display()
        );
    }
    assert!(
        checked >= 40,
        "only {checked} examples over {documents} documents"
    );
}
