//! Scan report formats: a table for people, JSON for scripts, SARIF 2.1.0 for code hosts.

mod json;
mod sarif;
mod table;

pub use json::json_report;
pub use sarif::sarif_report;
pub use table::table_report;

use crate::scan::ScanReport;

/// The report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Aligned text.
    Table,
    /// `{"findings":[...]}`.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

impl std::str::FromStr for ReportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "table" => Ok(ReportFormat::Table),
            "json" => Ok(ReportFormat::Json),
            "sarif" => Ok(ReportFormat::Sarif),
            other => Err(format!(
                "unknown report format `{other}` (expected table, json or sarif)"
            )),
        }
    }
}

/// Renders `report` as `format`.
pub fn render(format: ReportFormat, report: &ScanReport) -> String {
    match format {
        ReportFormat::Table => table_report(report),
        ReportFormat::Json => {
            serde_json::to_string_pretty(&json_report(report)).expect("JSON values serialise")
        }
        ReportFormat::Sarif => {
            serde_json::to_string_pretty(&sarif_report(report)).expect("JSON values serialise")
        }
    }
}

/// A web page describing advisory `id`.
pub fn advisory_url(id: &str) -> String {
    if id.starts_with("RUSTSEC-") {
        format!("https://rustsec.org/advisories/{id}.html")
    } else if id.starts_with("GHSA-") {
        format!("https://github.com/advisories/{id}")
    } else {
        format!("https://osv.dev/vulnerability/{id}")
    }
}
