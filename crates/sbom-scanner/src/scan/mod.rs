//! Matching inventories against the vulnerability database.
//!
//! A finding names the package, the advisory (with aliases, severity and fixes), where the
//! package is declared (lockfile and line) and the direct dependencies that pull it in.

mod ignore;

use chrono::{DateTime, NaiveDate, Utc};
use ironpost_core::alert::Severity;
use ironpost_core::finding::ScanFinding;
use serde::Serialize;

pub use ignore::{IgnoreError, IgnoreList, IgnoreRule};

use crate::inventory::{Ecosystem, Inventory};
use crate::versions;
use crate::vulndb::VulnDb;

/// One vulnerable package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Package name.
    pub package: String,
    /// Installed version.
    pub version: String,
    /// Ecosystem.
    pub ecosystem: Ecosystem,
    /// Advisory id.
    pub id: String,
    /// Other ids of the advisory.
    pub aliases: Vec<String>,
    /// Severity.
    pub severity: Severity,
    /// RustSec informational kind, when the advisory is a warning rather than a vulnerability.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub informational: Option<String>,
    /// Advisory summary.
    pub summary: String,
    /// Versions that fix it, lowest first.
    pub fixed: Vec<String>,
    /// The lockfile declaring the package.
    pub lockfile: String,
    /// Line of the declaration (0 when the format has none).
    pub line: usize,
    /// Direct dependencies (`name@version`) through which the package is installed.
    pub via: Vec<String>,
}

impl Finding {
    /// The record the store keeps for this finding.
    pub fn to_scan_finding(&self, host: &str, first_seen: DateTime<Utc>) -> ScanFinding {
        ScanFinding {
            id: ScanFinding::derive_id(&self.lockfile, &self.package, &self.version, &self.id),
            host: host.to_string(),
            package: self.package.clone(),
            version: self.version.clone(),
            ecosystem: self.ecosystem.osv_name().to_string(),
            advisory_id: self.id.clone(),
            aliases: self.aliases.clone(),
            severity: self.severity,
            fixed: self.fixed.clone(),
            location: self.lockfile.clone(),
            first_seen,
        }
    }
}

/// A finding an ignore rule accepted.
#[derive(Debug, Clone, Serialize)]
pub struct IgnoredFinding {
    /// The finding.
    #[serde(flatten)]
    pub finding: Finding,
    /// The rule's reason.
    pub reason: String,
    /// The rule's expiry date.
    pub expires: NaiveDate,
}

/// The result of a scan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanReport {
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Findings accepted by the ignore file.
    pub ignored: Vec<IgnoredFinding>,
    /// Lockfiles scanned.
    pub lockfiles: usize,
    /// Packages checked.
    pub packages: usize,
    /// As-of date of the advisory data.
    pub db_as_of: String,
}

impl ScanReport {
    /// Whether some finding is at or above `threshold`.
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= threshold)
    }
}

/// Matches every package of `inventories` against `db`, applying `ignore` as of `today`.
pub fn scan(
    inventories: &[Inventory],
    db: &VulnDb,
    ignore: &IgnoreList,
    today: NaiveDate,
) -> ScanReport {
    let mut report = ScanReport {
        lockfiles: inventories.len(),
        db_as_of: db.meta.as_of.clone(),
        ..ScanReport::default()
    };
    for inv in inventories {
        report.packages += inv.packages.len();
        let mut parents: Option<Vec<Vec<usize>>> = None;
        for (i, p) in inv.packages.iter().enumerate() {
            for (adv, aff) in db.matching(p.ecosystem, &p.name, &p.version) {
                let parents = parents.get_or_insert_with(|| inv.parents());
                let via = inv
                    .via(parents, i)
                    .into_iter()
                    .map(|d| format!("{}@{}", inv.packages[d].name, inv.packages[d].version))
                    .collect();
                let mut fixed: Vec<String> = aff.fixed().map(str::to_string).collect();
                fixed.sort_by(|a, b| versions::compare(p.ecosystem, a, b));
                fixed.dedup();
                let finding = Finding {
                    package: p.name.clone(),
                    version: p.version.clone(),
                    ecosystem: p.ecosystem,
                    id: adv.id.clone(),
                    aliases: adv.aliases.clone(),
                    severity: adv.severity,
                    informational: adv.informational.clone(),
                    summary: adv.summary.clone(),
                    fixed,
                    lockfile: inv.path.display().to_string(),
                    line: p.line,
                    via,
                };
                match ignore.find(adv, &p.name, today) {
                    Some(rule) => report.ignored.push(IgnoredFinding {
                        finding,
                        reason: rule.reason.clone(),
                        expires: rule.expires,
                    }),
                    None => report.findings.push(finding),
                }
            }
        }
    }
    report.findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.package.cmp(&b.package))
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.lockfile.cmp(&b.lockfile))
    });
    report
}
