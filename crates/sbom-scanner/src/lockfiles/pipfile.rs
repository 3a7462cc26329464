//! Pipfile.lock.
//!
//! The lock lists every installed package in `default` or `develop` without the graph, so
//! each one is treated as direct (its own `via`).

use std::path::Path;

use serde_json::Value;

use super::{LockfileError, prefixed_hex_checksum};
use crate::inventory::{Ecosystem, Inventory, LockfileKind, Package, Scope};

/// Parses a Pipfile.lock.
pub fn parse_pipfile_lock(path: &Path, text: &str) -> Result<Inventory, LockfileError> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| LockfileError::syntax(path, e.line(), format!("invalid JSON: {e}")))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut inv = Inventory::new(path, LockfileKind::PipfileLock);
    for (section, scope) in [("default", Scope::Required), ("develop", Scope::Dev)] {
        let Some(map) = doc.get(section).and_then(Value::as_object) else {
            continue;
        };
        let section_line = lines
            .iter()
            .position(|l| l.trim_start().starts_with(&format!("\"{section}\":")))
            .unwrap_or(0);
        for (name, entry) in map {
            // Packages from VCS or paths have no `version`; nothing to match them against.
            let Some(version) = entry.get("version").and_then(Value::as_str) else {
                continue;
            };
            let needle = format!("\"{name}\":");
            let line = (section_line..lines.len())
                .find(|&i| lines[i].trim_start().starts_with(&needle))
                .map_or(0, |i| i + 1);
            let mut p = Package::new(
                name,
                version.trim_start_matches("=="),
                Ecosystem::PyPI,
                line,
            );
            p.scope = scope;
            p.direct = true;
            p.checksum = entry
                .get("hashes")
                .and_then(Value::as_array)
                .and_then(|h| h.first())
                .and_then(Value::as_str)
                .and_then(prefixed_hex_checksum);
            inv.push(p);
        }
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_develop() {
        let text = r#"{
    "_meta": {"hash": {"sha256": "x"}, "pipfile-spec": 6},
    "default": {
        "requests": {
            "hashes": ["sha256:55365417734eb18255590a9ff9eb97e9e1da868d4ccd6402399eaf68af20a760"],
            "version": "==2.32.3"
        },
        "mylib": {"git": "https://x/y.git", "ref": "abc"}
    },
    "develop": {
        "pytest": {"version": "==8.3.3"}
    }
}"#;
        let inv = parse_pipfile_lock(Path::new("Pipfile.lock"), text).unwrap();
        assert_eq!(inv.packages.len(), 2);
        let r = inv.packages.iter().find(|p| p.name == "requests").unwrap();
        assert_eq!(
            (r.version.as_str(), r.line, r.scope),
            ("2.32.3", 4, Scope::Required)
        );
        let t = inv.packages.iter().find(|p| p.name == "pytest").unwrap();
        assert_eq!((t.line, t.scope), (11, Scope::Dev));
    }
}
