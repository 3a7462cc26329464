//! The subset of the OSV schema (ossf.github.io/osv-schema) read on import.

use serde::Deserialize;
use serde_json::Value;

/// One OSV record as published.
#[derive(Debug, Clone, Deserialize)]
pub struct OsvRecord {
    /// Advisory id (`RUSTSEC-…`, `GHSA-…`).
    pub id: String,
    /// Last modification time (RFC 3339).
    #[serde(default)]
    pub modified: String,
    /// Set when the record was withdrawn.
    #[serde(default)]
    pub withdrawn: Option<String>,
    /// Other ids of the same vulnerability.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// One-line summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Severity scores.
    #[serde(default)]
    pub severity: Vec<OsvSeverity>,
    /// Affected packages.
    #[serde(default)]
    pub affected: Vec<OsvAffected>,
    /// Database-specific data (GHSA's `severity` lives here).
    #[serde(default)]
    pub database_specific: Option<Value>,
}

/// A severity score.
#[derive(Debug, Clone, Deserialize)]
pub struct OsvSeverity {
    /// `CVSS_V3`, `CVSS_V4`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector.
    pub score: String,
}

/// One affected package.
#[derive(Debug, Clone, Deserialize)]
pub struct OsvAffected {
    /// The package.
    #[serde(default)]
    pub package: Option<OsvPackage>,
    /// Version ranges.
    #[serde(default)]
    pub ranges: Vec<OsvRange>,
    /// Explicitly listed affected versions.
    #[serde(default)]
    pub versions: Vec<String>,
    /// Per-package database data (RustSec's `informational` lives here).
    #[serde(default)]
    pub database_specific: Option<Value>,
    /// Per-package severity (rare).
    #[serde(default)]
    pub severity: Vec<OsvSeverity>,
}

/// A package coordinate.
#[derive(Debug, Clone, Deserialize)]
pub struct OsvPackage {
    /// OSV ecosystem.
    pub ecosystem: String,
    /// Name in that ecosystem.
    pub name: String,
}

/// A version range.
#[derive(Debug, Clone, Deserialize)]
pub struct OsvRange {
    /// `SEMVER`, `ECOSYSTEM` or `GIT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Events; each is one of `introduced`, `fixed`, `last_affected`, `limit`.
    #[serde(default)]
    pub events: Vec<std::collections::BTreeMap<String, String>>,
}
