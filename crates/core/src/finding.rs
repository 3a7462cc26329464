//! Scan findings and source checkpoints: the other records the store keeps.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::alert::Severity;

/// A known vulnerability found in a package at a location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanFinding {
    /// Deterministic id from location, package, version and advisory (see [`ScanFinding::derive_id`]).
    pub id: String,
    /// The host that scanned.
    pub host: String,
    /// Package name.
    pub package: String,
    /// Installed version.
    pub version: String,
    /// OSV ecosystem name (`crates.io`, `npm`, `PyPI`, ...).
    pub ecosystem: String,
    /// Advisory id.
    pub advisory_id: String,
    /// Other ids of the same advisory.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Severity.
    pub severity: Severity,
    /// Versions that fix it.
    #[serde(default)]
    pub fixed: Vec<String>,
    /// Lockfile path, image or container it was found in.
    pub location: String,
    /// When it was first seen.
    pub first_seen: DateTime<Utc>,
}

impl ScanFinding {
    /// The id of a finding: stable across scans, so a rescan does not duplicate it.
    pub fn derive_id(location: &str, package: &str, version: &str, advisory_id: &str) -> String {
        let mut h = Sha256::new();
        for part in [location, package, version, advisory_id] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// How far a file source has read: device, inode and byte offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCheckpoint {
    /// The source's key (its name and the file path).
    pub source: String,
    /// Device number of the file.
    pub device: u64,
    /// Inode number of the file.
    pub inode: u64,
    /// Byte offset of the next unread byte.
    pub offset: u64,
    /// When it was written.
    pub updated_at: DateTime<Utc>,
}
