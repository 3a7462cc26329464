//! The plain data every lockfile parser produces and every writer consumes.

use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A package ecosystem, named as OSV names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Ecosystem {
    /// Rust crates.
    #[serde(rename = "crates.io")]
    CratesIo,
    /// JavaScript packages.
    #[serde(rename = "npm")]
    Npm,
    /// Python packages.
    #[serde(rename = "PyPI")]
    PyPI,
    /// Go modules.
    #[serde(rename = "Go")]
    Go,
    /// Ruby gems.
    #[serde(rename = "RubyGems")]
    RubyGems,
    /// PHP Composer packages.
    #[serde(rename = "Packagist")]
    Packagist,
    /// Java Maven artifacts.
    #[serde(rename = "Maven")]
    Maven,
    /// Debian packages.
    #[serde(rename = "Debian")]
    Debian,
    /// Alpine packages.
    #[serde(rename = "Alpine")]
    Alpine,
}

impl Ecosystem {
    /// Every ecosystem.
    pub const ALL: [Ecosystem; 9] = [
        Ecosystem::CratesIo,
        Ecosystem::Npm,
        Ecosystem::PyPI,
        Ecosystem::Go,
        Ecosystem::RubyGems,
        Ecosystem::Packagist,
        Ecosystem::Maven,
        Ecosystem::Debian,
        Ecosystem::Alpine,
    ];

    /// The OSV ecosystem name.
    pub fn osv_name(self) -> &'static str {
        match self {
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Npm => "npm",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Go => "Go",
            Ecosystem::RubyGems => "RubyGems",
            Ecosystem::Packagist => "Packagist",
            Ecosystem::Maven => "Maven",
            Ecosystem::Debian => "Debian",
            Ecosystem::Alpine => "Alpine",
        }
    }

    /// Parses an OSV ecosystem name; OSV suffixes such as `Debian:12` or `Alpine:v3.19` keep the base.
    pub fn from_osv(name: &str) -> Option<Ecosystem> {
        let base = name.split(':').next().unwrap_or(name);
        Ecosystem::ALL.into_iter().find(|e| e.osv_name() == base)
    }

    /// The package name as the ecosystem compares it (PyPI normalises case and separators).
    pub fn normalize_name(self, name: &str) -> String {
        match self {
            Ecosystem::PyPI => {
                let mut out = String::with_capacity(name.len());
                let mut last_sep = false;
                for c in name.chars() {
                    if matches!(c, '-' | '_' | '.') {
                        if !last_sep {
                            out.push('-');
                        }
                        last_sep = true;
                    } else {
                        out.push(c.to_ascii_lowercase());
                        last_sep = false;
                    }
                }
                out
            }
            Ecosystem::Packagist => name.to_ascii_lowercase(),
            _ => name.to_string(),
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.osv_name())
    }
}

/// Why a package is in the tree, where the lockfile records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Needed at run time (or the format does not say).
    #[default]
    Required,
    /// Only for development or tests.
    Dev,
    /// Optional (extras, optional dependencies).
    Optional,
}

/// A digest of the package's archive, as hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    /// CycloneDX algorithm name (`SHA-256`, `SHA-512`, `SHA-1`).
    pub algorithm: String,
    /// Lowercase hex digest.
    pub hex: String,
}

/// One resolved package from a lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Name as the ecosystem spells it (`@scope/name` for npm, `vendor/name` for Composer).
    pub name: String,
    /// Resolved version.
    pub version: String,
    /// Ecosystem.
    pub ecosystem: Ecosystem,
    /// Whether the project itself depends on it.
    pub direct: bool,
    /// Scope where recorded.
    pub scope: Scope,
    /// 1-based line of the lockfile where the package is declared.
    pub line: usize,
    /// Archive checksum where the lockfile records one.
    pub checksum: Option<Checksum>,
    /// SPDX licence expression where the lockfile records one.
    pub license: Option<String>,
    /// Extra purl qualifiers (e.g. `arch`), already in key order.
    pub qualifiers: Vec<(String, String)>,
}

impl Package {
    /// A package with the given coordinates and defaults elsewhere.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        ecosystem: Ecosystem,
        line: usize,
    ) -> Self {
        Package {
            name: name.into(),
            version: version.into(),
            ecosystem,
            direct: false,
            scope: Scope::Required,
            line,
            checksum: None,
            license: None,
            qualifiers: Vec::new(),
        }
    }

    /// The package URL of this package.
    pub fn purl(&self) -> String {
        crate::purl::package_url(self)
    }
}

/// The kinds of lockfile understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockfileKind {
    /// Cargo.lock.
    CargoLock,
    /// package-lock.json or npm-shrinkwrap.json.
    NpmLock,
    /// yarn.lock, classic or berry.
    YarnLock,
    /// pnpm-lock.yaml.
    PnpmLock,
    /// poetry.lock.
    PoetryLock,
    /// uv.lock.
    UvLock,
    /// Pipfile.lock.
    PipfileLock,
    /// requirements*.txt.
    Requirements,
    /// go.mod (with go.sum beside it).
    GoMod,
    /// Gemfile.lock.
    GemfileLock,
    /// composer.lock.
    ComposerLock,
    /// Debian's /var/lib/dpkg/status.
    DpkgStatus,
    /// Alpine's /lib/apk/db/installed.
    ApkInstalled,
}

/// The packages of one lockfile and the edges between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// The lockfile read.
    pub path: PathBuf,
    /// Its format.
    pub kind: LockfileKind,
    /// The project's own name, where the lockfile names it.
    pub root_name: Option<String>,
    /// The project's own version, where the lockfile names it.
    pub root_version: Option<String>,
    /// Resolved packages, without the project itself.
    pub packages: Vec<Package>,
    /// `deps[i]` lists the indexes in `packages` that package `i` depends on.
    pub deps: Vec<Vec<usize>>,
}

impl Inventory {
    /// An empty inventory for `path`.
    pub fn new(path: impl Into<PathBuf>, kind: LockfileKind) -> Self {
        Inventory {
            path: path.into(),
            kind,
            root_name: None,
            root_version: None,
            packages: Vec::new(),
            deps: Vec::new(),
        }
    }

    /// Adds a package and returns its index.
    pub fn push(&mut self, package: Package) -> usize {
        self.packages.push(package);
        self.deps.push(Vec::new());
        self.packages.len() - 1
    }

    /// Sorts and deduplicates every edge list, dropping self-edges.
    pub fn normalize_edges(&mut self) {
        for (i, list) in self.deps.iter_mut().enumerate() {
            list.retain(|&j| j != i);
            list.sort_unstable();
            list.dedup();
        }
    }

    /// Marks as direct every package nothing else depends on, for formats that do not record it.
    pub fn mark_roots_direct(&mut self) {
        let mut has_parent = vec![false; self.packages.len()];
        for list in &self.deps {
            for &j in list {
                has_parent[j] = true;
            }
        }
        for (p, parent) in self.packages.iter_mut().zip(has_parent) {
            if !parent {
                p.direct = true;
            }
        }
    }

    /// For each package, the packages that depend on it.
    pub fn parents(&self) -> Vec<Vec<usize>> {
        let mut parents: Vec<Vec<usize>> = vec![Vec::new(); self.packages.len()];
        for (i, list) in self.deps.iter().enumerate() {
            for &j in list {
                parents[j].push(i);
            }
        }
        parents
    }

    /// The direct dependencies through which package `target` is reached.
    ///
    /// A direct package reports itself. `parents` comes from [`Inventory::parents`], computed
    /// once per inventory so that each call walks only the ancestors of `target`.
    pub fn via(&self, parents: &[Vec<usize>], target: usize) -> Vec<usize> {
        let mut seen = vec![false; self.packages.len()];
        let mut queue = VecDeque::from([target]);
        seen[target] = true;
        let mut out = Vec::new();
        while let Some(i) = queue.pop_front() {
            if self.packages[i].direct {
                out.push(i);
            }
            for &p in &parents[i] {
                if !seen[p] {
                    seen[p] = true;
                    queue.push_back(p);
                }
            }
        }
        out.sort_unstable();
        out
    }
}
