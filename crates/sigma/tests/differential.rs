//! Differential test: this engine and `rsigma-eval` must agree on which SigmaHQ rules match
//! each event of a corpus built to hit and to miss every rule.
//!
//! The corpus is generated from the rules themselves: for every search of every rule, an event
//! that satisfies that search's first value of each field (with the modifier's shape: `x..x` for
//! contains, `..x` for startswith, ...), plus one event that satisfies every search of the rule
//! at once. Each event is evaluated by both engines against every rule; logsource routing is
//! switched off on our side with a catch-all mapping entry, because rsigma's `evaluate` does not
//! route.
//!
//! The two engines see the same data: a flat JSON object for rsigma, a log record whose
//! extracted fields are the same keys for us, with the keyword text in `message`.
//!
//! Kept differences, each explained where it is filtered:
//! - keyword placement: rsigma searches keywords in every string value of the event, we search
//!   the keyword text (the log message, the command line), as each Ironpost event has one
//!   free-text field. A match rsigma finds only through another field is accepted when we find
//!   it too once every value of the event is put in the message.
//! - `'|all'` keyword maps (`keywords: {'|all': [a, b]}`): Sigma makes them keywords that must
//!   all appear; rsigma 0.23 reads the key as a field with an empty name and never matches.
//!   We follow the specification.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use ironpost_core::Event;
use ironpost_core::event::LogRecord;
use ironpost_sigma::{EngineConfig, FileStatus, Loader, LogSourceMap};
use serde_yaml::Value as Yaml;

const CATCH_ALL: &str = "sources:\n  - name: everything\n    logsource: {product: '*', category: '*', service: '*'}\n    when: {kind: log}\n";

fn first_scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Sequence(items) => items.iter().find_map(first_scalar),
        _ => None,
    }
}

fn all_scalars(v: &Yaml) -> Vec<String> {
    match v {
        Yaml::Sequence(items) => items.iter().filter_map(first_scalar).collect(),
        other => first_scalar(other).into_iter().collect(),
    }
}

/// Undoes Sigma wildcard escapes and drops unescaped wildcards (replaced by `x`).
fn literal(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                out.push(chars.next().unwrap_or('\\'))
            }
            '*' | '?' => out.push('x'),
            c => out.push(c),
        }
    }
    out
}

/// A value that satisfies `key: value`, or `None` when the modifiers are not generated.
fn satisfying(key: &str, value: &Yaml) -> Option<(String, String)> {
    let mut parts = key.split('|');
    let field = parts.next()?.to_owned();
    let mods: Vec<&str> = parts.collect();
    let supported = mods
        .iter()
        .all(|m| matches!(*m, "contains" | "startswith" | "endswith" | "all" | "cased"));
    if !supported {
        return None;
    }
    let values = if mods.contains(&"all") {
        all_scalars(value)
    } else {
        first_scalar(value).into_iter().collect()
    };
    if values.is_empty() {
        return None;
    }
    let text: Vec<String> = values.iter().map(|v| literal(v)).collect();
    let joined = text.join(" ");
    let v = if mods.contains(&"contains") {
        format!("x {joined} x")
    } else if mods.contains(&"startswith") {
        format!("{joined} x")
    } else if mods.contains(&"endswith") {
        format!("x {joined}")
    } else {
        joined
    };
    Some((field, v))
}

type Candidate = BTreeMap<String, String>;

fn candidates_of(search: &Yaml) -> Vec<Candidate> {
    let from_map = |m: &serde_yaml::Mapping| {
        let mut c = Candidate::new();
        for (k, v) in m {
            if let Some(key) = k.as_str()
                && let Some((f, val)) = satisfying(key, v)
            {
                let f = if f.is_empty() {
                    "message".to_owned()
                } else {
                    f
                };
                c.insert(f, val);
            }
        }
        c
    };
    match search {
        Yaml::Mapping(m) => vec![from_map(m)],
        Yaml::Sequence(items) => items
            .iter()
            .map(|i| match i {
                Yaml::Mapping(m) => from_map(m),
                scalar => first_scalar(scalar)
                    .map(|s| {
                        Candidate::from([("message".to_owned(), format!("x {} x", literal(&s)))])
                    })
                    .unwrap_or_default(),
            })
            .take(3)
            .collect(),
        scalar => first_scalar(scalar)
            .map(|s| {
                vec![Candidate::from([(
                    "message".to_owned(),
                    format!("x {} x", literal(&s)),
                )])]
            })
            .unwrap_or_default(),
    }
}

/// Ids of rules that use a keyword map with modifiers (`'|all': [...]`).
fn keyword_map_rules(texts: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for text in texts {
        for de in serde_yaml::Deserializer::from_str(text) {
            let Ok(doc) = <Yaml as serde::Deserialize>::deserialize(de) else {
                continue;
            };
            let Some(det) = doc.get("detection").and_then(Yaml::as_mapping) else {
                continue;
            };
            let uses = det.values().any(|s| {
                s.as_mapping().is_some_and(|m| {
                    m.keys()
                        .any(|k| k.as_str().is_some_and(|k| k.starts_with('|')))
                })
            });
            if uses && let Some(id) = doc.get("id").and_then(Yaml::as_str) {
                out.insert(id.to_owned());
            }
        }
    }
    out
}

fn corpus(texts: &[String]) -> Vec<Candidate> {
    let mut out = BTreeSet::new();
    for text in texts {
        for de in serde_yaml::Deserializer::from_str(text) {
            let Ok(doc) = <Yaml as serde::Deserialize>::deserialize(de) else {
                continue;
            };
            let Some(det) = doc.get("detection").and_then(Yaml::as_mapping) else {
                continue;
            };
            let mut union = Candidate::new();
            for (name, search) in det {
                if matches!(name.as_str(), Some("condition" | "timeframe")) {
                    continue;
                }
                for c in candidates_of(search) {
                    for (k, v) in &c {
                        union.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                    if !c.is_empty() {
                        out.insert(c);
                    }
                }
            }
            if !union.is_empty() {
                out.insert(union);
            }
        }
    }
    // A few events that should hit nothing.
    out.insert(Candidate::from([(
        "message".to_owned(),
        "nothing to see here".to_owned(),
    )]));
    out.insert(Candidate::from([(
        "CommandLine".to_owned(),
        "/usr/bin/ls -la".to_owned(),
    )]));
    out.into_iter().collect()
}

fn as_event(c: &Candidate) -> Event {
    let mut rec = LogRecord::new("t", "json", c.get("message").cloned().unwrap_or_default());
    // Keys that are record attributes go there, as a parser would put them.
    for (k, v) in c {
        match k.as_str() {
            "message" => {}
            "service" => rec.service = Some(v.into()),
            "hostname" => rec.hostname = Some(v.into()),
            "source" => rec.source = v.into(),
            "format" => rec.format = v.into(),
            _ => rec.fields.insert(k, v.as_str()),
        }
    }
    Event::Log(rec)
}

fn as_json(c: &Candidate) -> serde_json::Value {
    serde_json::Value::Object(
        c.iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    )
}

#[test]
fn match_sets_agree_with_rsigma_eval() {
    let root = common::sigma_root();
    let mut files = Vec::new();
    for dir in ["linux", "web", "network", "application"] {
        files.extend(common::rule_files(&root.join(dir)));
    }
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();

    // Our engine, every rule on every event.
    // No field renames: both engines read the rule's field names as they are.
    let map = LogSourceMap::from_yaml(CATCH_ALL, "catch-all").unwrap();
    let mut ours_loader = Loader::new(map, EngineConfig::default());
    for (f, t) in files.iter().zip(&texts) {
        ours_loader.add_file(&f.display().to_string(), t);
    }
    let (mut ours, report) = ours_loader.build();

    // rsigma, with the same rules minus any that either side refused.
    let mut theirs = rsigma_eval::Engine::new();
    let mut compared_ids = BTreeSet::new();
    for (i, t) in texts.iter().enumerate() {
        if report.files[i].status != FileStatus::Loaded {
            continue;
        }
        let Ok(collection) = rsigma_parser::parse_sigma_yaml(t) else {
            continue;
        };
        if !collection.errors.is_empty() {
            continue;
        }
        let mut ok = true;
        for r in &collection.rules {
            if theirs.add_rule(r).is_err() {
                ok = false;
            }
        }
        if ok {
            for r in &collection.rules {
                if let Some(id) = &r.id {
                    compared_ids.insert(id.clone());
                }
            }
        }
    }
    assert!(
        compared_ids.len() >= 350,
        "only {} rules are compared",
        compared_ids.len()
    );

    let events = corpus(&texts);
    let keyword_maps = keyword_map_rules(&texts);
    assert!(events.len() >= 500, "corpus of {} events", events.len());
    let mut hits = 0;
    let mut differences = Vec::new();
    for c in &events {
        let ev = as_event(c);
        assert_eq!(
            ours.matching_rules(&ev),
            ours.matching_rules_unfiltered(&ev),
            "the prefilter dropped a match on {c:?}"
        );
        let mine: BTreeSet<String> = ours
            .matching_rules(&ev)
            .into_iter()
            .filter(|id| compared_ids.contains(id))
            .collect();
        let json = as_json(c);
        let theirs_set: BTreeSet<String> = theirs
            .evaluate(&rsigma_eval::JsonEvent::borrow(&json))
            .into_iter()
            .filter_map(|r| r.header.rule_id)
            .filter(|id| compared_ids.contains(id))
            .collect();
        hits += mine.len();
        if mine != theirs_set {
            let ours_only: BTreeSet<&String> = mine
                .difference(&theirs_set)
                .filter(|id| !keyword_maps.contains(*id))
                .collect();
            let mut everything_in_message = c.clone();
            everything_in_message.insert(
                "message".to_owned(),
                c.values().cloned().collect::<Vec<_>>().join(" "),
            );
            let widened: BTreeSet<String> = ours
                .matching_rules(&as_event(&everything_in_message))
                .into_iter()
                .collect();
            let theirs_only: BTreeSet<&String> = theirs_set
                .difference(&mine)
                .filter(|id| !widened.contains(*id))
                .collect();
            if !ours_only.is_empty() || !theirs_only.is_empty() {
                differences.push(format!(
                    "event {c:?}\n  ours only: {ours_only:?}\n  rsigma only: {theirs_only:?}"
                ));
            }
        }
    }
    eprintln!(
        "{} events, {} rules compared, {hits} matches",
        events.len(),
        compared_ids.len()
    );
    assert!(
        hits >= compared_ids.len() / 2,
        "the corpus hits too few rules: {hits}"
    );
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
