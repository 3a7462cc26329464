//! The offline vulnerability database: OSV records imported from directories of JSON files or
//! per-ecosystem `all.zip` files, merged by alias, compiled into one compact index file.

mod advisory;
mod import;
pub mod osv;
pub mod severity;
pub mod update;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use advisory::{Advisory, Affected, Event};
pub use import::{ImportStats, compile_records, read_records};

use crate::inventory::Ecosystem;

/// The index file's name inside a database directory.
pub const INDEX_FILE: &str = "osv-index.json";
/// Bumped whenever the index layout changes; older files are refused with a re-import hint.
pub const INDEX_FORMAT: u32 = 1;

/// A database that could not be imported, read or written.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A record is not valid OSV JSON.
    #[error("{path}:{line}: not an OSV record: {message}")]
    Record {
        /// The file (or `zip!entry`).
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A zip archive is unreadable.
    #[error("{path}: not a readable zip archive: {message}")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No index in the directory.
    #[error("no vulnerability database in {0}: run `ironpost db import PATH... --db {0}` first")]
    Missing(PathBuf),
    /// The index exists but cannot be used.
    #[error("{path}: unusable vulnerability index ({message}); re-run `ironpost db import`")]
    BadIndex {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Facts about an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbMeta {
    /// Index layout version.
    pub format: u32,
    /// The newest `modified` time among the records: how current the data is.
    pub as_of: String,
    /// When the index was written.
    pub imported_at: String,
    /// Where the records came from.
    pub sources: Vec<String>,
    /// Import statistics.
    pub stats: ImportStats,
}

#[derive(Serialize, Deserialize)]
struct IndexFile {
    meta: DbMeta,
    advisories: Vec<Advisory>,
}

/// Advisories with a lookup by package.
#[derive(Debug, Clone)]
pub struct VulnDb {
    /// Facts about the data.
    pub meta: DbMeta,
    /// Every advisory.
    pub advisories: Vec<Advisory>,
    by_package: HashMap<(Ecosystem, String), Vec<(u32, u32)>>,
}

impl VulnDb {
    /// Builds the lookup over compiled advisories.
    pub fn new(meta: DbMeta, advisories: Vec<Advisory>) -> Self {
        let mut by_package: HashMap<(Ecosystem, String), Vec<(u32, u32)>> = HashMap::new();
        for (ai, a) in advisories.iter().enumerate() {
            for (fi, f) in a.affected.iter().enumerate() {
                by_package
                    .entry((f.ecosystem, f.name.clone()))
                    .or_default()
                    .push((ai as u32, fi as u32));
            }
        }
        VulnDb {
            meta,
            advisories,
            by_package,
        }
    }

    /// Imports OSV records from `paths` (directories, `.json` files, `.zip` archives).
    pub fn import(paths: &[PathBuf]) -> Result<Self, DbError> {
        let records = read_records(paths)?;
        let (advisories, stats) = compile_records(records);
        let as_of = advisories
            .iter()
            .map(|a| a.modified.as_str())
            .max()
            .unwrap_or("")
            .to_string();
        let meta = DbMeta {
            format: INDEX_FORMAT,
            as_of,
            imported_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            sources: paths.iter().map(|p| p.display().to_string()).collect(),
            stats,
        };
        Ok(VulnDb::new(meta, advisories))
    }

    /// Writes the index into `dir` (created if needed), replacing any previous one atomically.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, DbError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| DbError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let file = IndexFile {
            meta: self.meta.clone(),
            advisories: self.advisories.clone(),
        };
        let bytes = serde_json::to_vec(&file).expect("index serialises");
        let target = dir.join(INDEX_FILE);
        let tmp = dir.join(format!(".{INDEX_FILE}.tmp"));
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &target).map_err(io(&target))?;
        Ok(target)
    }

    /// Reads the index in `dir`.
    pub fn load(dir: &Path) -> Result<Self, DbError> {
        let path = dir.join(INDEX_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DbError::Missing(dir.to_path_buf()));
            }
            Err(source) => return Err(DbError::Io { path, source }),
        };
        let file: IndexFile = serde_json::from_slice(&bytes).map_err(|e| DbError::BadIndex {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if file.meta.format != INDEX_FORMAT {
            return Err(DbError::BadIndex {
                path,
                message: format!(
                    "format {} where {INDEX_FORMAT} is expected",
                    file.meta.format
                ),
            });
        }
        Ok(VulnDb::new(file.meta, file.advisories))
    }

    /// The advisories (with the matching affected entry) that apply to `name` at `version`.
    pub fn matching(
        &self,
        ecosystem: Ecosystem,
        name: &str,
        version: &str,
    ) -> Vec<(&Advisory, &Affected)> {
        let key = (ecosystem, ecosystem.normalize_name(name));
        let Some(hits) = self.by_package.get(&key) else {
            return Vec::new();
        };
        let mut out: Vec<(&Advisory, &Affected)> = Vec::new();
        for &(ai, fi) in hits {
            let a = &self.advisories[ai as usize];
            let f = &a.affected[fi as usize];
            if f.matches(version) && !out.iter().any(|(o, _)| o.id == a.id) {
                out.push((a, f));
            }
        }
        out
    }

    /// How old the data is at `now`, from its as-of date.
    pub fn age(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        let as_of = DateTime::parse_from_rfc3339(&self.meta.as_of).ok()?;
        Some(now - as_of.with_timezone(&Utc))
    }
}
