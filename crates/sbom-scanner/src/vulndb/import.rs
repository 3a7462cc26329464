//! Reading OSV records and compiling them: withdrawn records dropped, records that share an
//! id or alias merged into one advisory, RustSec's informational kinds flagged.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use ironpost_core::alert::Severity;
use serde::{Deserialize, Serialize};

use super::advisory::{Advisory, Affected, Event};
use super::osv::OsvRecord;
use super::{DbError, severity};
use crate::inventory::Ecosystem;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStats {
    /// Records read.
    pub records: usize,
    /// Withdrawn records dropped.
    pub withdrawn: usize,
    /// Records folded into another with which they share an id or alias.
    pub merged: usize,
    /// Advisories kept.
    pub advisories: usize,
    /// Advisories flagged informational.
    pub informational: usize,
    /// Affected entries skipped because their ecosystem is not supported.
    pub unsupported_ecosystem: usize,
}

fn parse_record(path: &str, text: &str) -> Result<OsvRecord, DbError> {
    serde_json::from_str(text).map_err(|e| DbError::Record {
        path: path.to_string(),
        line: e.line(),
        message: e.to_string(),
    })
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DbError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DbError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let meta = std::fs::symlink_metadata(&p).map_err(|source| DbError::Io {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            collect_json(&p, out)?;
        } else if meta.is_file() && p.extension().is_some_and(|e| e == "json" || e == "zip") {
            out.push(p);
        }
    }
    Ok(())
}

fn read_zip(path: &Path, out: &mut Vec<OsvRecord>) -> Result<(), DbError> {
    let zerr = |e: zip::result::ZipError| DbError::Zip {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(|source| DbError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(file).map_err(zerr)?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(zerr)?;
        let entry_name = entry.name().map_err(zerr)?.to_string();
        if !entry.is_file() || !entry_name.ends_with(".json") {
            continue;
        }
        let name = format!("{}!{entry_name}", path.display());
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .map_err(|source| DbError::Io {
                path: PathBuf::from(&name),
                source,
            })?;
        out.push(parse_record(&name, &text)?);
    }
    Ok(())
}

/// Reads every OSV record under `paths`: directories are walked for `.json` and `.zip` files.
pub fn read_records(paths: &[PathBuf]) -> Result<Vec<OsvRecord>, DbError> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| DbError::Io {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            collect_json(p, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    let mut records = Vec::new();
    for f in files {
        if f.extension().is_some_and(|e| e == "zip") {
            read_zip(&f, &mut records)?;
        } else {
            let text = std::fs::read_to_string(&f).map_err(|source| DbError::Io {
                path: f.clone(),
                source,
            })?;
            records.push(parse_record(&f.display().to_string(), &text)?);
        }
    }
    Ok(records)
}

/// Which id to keep as primary when records merge: the ecosystem's own database first.
fn id_rank(id: &str) -> u8 {
    if id.starts_with("RUSTSEC-") || id.starts_with("PYSEC-") || id.starts_with("GO-") {
        0
    } else if id.starts_with("GHSA-") {
        2
    } else if id.starts_with("CVE-") {
        3
    } else {
        1
    }
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn compile_one(r: &OsvRecord, stats: &mut ImportStats) -> Advisory {
    let mut informational = None;
    let mut affected = Vec::new();
    for a in &r.affected {
        if let Some(kind) = a
            .database_specific
            .as_ref()
            .and_then(|d| d.get("informational"))
            .and_then(|v| v.as_str())
        {
            informational = Some(kind.to_string());
        }
        let Some(pkg) = &a.package else { continue };
        let Some(ecosystem) = Ecosystem::from_osv(&pkg.ecosystem) else {
            stats.unsupported_ecosystem += 1;
            continue;
        };
        let ranges = a
            .ranges
            .iter()
            .filter(|r| r.kind == "SEMVER" || r.kind == "ECOSYSTEM")
            .map(|r| {
                r.events
                    .iter()
                    .flat_map(|e| e.iter())
                    .filter_map(|(k, v)| match k.as_str() {
                        "introduced" => Some(Event::Introduced(v.clone())),
                        "fixed" => Some(Event::Fixed(v.clone())),
                        "last_affected" => Some(Event::LastAffected(v.clone())),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let mut f = Affected {
            ecosystem,
            name: ecosystem.normalize_name(&pkg.name),
            ranges,
            versions: a.versions.clone(),
        };
        f.compile();
        affected.push(f);
    }
    let scores = r
        .severity
        .iter()
        .chain(r.affected.iter().flat_map(|a| a.severity.iter()));
    let severity = if informational.is_some() {
        Severity::Informational
    } else {
        severity::from_scores(scores.map(|s| (s.kind.as_str(), s.score.as_str())))
            .or_else(|| {
                r.database_specific
                    .as_ref()
                    .and_then(|d| d.get("severity"))
                    .and_then(|v| v.as_str())
                    .and_then(severity::from_word)
            })
            // An advisory without any rating is still a vulnerability: rate it in the middle.
            .unwrap_or(Severity::Medium)
    };
    Advisory {
        id: r.id.clone(),
        aliases: r.aliases.clone(),
        summary: r.summary.clone().unwrap_or_default(),
        severity,
        informational,
        modified: r.modified.clone(),
        affected,
    }
}

/// Compiles records into advisories: drops withdrawn ones and merges those sharing an id.
pub fn compile_records(records: Vec<OsvRecord>) -> (Vec<Advisory>, ImportStats) {
    let mut stats = ImportStats {
        records: records.len(),
        ..ImportStats::default()
    };
    let live: Vec<OsvRecord> = records
        .into_iter()
        .filter(|r| {
            let gone = r.withdrawn.as_deref().is_some_and(|w| !w.is_empty());
            stats.withdrawn += usize::from(gone);
            !gone
        })
        .collect();
    // Union-find over records: two records join when one names the other's id among its
    // aliases. Sharing only a third id (a CVE) is not enough: RustSec has distinct advisories
    // citing the same CVE. Two records of the same database never join.
    let mut parent: Vec<usize> = (0..live.len()).collect();
    let owner: HashMap<&str, usize> = live
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let database = |id: &str| id.split('-').next().unwrap_or(id).to_string();
    for (i, r) in live.iter().enumerate() {
        for alias in &r.aliases {
            let Some(&j) = owner.get(alias.as_str()) else {
                continue;
            };
            if database(&r.id) == database(&live[j].id) {
                continue;
            }
            let (a, b) = (find(&mut parent, i), find(&mut parent, j));
            if a != b {
                parent[a] = b;
            }
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..live.len() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(i);
    }
    let mut out = Vec::with_capacity(groups.len());
    for (_, mut members) in groups {
        members.sort_by_key(|&i| (id_rank(&live[i].id), live[i].id.clone()));
        stats.merged += members.len() - 1;
        let mut adv = compile_one(&live[members[0]], &mut stats);
        for &m in &members[1..] {
            let other = compile_one(&live[m], &mut stats);
            adv.aliases.push(other.id.clone());
            adv.aliases.extend(other.aliases);
            // Keep the primary's view of a package; add packages only the others cover.
            for f in other.affected {
                if !adv
                    .affected
                    .iter()
                    .any(|a| a.ecosystem == f.ecosystem && a.name == f.name)
                {
                    adv.affected.push(f);
                }
            }
            if adv.informational.is_none() {
                adv.severity = adv.severity.max(other.severity);
            }
            adv.modified = adv.modified.max(other.modified);
        }
        let primary = adv.id.clone();
        adv.aliases.retain(|a| *a != primary);
        adv.aliases.sort();
        adv.aliases.dedup();
        stats.informational += usize::from(adv.informational.is_some());
        out.push(adv);
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    stats.advisories = out.len();
    (out, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(json: &str) -> OsvRecord {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn merges_aliases_drops_withdrawn_flags_informational() {
        // RUSTSEC-2024-0003 shares CVE-1 and even names RUSTSEC-2024-0001, but two advisories
        // of one database stay apart.
        let records = vec![
            rec(
                r#"{"id":"GHSA-aaaa","modified":"2024-01-02T00:00:00Z","aliases":["CVE-1"],"database_specific":{"severity":"HIGH"},
                "affected":[{"package":{"ecosystem":"crates.io","name":"foo"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}"#,
            ),
            rec(
                r#"{"id":"RUSTSEC-2024-0001","modified":"2024-01-01T00:00:00Z","aliases":["CVE-1","GHSA-aaaa"],
                "affected":[{"package":{"ecosystem":"crates.io","name":"foo"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0.0.0-0"},{"fixed":"1.0.1"}]}]}]}"#,
            ),
            rec(
                r#"{"id":"RUSTSEC-2024-0002","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-02-01T00:00:00Z","affected":[]}"#,
            ),
            rec(
                r#"{"id":"RUSTSEC-2024-0003","modified":"2024-01-01T00:00:00Z","aliases":["CVE-1","RUSTSEC-2024-0001"],
                "affected":[{"package":{"ecosystem":"crates.io","name":"bar"},"database_specific":{"informational":"unmaintained"},"ranges":[]}]}"#,
            ),
        ];
        let (advs, stats) = compile_records(records);
        assert_eq!(
            (
                stats.records,
                stats.withdrawn,
                stats.merged,
                stats.advisories,
                stats.informational
            ),
            (4, 1, 1, 2, 1)
        );
        let foo = &advs[0];
        assert_eq!(foo.id, "RUSTSEC-2024-0001");
        assert_eq!(foo.aliases, vec!["CVE-1", "GHSA-aaaa"]);
        assert_eq!(foo.severity, Severity::High);
        assert_eq!(foo.modified, "2024-01-02T00:00:00Z");
        assert_eq!(foo.affected[0].fixed().collect::<Vec<_>>(), vec!["1.0.1"]);
        assert_eq!(advs[1].informational.as_deref(), Some("unmaintained"));
        assert_eq!(advs[1].severity, Severity::Informational);
    }
}
