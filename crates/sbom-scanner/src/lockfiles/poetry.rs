//! poetry.lock (lock-version 1.x and 2.x).
//!
//! Packages are `[[package]]` tables in file order, so the n-th header line is the n-th
//! package's line. Which packages the project requires is in pyproject.toml, not here:
//! packages nothing else depends on are taken as direct.

use std::collections::HashMap;
use std::path::Path;

use toml::Value;

use super::{LockfileError, lines_starting_with, prefixed_hex_checksum};
use crate::inventory::{Ecosystem, Inventory, LockfileKind, Package, Scope};

pub(crate) fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> LockfileError {
    let line = e.span().map_or(0, |s| {
        text[..s.start.min(text.len())].lines().count().max(1)
    });
    LockfileError::syntax(path, line, format!("invalid TOML: {}", e.message()))
}

/// Parses a poetry.lock.
pub fn parse_poetry_lock(path: &Path, text: &str) -> Result<Inventory, LockfileError> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
    let headers = lines_starting_with(text, "[[package]]");
    let empty = Vec::new();
    let packages = doc
        .get("package")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let files = doc
        .get("metadata")
        .and_then(|m| m.get("files"))
        .and_then(Value::as_table);
    let mut inv = Inventory::new(path, LockfileKind::PoetryLock);
    for (i, pkg) in packages.iter().enumerate() {
        let line = headers.get(i).copied().unwrap_or(0);
        let get = |k: &str| pkg.get(k).and_then(Value::as_str);
        let (Some(name), Some(version)) = (get("name"), get("version")) else {
            return Err(LockfileError::syntax(
                path,
                line,
                "[[package]] without name or version",
            ));
        };
        let mut p = Package::new(name, version, Ecosystem::PyPI, line);
        p.scope = if pkg.get("optional").and_then(Value::as_bool) == Some(true) {
            Scope::Optional
        } else if get("category") == Some("dev") {
            Scope::Dev
        } else {
            Scope::Required
        };
        // Hashes: per package in 2.x, under [metadata.files] in 1.x. Prefer the sdist's.
        let file_list = pkg.get("files").or_else(|| files.and_then(|f| f.get(name)));
        if let Some(list) = file_list.and_then(Value::as_array) {
            let pick = list
                .iter()
                .find(|f| {
                    f.get("file")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.ends_with(".tar.gz"))
                })
                .or_else(|| list.first());
            p.checksum = pick
                .and_then(|f| f.get("hash"))
                .and_then(Value::as_str)
                .and_then(prefixed_hex_checksum);
        }
        inv.push(p);
    }
    let by_name: HashMap<String, usize> = inv
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| (Ecosystem::PyPI.normalize_name(&p.name), i))
        .collect();
    for (i, pkg) in packages.iter().enumerate() {
        if let Some(deps) = pkg.get("dependencies").and_then(Value::as_table) {
            for dep in deps.keys() {
                if let Some(&t) = by_name.get(&Ecosystem::PyPI.normalize_name(dep)) {
                    inv.deps[i].push(t);
                }
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
    fn categories_hashes_and_edges() {
        let text = r#"[[package]]
name = "Django"
version = "3.2.5"
category = "main"
optional = false

[package.dependencies]
asgiref = ">=3.3.2,<4"

[[package]]
name = "asgiref"
version = "3.4.1"
category = "dev"
optional = false

[metadata]
lock-version = "1.1"

[metadata.files]
django = []
asgiref = [
    {file = "asgiref-3.4.1.tar.gz", hash = "sha256:4ef1ab46b484e3c706329cedeff284a5d40824200638503f5768edb6de7d58e9"},
]
"#;
        let inv = parse_poetry_lock(Path::new("poetry.lock"), text).unwrap();
        assert_eq!(inv.packages.len(), 2);
        assert_eq!(
            (inv.packages[1].line, inv.packages[1].scope),
            (10, Scope::Dev)
        );
        assert_eq!(inv.deps[0], vec![1]);
        assert!(inv.packages[0].direct && !inv.packages[1].direct);
        assert_eq!(
            inv.packages[1].checksum.as_ref().unwrap().algorithm,
            "SHA-256"
        );
    }

    #[test]
    fn toml_error_names_line() {
        let err =
            parse_poetry_lock(Path::new("p/poetry.lock"), "[[package]]\nname = \n").unwrap_err();
        assert!(err.to_string().starts_with("p/poetry.lock:2"), "{err}");
    }
}
