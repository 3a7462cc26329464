//! Cargo.lock, versions 1 to 4.
//!
//! Read line by line rather than through a TOML parser: the format is written by one tool in
//! one shape, and a line scan keeps each package's line for free and runs in linear time.

use std::collections::HashMap;
use std::path::Path;

use super::LockfileError;
use crate::inventory::{Checksum, Ecosystem, Inventory, LockfileKind, Package};

struct RawPackage {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    deps: Vec<String>,
    line: usize,
}

fn unquote(v: &str) -> &str {
    v.trim().trim_matches('"')
}

/// Parses a Cargo.lock; packages without a `source` are the workspace's own and become roots.
pub fn parse_cargo_lock(path: &Path, text: &str) -> Result<Inventory, LockfileError> {
    let mut raws: Vec<RawPackage> = Vec::new();
    // Version 1 keeps checksums in a [metadata] table keyed by "checksum NAME VERSION (SOURCE)".
    let mut v1_checksums: HashMap<String, String> = HashMap::new();
    let mut section = "";
    let mut in_deps = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with('[') && !in_deps {
            section = match t {
                "[[package]]" => {
                    raws.push(RawPackage {
                        name: String::new(),
                        version: String::new(),
                        source: None,
                        checksum: None,
                        deps: Vec::new(),
                        line: i + 1,
                    });
                    "package"
                }
                "[metadata]" => "metadata",
                _ => "other",
            };
            continue;
        }
        if in_deps {
            if t.starts_with(']') {
                in_deps = false;
            } else if let Some(p) = raws.last_mut() {
                p.deps.push(unquote(t.trim_end_matches(',')).to_string());
            }
            continue;
        }
        let Some((key, value)) = t.split_once('=') else {
            return Err(LockfileError::syntax(
                path,
                i + 1,
                format!("expected `key = value`, found `{t}`"),
            ));
        };
        let key = key.trim();
        match section {
            "package" => {
                let Some(p) = raws.last_mut() else { continue };
                match key {
                    "name" => p.name = unquote(value).to_string(),
                    "version" => p.version = unquote(value).to_string(),
                    "source" => p.source = Some(unquote(value).to_string()),
                    "checksum" => p.checksum = Some(unquote(value).to_string()),
                    "dependencies" => {
                        let v = value.trim();
                        if v == "[" {
                            in_deps = true;
                        } else {
                            // An inline list: `dependencies = ["a", "b"]`.
                            for d in v.trim_start_matches('[').trim_end_matches(']').split(',') {
                                let d = unquote(d);
                                if !d.is_empty() {
                                    p.deps.push(d.to_string());
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            "metadata" => {
                let k = unquote(key);
                if let Some(rest) = k.strip_prefix("checksum ") {
                    v1_checksums.insert(rest.to_string(), unquote(value).to_string());
                }
            }
            _ => {}
        }
    }

    let mut inv = Inventory::new(path, LockfileKind::CargoLock);
    // Map each raw package to its inventory index (None for workspace members).
    let mut slot: Vec<Option<usize>> = Vec::with_capacity(raws.len());
    for r in &raws {
        if r.name.is_empty() || r.version.is_empty() {
            return Err(LockfileError::syntax(
                path,
                r.line,
                "[[package]] without name or version",
            ));
        }
        if r.source.is_none() {
            if inv.root_name.is_none() {
                inv.root_name = Some(r.name.clone());
                inv.root_version = Some(r.version.clone());
            }
            slot.push(None);
            continue;
        }
        let mut p = Package::new(&r.name, &r.version, Ecosystem::CratesIo, r.line);
        let sum = r.checksum.clone().or_else(|| {
            let key = format!(
                "{} {} ({})",
                r.name,
                r.version,
                r.source.as_deref().unwrap_or("")
            );
            v1_checksums.get(&key).cloned()
        });
        if let Some(hex) = sum.filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            p.checksum = Some(Checksum {
                algorithm: "SHA-256".into(),
                hex,
            });
        }
        if let Some(src) = &r.source
            && !src.starts_with("registry+https://github.com/rust-lang/crates.io-index")
            && !src.starts_with("sparse+https://index.crates.io/")
        {
            p.qualifiers.push((
                "repository_url".into(),
                src.split_once('+')
                    .map_or(src.as_str(), |s| s.1)
                    .to_string(),
            ));
        }
        slot.push(Some(inv.push(p)));
    }

    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (ri, r) in raws.iter().enumerate() {
        by_name.entry(r.name.as_str()).or_default().push(ri);
    }
    let resolve = |dep: &str| -> Option<usize> {
        let mut parts = dep.splitn(3, ' ');
        let name = parts.next()?;
        let version = parts.next();
        let cands = by_name.get(name)?;
        match version {
            None => cands.first().copied(),
            Some(v) => cands.iter().copied().find(|&c| raws[c].version == v),
        }
    };
    for (ri, r) in raws.iter().enumerate() {
        for d in &r.deps {
            let Some(target_raw) = resolve(d) else {
                return Err(LockfileError::syntax(
                    path,
                    r.line,
                    format!("dependency `{d}` of {} is not in the lockfile", r.name),
                ));
            };
            let Some(target) = slot[target_raw] else {
                continue;
            };
            match slot[ri] {
                Some(from) => inv.deps[from].push(target),
                None => inv.packages[target].direct = true,
            }
        }
    }
    if inv.root_name.is_none() {
        inv.mark_roots_direct();
    }
    inv.normalize_edges();
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"[[package]]
name = "app"
version = "0.1.0"
dependencies = [
 "serde 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)",
]

[[package]]
name = "serde"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"

[metadata]
"checksum serde 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)" = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
"#;

    const V4: &str = r#"version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = [
 "rand",
 "rand_core 0.6.4",
]

[[package]]
name = "rand"
version = "0.8.5"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "34af8d1a0e25924bc5b7c43c4c9b32f0d3f8a4d0c1a3e0d0e0a0e0b0c0d0e0f0"
dependencies = [
 "rand_core 0.6.4",
]

[[package]]
name = "rand_core"
version = "0.6.4"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "rand_core"
version = "0.9.0"
source = "git+https://github.com/rust-random/rand?rev=abc#abc"
"#;

    #[test]
    fn v1_metadata_checksums_and_direct() {
        let inv = parse_cargo_lock(Path::new("Cargo.lock"), V1).unwrap();
        assert_eq!(inv.root_name.as_deref(), Some("app"));
        assert_eq!(inv.packages.len(), 1);
        let serde = &inv.packages[0];
        assert!(serde.direct);
        assert_eq!(serde.line, 8);
        assert_eq!(serde.checksum.as_ref().unwrap().hex.len(), 64);
    }

    #[test]
    fn v4_edges_with_versions_and_git_source() {
        let inv = parse_cargo_lock(Path::new("Cargo.lock"), V4).unwrap();
        assert_eq!(inv.packages.len(), 3);
        let rand = inv.packages.iter().position(|p| p.name == "rand").unwrap();
        let core = inv
            .packages
            .iter()
            .position(|p| p.version == "0.6.4")
            .unwrap();
        assert_eq!(inv.deps[rand], vec![core]);
        assert!(inv.packages[rand].direct && inv.packages[core].direct);
        let git = inv.packages.iter().find(|p| p.version == "0.9.0").unwrap();
        assert!(!git.direct);
        assert!(git.purl().contains("repository_url="));
    }

    #[test]
    fn dangling_dependency_is_an_error_with_line() {
        let err = parse_cargo_lock(Path::new("x/Cargo.lock"), "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+x\"\ndependencies = [\n \"nope\",\n]\n")
            .unwrap_err();
        assert!(err.to_string().contains("x/Cargo.lock:1"), "{err}");
    }
}
