//! pnpm-lock.yaml, lockfile versions 5.x, 6.x and 9.x.
//!
//! Package keys changed across versions: `/name/1.0.0_peer` (5), `/name@1.0.0(peer)` (6),
//! `name@1.0.0` with a separate `snapshots` map (9). All are reduced to `name@version`.

use std::collections::HashMap;
use std::path::Path;

use serde_yaml_ng::{Mapping, Value};

use super::{LockfileError, sri_checksum};
use crate::inventory::{Ecosystem, Inventory, LockfileKind, Package, Scope};

/// Splits a package key into name and version, dropping the peer-dependency suffix.
fn split_key(key: &str, v5: bool) -> Option<(String, String)> {
    let k = key.trim_start_matches('/');
    let k = k.split('(').next().unwrap_or(k);
    if v5 {
        let (name, version) = k.rsplit_once('/')?;
        let version = version.split('_').next().unwrap_or(version);
        Some((name.to_string(), version.to_string()))
    } else {
        let from = usize::from(k.starts_with('@'));
        let at = k[from..].find('@')? + from;
        Some((k[..at].to_string(), k[at + 1..].to_string()))
    }
}

/// The key a dependency `name: version` refers to, in the shape `split_key` reads.
fn dep_key(name: &str, version: &str, v5: bool) -> String {
    // A version starting with `/` or `link:` names another key (an alias) or a local path.
    if let Some(rest) = version.strip_prefix('/') {
        return format!("/{rest}");
    }
    if v5 {
        format!("/{name}/{version}")
    } else {
        format!("{name}@{version}")
    }
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Mapping(m) => m.get("version").and_then(str_of),
        _ => None,
    }
}

/// Parses a pnpm-lock.yaml.
pub fn parse_pnpm_lock(path: &Path, text: &str) -> Result<Inventory, LockfileError> {
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| {
        LockfileError::syntax(
            path,
            e.location().map_or(0, |l| l.line()),
            format!("invalid YAML: {e}"),
        )
    })?;
    let version = doc
        .get("lockfileVersion")
        .and_then(str_of)
        .unwrap_or_default();
    let v5 = version.starts_with('5') || version.starts_with('4') || version.starts_with('3');
    let empty = Mapping::new();
    let packages = doc
        .get("packages")
        .and_then(Value::as_mapping)
        .unwrap_or(&empty);
    let snapshots = doc.get("snapshots").and_then(Value::as_mapping);
    let mut snapshot_of: HashMap<(String, String), Vec<&Value>> = HashMap::new();
    for (sk, sv) in snapshots.into_iter().flatten() {
        if let Some(nv) = sk.as_str().and_then(|x| split_key(x, false)) {
            snapshot_of.entry(nv).or_default().push(sv);
        }
    }

    // Lines of the keys directly under `packages:` (two-space indent).
    let mut key_lines: HashMap<String, usize> = HashMap::new();
    let mut in_packages = false;
    for (i, line) in text.lines().enumerate() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_packages = line.trim_end() == "packages:";
            continue;
        }
        if in_packages
            && line.starts_with("  ")
            && !line.starts_with("   ")
            && line.trim_end().ends_with(':')
        {
            let k = line.trim().trim_end_matches(':');
            let k = k.trim_matches('\'').trim_matches('"');
            key_lines.insert(k.to_string(), i + 1);
        }
    }

    let mut inv = Inventory::new(path, LockfileKind::PnpmLock);
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut raw_deps: Vec<Vec<(String, String)>> = Vec::new();
    for (k, v) in packages {
        let Some(key) = k.as_str() else { continue };
        let Some((name, mut ver)) = split_key(key, v5) else {
            return Err(LockfileError::syntax(
                path,
                key_lines.get(key).copied().unwrap_or(0),
                format!("cannot read package key `{key}`"),
            ));
        };
        if let Some(explicit) = v.get("version").and_then(str_of) {
            ver = explicit;
        }
        let name = v.get("name").and_then(str_of).unwrap_or(name);
        let mut p = Package::new(
            &name,
            &ver,
            Ecosystem::Npm,
            key_lines.get(key).copied().unwrap_or(0),
        );
        if let Some(sri) = v
            .get("resolution")
            .and_then(|r| r.get("integrity"))
            .and_then(Value::as_str)
        {
            p.checksum = sri_checksum(sri);
        }
        let flag = |f: &str| v.get(f).and_then(Value::as_bool).unwrap_or(false);
        p.scope = if flag("dev") {
            Scope::Dev
        } else if flag("optional") {
            Scope::Optional
        } else {
            Scope::Required
        };
        let idx = inv.push(p);
        index.insert((name.clone(), ver.clone()), idx);
        // In v9, edges live in `snapshots`, keyed by the full key with peers.
        let mut deps = Vec::new();
        let sources: Vec<&Value> = match snapshots {
            Some(_) => snapshot_of
                .get(&(name.clone(), ver.clone()))
                .cloned()
                .unwrap_or_default(),
            None => vec![v],
        };
        for src in sources {
            for field in ["dependencies", "optionalDependencies"] {
                if let Some(m) = src.get(field).and_then(Value::as_mapping) {
                    for (dn, dv) in m {
                        if let (Some(dn), Some(dv)) = (dn.as_str(), str_of(dv)) {
                            deps.push((dn.to_string(), dv));
                        }
                    }
                }
            }
        }
        raw_deps.push(deps);
    }
    let resolve = |name: &str, version: &str| -> Option<usize> {
        let (n, v) = split_key(&dep_key(name, version, v5), v5)?;
        index.get(&(n, v)).copied()
    };
    for (from, deps) in raw_deps.iter().enumerate() {
        for (n, v) in deps {
            if let Some(t) = resolve(n, v) {
                inv.deps[from].push(t);
            }
        }
    }

    // Importers (v5.3+) or top-level fields (older, single project) hold the project's own deps.
    let mut importers: Vec<&Value> = Vec::new();
    if let Some(m) = doc.get("importers").and_then(Value::as_mapping) {
        importers.extend(m.values());
    } else {
        importers.push(&doc);
    }
    for imp in importers {
        for (field, scope) in [
            ("dependencies", Scope::Required),
            ("optionalDependencies", Scope::Optional),
            ("devDependencies", Scope::Dev),
        ] {
            let Some(m) = imp.get(field).and_then(Value::as_mapping) else {
                continue;
            };
            for (dn, dv) in m {
                let (Some(dn), Some(dv)) = (dn.as_str(), str_of(dv)) else {
                    continue;
                };
                if let Some(t) = resolve(dn, &dv) {
                    inv.packages[t].direct = true;
                    if scope == Scope::Optional && inv.packages[t].scope == Scope::Required {
                        inv.packages[t].scope = scope;
                    }
                }
            }
        }
    }
    inv.normalize_edges();
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_each_version() {
        assert_eq!(
            split_key("/@babel/core/7.16.0", true),
            Some(("@babel/core".into(), "7.16.0".into()))
        );
        assert_eq!(
            split_key("/@babel/helper/7.16.3_@babel+core@7.16.0", true),
            Some(("@babel/helper".into(), "7.16.3".into()))
        );
        assert_eq!(
            split_key("/@babel/core@7.16.0(x@1)", false),
            Some(("@babel/core".into(), "7.16.0".into()))
        );
        assert_eq!(
            split_key("lodash@4.17.21", false),
            Some(("lodash".into(), "4.17.21".into()))
        );
    }

    #[test]
    fn v9_snapshots_and_importers() {
        let text = "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      a:\n        specifier: ^1.0.0\n        version: 1.0.0\n\npackages:\n\n  a@1.0.0:\n    resolution: {integrity: sha1-n0QmW9bXpXZdEUZxtAHgzOFHKHg=}\n\n  b@2.0.0:\n    resolution: {integrity: sha1-n0QmW9bXpXZdEUZxtAHgzOFHKHg=}\n\nsnapshots:\n\n  a@1.0.0:\n    dependencies:\n      b: 2.0.0\n\n  b@2.0.0: {}\n";
        let inv = parse_pnpm_lock(Path::new("pnpm-lock.yaml"), text).unwrap();
        assert_eq!(inv.packages.len(), 2);
        assert_eq!(inv.packages[0].line, 13);
        assert!(inv.packages[0].direct && !inv.packages[1].direct);
        assert_eq!(inv.deps[0], vec![1]);
    }
}
