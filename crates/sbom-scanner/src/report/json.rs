//! The JSON report.

use serde_json::{Value, json};

use crate::scan::ScanReport;

/// `{"findings":[{package, version, ecosystem, id, aliases, severity, fixed, lockfile, line, via}], ...}`.
pub fn json_report(report: &ScanReport) -> Value {
    json!({
        "findings": report.findings,
        "ignored": report.ignored,
        "summary": {
            "lockfiles": report.lockfiles,
            "packages": report.packages,
            "findings": report.findings.len(),
            "ignored": report.ignored.len(),
            "db_as_of": report.db_as_of,
        },
    })
}
