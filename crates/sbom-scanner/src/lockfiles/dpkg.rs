//! Debian's dpkg status database (`/var/lib/dpkg/status`).
//!
//! RFC 822-style paragraphs; only packages whose `Status` ends in `installed` count.
//! `Depends` and `Pre-Depends` give the edges (the first installed alternative of each `|`).

use std::collections::HashMap;
use std::path::Path;

use super::LockfileError;
use crate::inventory::{Ecosystem, Inventory, LockfileKind, Package};

/// A paragraph's first line and its fields.
pub(crate) type Fields = (usize, HashMap<String, String>);

struct Paragraph {
    line: usize,
    fields: HashMap<String, String>,
}

/// Splits RFC 822-style text into paragraphs of fields, joining continuation lines.
pub(crate) fn paragraphs(path: &Path, text: &str, sep: char) -> Result<Vec<Fields>, LockfileError> {
    let mut out = Vec::new();
    let mut cur: Option<Paragraph> = None;
    let mut last_key = String::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if let Some(p) = cur.take() {
                out.push((p.line, p.fields));
            }
            continue;
        }
        let p = cur.get_or_insert_with(|| Paragraph {
            line: i + 1,
            fields: HashMap::new(),
        });
        if line.starts_with([' ', '\t']) {
            if let Some(v) = p.fields.get_mut(&last_key) {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        let Some((k, v)) = line.split_once(sep) else {
            return Err(LockfileError::syntax(
                path,
                i + 1,
                format!("expected `Field{sep} value`, found `{line}`"),
            ));
        };
        last_key = k.to_string();
        p.fields.insert(last_key.clone(), v.trim().to_string());
    }
    if let Some(p) = cur.take() {
        out.push((p.line, p.fields));
    }
    Ok(out)
}

/// Parses a dpkg status file.
pub fn parse_dpkg_status(path: &Path, text: &str) -> Result<Inventory, LockfileError> {
    let mut inv = Inventory::new(path, LockfileKind::DpkgStatus);
    let mut depends: Vec<String> = Vec::new();
    for (line, f) in paragraphs(path, text, ':')? {
        let installed = f.get("Status").is_some_and(|s| s.ends_with(" installed"));
        let (Some(name), Some(version)) = (f.get("Package"), f.get("Version")) else {
            if installed {
                return Err(LockfileError::syntax(
                    path,
                    line,
                    "installed package without Package or Version",
                ));
            }
            continue;
        };
        if !installed {
            continue;
        }
        let mut p = Package::new(name, version, Ecosystem::Debian, line);
        if let Some(arch) = f.get("Architecture") {
            p.qualifiers.push(("arch".into(), arch.clone()));
        }
        inv.push(p);
        let mut d = f.get("Pre-Depends").cloned().unwrap_or_default();
        if let Some(x) = f.get("Depends") {
            d.push(',');
            d.push_str(x);
        }
        depends.push(d);
    }
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (i, p) in inv.packages.iter().enumerate() {
        by_name.entry(p.name.clone()).or_insert(i);
    }
    for (from, d) in depends.iter().enumerate() {
        for clause in d.split(',') {
            let target = clause.split('|').find_map(|alt| {
                let name = alt.split_whitespace().next()?.split(':').next()?;
                by_name.get(name).copied()
            });
            if let Some(t) = target {
                inv.deps[from].push(t);
            }
        }
    }
    inv.normalize_edges();
    inv.mark_roots_direct();
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_only_with_alternatives() {
        let text = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u4\nDescription: GNU C Library\n multi-line\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\nPre-Depends: libc6 (>= 2.36), libtinfo6 (>= 6)\nDepends: base-files (>= 2.1.12) | libc6:amd64, debianutils (>= 5.6-0.1)\n";
        let inv = parse_dpkg_status(Path::new("var/lib/dpkg/status"), text).unwrap();
        let got: Vec<(&str, &str, usize)> = inv
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.line))
            .collect();
        assert_eq!(
            got,
            vec![("libc6", "2.36-9+deb12u4", 1), ("bash", "5.2.15-2+b2", 12)]
        );
        assert_eq!(inv.deps[1], vec![0]);
        assert!(inv.packages[1].direct && !inv.packages[0].direct);
        assert_eq!(
            inv.packages[1].purl(),
            "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64"
        );
    }
}
