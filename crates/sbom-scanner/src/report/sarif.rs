//! SARIF 2.1.0: one rule per advisory, one result per finding located at the lockfile line.

use std::collections::BTreeMap;

use ironpost_core::alert::Severity;
use serde_json::{Value, json};

use super::advisory_url;
use crate::scan::ScanReport;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium | Severity::Low => "warning",
        Severity::Informational => "note",
    }
}

/// A representative CVSS-like number for code hosts that sort by `security-severity`.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Informational => "0.0",
    }
}

/// The SARIF log of `report`.
pub fn sarif_report(report: &ScanReport) -> Value {
    let mut rules: BTreeMap<&str, Value> = BTreeMap::new();
    for f in &report.findings {
        rules.entry(f.id.as_str()).or_insert_with(|| {
            json!({
                "id": f.id,
                "shortDescription": { "text": if f.summary.is_empty() { f.id.clone() } else { f.summary.clone() } },
                "helpUri": advisory_url(&f.id),
                "defaultConfiguration": { "level": level(f.severity) },
                "properties": { "security-severity": security_severity(f.severity), "tags": ["security", "vulnerability"], "aliases": f.aliases },
            })
        });
    }
    let rule_index: BTreeMap<&str, usize> =
        rules.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut physical = json!({ "artifactLocation": { "uri": f.lockfile } });
            if f.line > 0 {
                physical["region"] = json!({ "startLine": f.line });
            }
            let fix = if f.fixed.is_empty() { "no fixed version yet".to_string() } else { format!("fixed in {}", f.fixed.join(", ")) };
            json!({
                "ruleId": f.id,
                "ruleIndex": rule_index[f.id.as_str()],
                "level": level(f.severity),
                "message": { "text": format!("{} {} ({}) is affected by {}: {}; {}", f.package, f.version, f.ecosystem, f.id, f.summary, fix) },
                "locations": [{ "physicalLocation": physical }],
                "partialFingerprints": { "ironpost/v1": ironpost_core::finding::ScanFinding::derive_id(&f.lockfile, &f.package, &f.version, &f.id) },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "ironpost",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/ironpost",
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}
