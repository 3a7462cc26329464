//! package-lock.json (lockfileVersion 1, 2, 3) and npm-shrinkwrap.json.
//!
//! Versions 2 and 3 carry a flat `packages` map keyed by install path; version 1 only the
//! nested `dependencies` tree. Both resolve a dependency the way Node does: the nearest
//! `node_modules` going up from the requiring package.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::{LockfileError, sri_checksum};
use crate::inventory::{Ecosystem, Inventory, LockfileKind, Package, Scope};

/// Parses a package-lock.json or npm-shrinkwrap.json.
pub fn parse_npm_lock(path: &Path, text: &str) -> Result<Inventory, LockfileError> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| LockfileError::syntax(path, e.line(), format!("invalid JSON: {e}")))?;
    let mut inv = Inventory::new(path, LockfileKind::NpmLock);
    inv.root_name = doc.get("name").and_then(Value::as_str).map(str::to_string);
    inv.root_version = doc
        .get("version")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(packages) = doc.get("packages").and_then(Value::as_object) {
        parse_packages(path, text, packages, &mut inv)?;
    } else if let Some(deps) = doc.get("dependencies").and_then(Value::as_object) {
        let lines = KeyLines::new(text);
        let mut by_path = HashMap::new();
        walk_v1(deps, "", 0, 2, &lines, &mut inv, &mut by_path);
        link_v1(deps, "", &by_path, &mut inv);
        // Version 1 does not say which packages the project requires: an entry that no other
        // package requires is taken as direct.
        inv.mark_roots_direct();
    } else {
        return Err(LockfileError::syntax(
            path,
            1,
            "neither `packages` nor `dependencies` found",
        ));
    }
    inv.normalize_edges();
    Ok(inv)
}

/// Finds the line of a JSON object key by scanning forward, as the text lists keys in order.
struct KeyLines<'a> {
    lines: Vec<&'a str>,
    /// Width of one indentation level, taken from the second line.
    unit: usize,
}

impl<'a> KeyLines<'a> {
    fn new(text: &'a str) -> Self {
        let lines: Vec<&str> = text.lines().collect();
        let unit = lines
            .get(1)
            .map_or(2, |l| l.len() - l.trim_start().len())
            .max(1);
        KeyLines { lines, unit }
    }

    /// Every `"key": {` line at nesting `depth` from `from` on, first occurrence kept, 1-based.
    fn all_at(&self, from: usize, depth: usize) -> HashMap<&'a str, usize> {
        let indent = self.unit * depth;
        let mut map = HashMap::new();
        for (i, l) in self.lines.iter().enumerate().skip(from) {
            let t = l.trim_start();
            if l.len() - t.len() == indent
                && let Some(rest) = t.strip_prefix('"')
                && let Some(end) = rest.find("\":")
                && rest[end + 2..].trim_start().starts_with('{')
            {
                map.entry(&rest[..end]).or_insert(i + 1);
            }
        }
        map
    }

    /// The first line at or after `from` (0-based) declaring `"key": {` at nesting `depth`.
    fn find(&self, key: &str, from: usize, depth: usize) -> Option<usize> {
        let needle = format!("\"{key}\":");
        let indent = self.unit * depth;
        (from..self.lines.len()).find(|&i| {
            let l = self.lines[i];
            let t = l.trim_start();
            l.len() - t.len() == indent
                && t.strip_prefix(&needle)
                    .is_some_and(|r| r.trim_start().starts_with('{'))
        })
    }
}

fn name_from_install_path(key: &str) -> &str {
    key.rsplit_once("node_modules/").map_or(key, |(_, n)| n)
}

fn fill(p: &mut Package, v: &Value) {
    if let Some(sri) = v.get("integrity").and_then(Value::as_str) {
        p.checksum = sri_checksum(sri);
    }
    if let Some(l) = v.get("license").and_then(Value::as_str) {
        p.license = Some(l.to_string());
    }
    let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    p.scope = if flag("dev") || flag("devOptional") {
        Scope::Dev
    } else if flag("optional") {
        Scope::Optional
    } else {
        Scope::Required
    };
}

fn parse_packages(
    path: &Path,
    text: &str,
    packages: &Map<String, Value>,
    inv: &mut Inventory,
) -> Result<(), LockfileError> {
    let lines = KeyLines::new(text);
    let start = lines.find("packages", 0, 1).unwrap_or(0);
    let key_lines = lines.all_at(start, 2);
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (key, v) in packages {
        if key.is_empty()
            || !key.contains("node_modules/")
            || v.get("link").and_then(Value::as_bool) == Some(true)
        {
            continue;
        }
        let Some(version) = v.get("version").and_then(Value::as_str) else {
            continue;
        };
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_else(|| name_from_install_path(key));
        let line = key_lines.get(key.as_str()).copied().unwrap_or(0);
        let mut p = Package::new(name, version, Ecosystem::Npm, line);
        fill(&mut p, v);
        index.insert(key.as_str(), inv.push(p));
    }
    // Workspace members (keys outside node_modules, and link targets) count as the project.
    let resolve = |from: &str, dep: &str| -> Option<usize> {
        let mut base = from.to_string();
        loop {
            let candidate = if base.is_empty() {
                format!("node_modules/{dep}")
            } else {
                format!("{base}/node_modules/{dep}")
            };
            if let Some(&i) = index.get(candidate.as_str()) {
                return Some(i);
            }
            if base.is_empty() {
                return None;
            }
            base = match base.rfind("/node_modules/") {
                Some(pos) => base[..pos].to_string(),
                None => String::new(),
            };
        }
    };
    for (key, v) in packages {
        let is_project = key.is_empty() || !key.contains("node_modules/");
        for field in [
            "dependencies",
            "optionalDependencies",
            "devDependencies",
            "peerDependencies",
        ] {
            if !is_project && field == "devDependencies" {
                continue;
            }
            let Some(deps) = v.get(field).and_then(Value::as_object) else {
                continue;
            };
            for dep in deps.keys() {
                let Some(target) = resolve(key, dep) else {
                    continue;
                };
                if is_project {
                    if field != "peerDependencies" {
                        inv.packages[target].direct = true;
                    }
                } else if let Some(&from) = index.get(key.as_str()) {
                    inv.deps[from].push(target);
                }
            }
        }
    }
    if !packages.contains_key("") {
        return Err(LockfileError::syntax(
            path,
            start + 1,
            "`packages` has no root entry \"\"",
        ));
    }
    Ok(())
}

fn walk_v1(
    deps: &Map<String, Value>,
    prefix: &str,
    from_line: usize,
    depth: usize,
    lines: &KeyLines<'_>,
    inv: &mut Inventory,
    by_path: &mut HashMap<String, usize>,
) {
    let mut cursor = from_line;
    let mut names: Vec<&String> = deps.keys().collect();
    names.sort();
    for name in names {
        let v = &deps[name];
        let line = lines.find(name, cursor, depth);
        if let Some(l) = line {
            cursor = l;
        }
        let install = if prefix.is_empty() {
            format!("node_modules/{name}")
        } else {
            format!("{prefix}/node_modules/{name}")
        };
        if let Some(version) = v.get("version").and_then(Value::as_str)
            && !version.starts_with("file:")
        {
            // Aliases are written `npm:real-name@version`.
            let (pname, pversion) = match version
                .strip_prefix("npm:")
                .and_then(|s| s.rsplit_once('@'))
            {
                Some((n, ver)) => (n.to_string(), ver.to_string()),
                None => (name.clone(), version.to_string()),
            };
            let mut p = Package::new(pname, pversion, Ecosystem::Npm, line.map_or(0, |l| l + 1));
            fill(&mut p, v);
            by_path.insert(install.clone(), inv.push(p));
        }
        if let Some(nested) = v.get("dependencies").and_then(Value::as_object) {
            walk_v1(
                nested,
                &install,
                line.unwrap_or(cursor),
                depth + 2,
                lines,
                inv,
                by_path,
            );
        }
    }
}

fn link_v1(
    deps: &Map<String, Value>,
    prefix: &str,
    by_path: &HashMap<String, usize>,
    inv: &mut Inventory,
) {
    for (name, v) in deps {
        let install = if prefix.is_empty() {
            format!("node_modules/{name}")
        } else {
            format!("{prefix}/node_modules/{name}")
        };
        if let (Some(&from), Some(req)) = (
            by_path.get(&install),
            v.get("requires").and_then(Value::as_object),
        ) {
            for dep in req.keys() {
                let mut base = install.clone();
                loop {
                    let cand = format!("{base}/node_modules/{dep}");
                    if let Some(&t) = by_path.get(&cand) {
                        inv.deps[from].push(t);
                        break;
                    }
                    match base.rfind("/node_modules/") {
                        Some(pos) => base.truncate(pos),
                        None => {
                            if let Some(&t) = by_path.get(&format!("node_modules/{dep}")) {
                                inv.deps[from].push(t);
                            }
                            break;
                        }
                    }
                }
            }
        }
        if let Some(nested) = v.get("dependencies").and_then(Value::as_object) {
            link_v1(nested, &install, by_path, inv);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V3: &str = r#"{
  "name": "app",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "packages": {
    "": {
      "name": "app",
      "dependencies": { "a": "^1.0.0" },
      "devDependencies": { "@scope/t": "^2.0.0" }
    },
    "node_modules/@scope/t": {
      "version": "2.0.0",
      "dev": true,
      "license": "MIT"
    },
    "node_modules/a": {
      "version": "1.0.0",
      "integrity": "sha1-n0QmW9bXpXZdEUZxtAHgzOFHKHg=",
      "dependencies": { "b": "^1.0.0" }
    },
    "node_modules/a/node_modules/b": {
      "version": "1.5.0",
      "optional": true
    },
    "node_modules/b": {
      "version": "2.0.0"
    }
  }
}"#;

    #[test]
    fn v3_nested_resolution_scopes_and_lines() {
        let inv = parse_npm_lock(Path::new("package-lock.json"), V3).unwrap();
        assert_eq!(inv.packages.len(), 4);
        let find = |n: &str, v: &str| {
            inv.packages
                .iter()
                .position(|p| p.name == n && p.version == v)
                .unwrap()
        };
        let a = find("a", "1.0.0");
        let b15 = find("b", "1.5.0");
        assert_eq!(inv.deps[a], vec![b15]);
        assert!(inv.packages[a].direct);
        assert!(!inv.packages[find("b", "2.0.0")].direct);
        let t = &inv.packages[find("@scope/t", "2.0.0")];
        assert_eq!((t.scope, t.direct, t.line), (Scope::Dev, true, 11));
        assert_eq!(inv.packages[b15].scope, Scope::Optional);
        assert_eq!(
            inv.packages[a].checksum.as_ref().unwrap().algorithm,
            "SHA-1"
        );
    }

    #[test]
    fn v1_nested_tree() {
        let text = r#"{
  "name": "app",
  "lockfileVersion": 1,
  "dependencies": {
    "a": {
      "version": "1.0.0",
      "requires": { "b": "^1.0.0" },
      "dependencies": {
        "b": { "version": "1.5.0" }
      }
    },
    "b": { "version": "2.0.0", "dev": true }
  }
}"#;
        let inv = parse_npm_lock(Path::new("package-lock.json"), text).unwrap();
        assert_eq!(inv.packages.len(), 3);
        let b15 = inv
            .packages
            .iter()
            .position(|p| p.version == "1.5.0")
            .unwrap();
        assert_eq!(inv.packages[b15].line, 9);
        let a = inv.packages.iter().position(|p| p.name == "a").unwrap();
        assert_eq!(inv.deps[a], vec![b15]);
        let b2 = inv.packages.iter().find(|p| p.version == "2.0.0").unwrap();
        assert_eq!((b2.line, b2.scope), (12, Scope::Dev));
    }
}
