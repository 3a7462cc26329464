//! Loading: rule files in, a ready [`Engine`] and a per-file [`ValidationReport`] out.
//!
//! Every file either loads or is refused as a whole with its path and a precise reason: bad YAML,
//! a missing key, an unknown modifier, a condition naming an unknown search, a correlation that
//! refers to a rule that is not loaded, or a feature this engine does not evaluate.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::engine::{CompiledCorrelation, CompiledRule, Engine, EngineConfig, Target};
use crate::error::{LoadError, Refusal, RefusalKind};
use crate::logsource::LogSourceMap;
use crate::rule::{CorrelationRule, DetectionRule, FilterRule, RuleDoc, parse_documents};

/// The outcome for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Every document of the file loaded.
    Loaded,
    /// Valid Sigma that uses a feature this engine does not evaluate.
    Unsupported,
    /// Not valid Sigma.
    Invalid,
}

/// One file's line in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// The path as given.
    pub path: String,
    /// Loaded, unsupported or invalid.
    pub status: FileStatus,
    /// Why it was refused; for a loaded file, a note (e.g. no event source carries its log source).
    pub reason: Option<String>,
}

/// What `rules validate` prints: counts and one line per file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValidationReport {
    /// Files that loaded.
    pub loaded: usize,
    /// Files refused as unsupported.
    pub unsupported: usize,
    /// Files refused as invalid.
    pub invalid: usize,
    /// Per file, in the order given.
    pub files: Vec<FileReport>,
}

impl ValidationReport {
    /// True when every file loaded.
    pub fn all_loaded(&self) -> bool {
        self.unsupported == 0 && self.invalid == 0
    }

    /// The refusals as errors.
    pub fn errors(&self) -> Vec<LoadError> {
        self.files
            .iter()
            .filter(|f| f.status != FileStatus::Loaded)
            .map(|f| LoadError {
                path: f.path.clone(),
                kind: if f.status == FileStatus::Invalid {
                    RefusalKind::Invalid
                } else {
                    RefusalKind::Unsupported
                },
                reason: f.reason.clone().unwrap_or_default(),
            })
            .collect()
    }
}

struct FileDocs {
    path: String,
    outcome: Result<Vec<RuleDoc>, Refusal>,
    note: Option<String>,
}

/// Collects rule files, then builds the engine.
pub struct Loader {
    map: LogSourceMap,
    config: EngineConfig,
    files: Vec<FileDocs>,
}

impl Loader {
    /// A loader routing with `map` and evaluating with `config`.
    pub fn new(map: LogSourceMap, config: EngineConfig) -> Loader {
        Loader {
            map,
            config,
            files: Vec::new(),
        }
    }

    /// Adds one rule file's text; `path` names it in the report.
    pub fn add_file(&mut self, path: &str, text: &str) {
        let outcome = parse_documents(text).and_then(|docs| {
            docs.iter()
                .enumerate()
                .map(|(i, d)| {
                    RuleDoc::parse(d).map_err(|e| {
                        if docs.len() > 1 {
                            e.in_key(&format!("document {}", i + 1))
                        } else {
                            e
                        }
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        });
        // Compile once now so that bad regexes, networks or placeholders are reported here.
        let outcome = outcome.and_then(|docs| {
            for d in &docs {
                let det = match d {
                    RuleDoc::Detection(r) => &r.detection,
                    RuleDoc::Filter(f) => &f.detection,
                    RuleDoc::Correlation(_) => continue,
                };
                det.compile(
                    &|n| self.map.field_name(usize::MAX, n),
                    &self.config.placeholders,
                )?;
            }
            Ok(docs)
        });
        self.files.push(FileDocs {
            path: path.to_owned(),
            outcome,
            note: None,
        });
    }

    /// Resolves references, applies filters, compiles for every event source and reports.
    pub fn build(mut self) -> (Engine, ValidationReport) {
        // Correlations may refer to rules of other files; a refused file can break another, so
        // resolve until nothing changes.
        loop {
            let mut known: HashSet<String> = HashSet::new();
            for f in &self.files {
                if let Ok(docs) = &f.outcome {
                    for d in docs {
                        match d {
                            RuleDoc::Detection(r) => {
                                known.insert(r.meta.id.clone());
                                known.extend(r.meta.name.clone());
                            }
                            RuleDoc::Correlation(c) => {
                                known.insert(c.meta.id.clone());
                                known.extend(c.meta.name.clone());
                            }
                            RuleDoc::Filter(_) => {}
                        }
                    }
                }
            }
            let mut changed = false;
            for f in &mut self.files {
                let Ok(docs) = &f.outcome else { continue };
                let missing = docs.iter().find_map(|d| match d {
                    RuleDoc::Correlation(c) => {
                        c.rules.iter().find(|r| !known.contains(*r)).cloned()
                    }
                    _ => None,
                });
                if let Some(m) = missing {
                    f.outcome = Err(Refusal::invalid(format!(
                        "correlation.rules: `{m}` is neither the id nor the name of a loaded rule"
                    )));
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }

        let mut detections: Vec<DetectionRule> = Vec::new();
        let mut det_file: Vec<usize> = Vec::new();
        let mut correlations: Vec<CorrelationRule> = Vec::new();
        let mut filters: Vec<FilterRule> = Vec::new();
        for (fi, f) in self.files.iter().enumerate() {
            if let Ok(docs) = &f.outcome {
                for d in docs {
                    match d.clone() {
                        RuleDoc::Detection(r) => {
                            detections.push(r);
                            det_file.push(fi);
                        }
                        RuleDoc::Correlation(c) => correlations.push(c),
                        RuleDoc::Filter(flt) => filters.push(flt),
                    }
                }
            }
        }
        for flt in &filters {
            for r in &mut detections {
                if flt
                    .rules
                    .iter()
                    .any(|t| *t == r.meta.id || Some(t) == r.meta.name.as_ref())
                {
                    r.detection.add_filter(&flt.detection, &flt.id);
                }
            }
        }

        let mut by_ref: HashMap<String, Target> = HashMap::new();
        for (i, r) in detections.iter().enumerate() {
            by_ref.insert(r.meta.id.clone(), Target::Rule(i));
            if let Some(n) = &r.meta.name {
                by_ref.insert(n.clone(), Target::Rule(i));
            }
        }
        for (i, c) in correlations.iter().enumerate() {
            by_ref.insert(c.meta.id.clone(), Target::Correlation(i));
            if let Some(n) = &c.meta.name {
                by_ref.insert(n.clone(), Target::Correlation(i));
            }
        }

        let entries = self.map.entries().len();
        let mut rules = Vec::with_capacity(detections.len());
        for (i, r) in detections.into_iter().enumerate() {
            let routes: Vec<usize> = (0..entries.min(64))
                .filter(|&e| self.map.entries()[e].logsource.satisfies(&r.logsource))
                .collect();
            if routes.is_empty() {
                let f = &mut self.files[det_file[i]];
                f.note.get_or_insert_with(|| {
                    format!("no event source carries logsource {}; extend the log-source mapping to run it", r.logsource)
                });
            }
            let compiled = CompiledRule::compile(r, routes, &self.map, &self.config.placeholders);
            rules.push(compiled);
        }
        let mut corrs: Vec<CompiledCorrelation> = correlations
            .into_iter()
            .map(|c| CompiledCorrelation::new(c, &self.map))
            .collect();
        for ci in 0..corrs.len() {
            let generate = corrs[ci].rule.generate;
            for step in 0..corrs[ci].rule.rules.len() {
                let reference = corrs[ci].rule.rules[step].clone();
                match by_ref.get(&reference) {
                    Some(Target::Rule(r)) => {
                        rules[*r].feeds.push((ci, step));
                        if !generate {
                            rules[*r].silent = true;
                        }
                    }
                    // A chained correlation is a detection in its own right: `generate` only
                    // governs base detection rules, so a chained one keeps its alerts.
                    Some(Target::Correlation(c)) => {
                        let c = *c;
                        corrs[c].feeds.push((ci, step));
                    }
                    None => {}
                }
            }
        }

        let mut report = ValidationReport::default();
        for f in self.files {
            let (status, reason) = match f.outcome {
                Ok(_) => (FileStatus::Loaded, f.note),
                Err(e) => (
                    if e.kind == RefusalKind::Invalid {
                        FileStatus::Invalid
                    } else {
                        FileStatus::Unsupported
                    },
                    Some(e.reason),
                ),
            };
            match status {
                FileStatus::Loaded => report.loaded += 1,
                FileStatus::Unsupported => report.unsupported += 1,
                FileStatus::Invalid => report.invalid += 1,
            }
            report.files.push(FileReport {
                path: f.path,
                status,
                reason,
            });
        }
        (Engine::new(self.map, self.config, rules, corrs), report)
    }
}
