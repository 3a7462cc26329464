//! uv.lock.
//!
//! The project itself is the package whose source is `editable` or `virtual`; its
//! `dependencies` are the direct ones and its `dev-dependencies` groups are dev scope.

use std::collections::HashMap;
use std::path::Path;

use toml::Value;

use super::poetry::toml_error;
use super::{LockfileError, lines_starting_with, prefixed_hex_checksum};
use crate::inventory::{Ecosystem, Inventory, LockfileKind, Package, Scope};

fn dep_names(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|d| d.get("name").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn group_dep_names(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_table)
        .map(|t| t.values().flat_map(|g| dep_names(Some(g))).collect())
        .unwrap_or_default()
}

/// Parses a uv.lock.
pub fn parse_uv_lock(path: &Path, text: &str) -> Result<Inventory, LockfileError> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
    let headers = lines_starting_with(text, "[[package]]");
    let empty = Vec::new();
    let packages = doc
        .get("package")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut inv = Inventory::new(path, LockfileKind::UvLock);
    let mut slot = Vec::new();
    let mut roots = Vec::new();
    for (i, pkg) in packages.iter().enumerate() {
        let line = headers.get(i).copied().unwrap_or(0);
        let get = |k: &str| pkg.get(k).and_then(Value::as_str);
        let Some(name) = get("name") else {
            return Err(LockfileError::syntax(
                path,
                line,
                "[[package]] without name",
            ));
        };
        let source = pkg.get("source").and_then(Value::as_table);
        let local = source.is_some_and(|s| s.contains_key("editable") || s.contains_key("virtual"));
        if local {
            if inv.root_name.is_none() {
                inv.root_name = Some(name.to_string());
                inv.root_version = get("version").map(str::to_string);
            }
            roots.push(i);
            slot.push(None);
            continue;
        }
        let version = get("version").unwrap_or_default();
        let mut p = Package::new(name, version, Ecosystem::PyPI, line);
        let hash = pkg.get("sdist").and_then(|s| s.get("hash")).or_else(|| {
            pkg.get("wheels")
                .and_then(Value::as_array)
                .and_then(|w| w.first())
                .and_then(|w| w.get("hash"))
        });
        p.checksum = hash.and_then(Value::as_str).and_then(prefixed_hex_checksum);
        slot.push(Some(inv.push(p)));
    }
    let by_name: HashMap<String, usize> = inv
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| (Ecosystem::PyPI.normalize_name(&p.name), i))
        .collect();
    let find = |n: &str| by_name.get(&Ecosystem::PyPI.normalize_name(n)).copied();
    for (i, pkg) in packages.iter().enumerate() {
        let required = dep_names(pkg.get("dependencies"));
        let optional = group_dep_names(pkg.get("optional-dependencies"));
        let dev = group_dep_names(pkg.get("dev-dependencies"));
        for (names, scope) in [
            (required, Scope::Required),
            (optional, Scope::Optional),
            (dev, Scope::Dev),
        ] {
            for n in names {
                let Some(t) = find(&n) else { continue };
                match slot[i] {
                    Some(from) => inv.deps[from].push(t),
                    None => {
                        let p = &mut inv.packages[t];
                        if !p.direct {
                            p.scope = scope;
                        } else if scope == Scope::Required {
                            p.scope = Scope::Required;
                        }
                        p.direct = true;
                    }
                }
            }
        }
    }
    if roots.is_empty() {
        inv.mark_roots_direct();
    }
    inv.normalize_edges();
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_dependencies_are_direct() {
        let text = r#"version = 1
requires-python = ">=3.12"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "requests" }]

[package.dev-dependencies]
dev = [{ name = "pytest" }]

[[package]]
name = "requests"
version = "2.32.3"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "idna" }]
sdist = { url = "https://x/requests-2.32.3.tar.gz", hash = "sha256:55365417734eb18255590a9ff9eb97e9e1da868d4ccd6402399eaf68af20a760", size = 131218 }

[[package]]
name = "idna"
version = "3.10"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "pytest"
version = "8.3.3"
source = { registry = "https://pypi.org/simple" }
"#;
        let inv = parse_uv_lock(Path::new("uv.lock"), text).unwrap();
        assert_eq!(inv.root_name.as_deref(), Some("app"));
        assert_eq!(inv.packages.len(), 3);
        let req = &inv.packages[0];
        assert_eq!(
            (req.name.as_str(), req.direct, req.line),
            ("requests", true, 13)
        );
        assert!(req.checksum.is_some());
        assert!(!inv.packages[1].direct);
        assert_eq!(
            (inv.packages[2].direct, inv.packages[2].scope),
            (true, Scope::Dev)
        );
        assert_eq!(inv.deps[0], vec![1]);
    }
}
