//! composer.lock.
//!
//! `packages` and `packages-dev` hold every installed package; which ones the project asks for
//! is in composer.json, so packages nothing else requires are taken as direct.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::{LockfileError, prefixed_hex_checksum};
use crate::inventory::{Ecosystem, Inventory, LockfileKind, Package, Scope};

/// Parses a composer.lock.
pub fn parse_composer_lock(path: &Path, text: &str) -> Result<Inventory, LockfileError> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| LockfileError::syntax(path, e.line(), format!("invalid JSON: {e}")))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut cursor = 0;
    let mut inv = Inventory::new(path, LockfileKind::ComposerLock);
    let mut requires: Vec<Vec<String>> = Vec::new();
    for (section, scope) in [("packages", Scope::Required), ("packages-dev", Scope::Dev)] {
        let Some(list) = doc.get(section).and_then(Value::as_array) else {
            continue;
        };
        for entry in list {
            let get = |k: &str| entry.get(k).and_then(Value::as_str);
            let (Some(name), Some(version)) = (get("name"), get("version")) else {
                return Err(LockfileError::syntax(
                    path,
                    0,
                    format!("an entry of `{section}` lacks name or version"),
                ));
            };
            // Entries are written in order, each starting with its "name" line.
            let needle = format!("\"name\": \"{name}\"");
            let line = (cursor..lines.len()).find(|&i| lines[i].contains(&needle));
            if let Some(l) = line {
                cursor = l + 1;
            }
            let mut p = Package::new(
                name,
                version.trim_start_matches('v'),
                Ecosystem::Packagist,
                line.map_or(0, |l| l + 1),
            );
            p.scope = scope;
            if let Some(lic) = entry.get("license").and_then(Value::as_array) {
                let ids: Vec<&str> = lic.iter().filter_map(Value::as_str).collect();
                if !ids.is_empty() {
                    p.license = Some(if ids.len() == 1 {
                        ids[0].to_string()
                    } else {
                        format!("({})", ids.join(" OR "))
                    });
                }
            }
            p.checksum = entry
                .get("dist")
                .and_then(|d| d.get("shasum"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .and_then(prefixed_hex_checksum);
            inv.push(p);
            let req = entry
                .get("require")
                .and_then(Value::as_object)
                .map(|m| m.keys().map(|k| k.to_ascii_lowercase()).collect())
                .unwrap_or_default();
            requires.push(req);
        }
    }
    let by_name: HashMap<String, usize> = inv
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.to_ascii_lowercase(), i))
        .collect();
    for (from, req) in requires.iter().enumerate() {
        for r in req {
            if let Some(&t) = by_name.get(r) {
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
    fn packages_and_dev() {
        let text = r#"{
    "packages": [
        {
            "name": "guzzlehttp/guzzle",
            "version": "7.3.0",
            "require": {"php": ">=7.2", "guzzlehttp/psr7": "^1.7"},
            "license": ["MIT"]
        },
        {
            "name": "guzzlehttp/psr7",
            "version": "1.8.1",
            "dist": {"shasum": "35ea11d335fd638b5882ff1725228b3d35496ab1"}
        }
    ],
    "packages-dev": [
        {"name": "phpunit/phpunit", "version": "v9.5.4"}
    ]
}"#;
        let inv = parse_composer_lock(Path::new("composer.lock"), text).unwrap();
        let got: Vec<(&str, &str, bool, usize, Scope)> = inv
            .packages
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.version.as_str(),
                    p.direct,
                    p.line,
                    p.scope,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("guzzlehttp/guzzle", "7.3.0", true, 4, Scope::Required),
                ("guzzlehttp/psr7", "1.8.1", false, 10, Scope::Required),
                ("phpunit/phpunit", "9.5.4", true, 16, Scope::Dev),
            ]
        );
        assert_eq!(
            inv.packages[1].checksum.as_ref().unwrap().algorithm,
            "SHA-1"
        );
    }
}
