//! The table report.

use std::fmt::Write;

use crate::scan::ScanReport;

/// Aligned columns, one finding per line, and a summary line.
pub fn table_report(report: &ScanReport) -> String {
    let header = [
        "SEVERITY", "ID", "PACKAGE", "VERSION", "FIXED", "LOCATION", "VIA",
    ];
    let rows: Vec<[String; 7]> = report
        .findings
        .iter()
        .map(|f| {
            let sev = match &f.informational {
                Some(kind) => kind.clone(),
                None => f.severity.as_str().to_string(),
            };
            let fixed = if f.fixed.is_empty() {
                "-".to_string()
            } else {
                f.fixed.join(", ")
            };
            let location = if f.line > 0 {
                format!("{}:{}", f.lockfile, f.line)
            } else {
                f.lockfile.clone()
            };
            [
                sev,
                f.id.clone(),
                f.package.clone(),
                f.version.clone(),
                fixed,
                location,
                f.via.join(", "),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    if !rows.is_empty() {
        line(&header);
        for r in &rows {
            line(&r.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
    let _ = writeln!(
        out,
        "{} finding(s), {} ignored, in {} package(s) from {} lockfile(s); advisories as of {}",
        report.findings.len(),
        report.ignored.len(),
        report.packages,
        report.lockfiles,
        if report.db_as_of.is_empty() {
            "unknown"
        } else {
            &report.db_as_of
        }
    );
    out
}
