//! yarn.lock, classic (v1) and berry (v2+).
//!
//! Both are indentation-structured: a header line lists the descriptors (`name@range`) an
//! entry satisfies, fields follow indented by two spaces, dependency lists by four. Berry is
//! YAML of that same shape, so one line scanner reads both. yarn.lock does not record what the
//! project requires; that comes from a `package.json` beside it when there is one.

use std::collections::HashMap;
use std::path::Path;

use super::{LockfileError, prefixed_hex_checksum, sri_checksum};
use crate::inventory::{Ecosystem, Inventory, LockfileKind, Package, Scope};

struct Entry {
    descriptors: Vec<String>,
    version: String,
    resolution: Option<String>,
    integrity: Option<String>,
    checksum: Option<String>,
    deps: Vec<(String, String)>,
    line: usize,
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

/// The package name of a descriptor such as `@scope/pkg@npm:^1.0.0` or `pkg@^1`.
fn descriptor_name(d: &str) -> &str {
    let search_from = usize::from(d.starts_with('@'));
    match d[search_from..].find('@') {
        Some(pos) => &d[..pos + search_from],
        None => d,
    }
}

/// Parses a yarn.lock, using `package_json` (the manifest beside it) to mark direct dependencies.
pub fn parse_yarn_lock(
    path: &Path,
    text: &str,
    package_json: Option<&str>,
) -> Result<Inventory, LockfileError> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut in_deps = false;
    let mut berry = false;
    let mut skip_block = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if indent == 0 {
            in_deps = false;
            let Some(header) = t.strip_suffix(':') else {
                return Err(LockfileError::syntax(
                    path,
                    i + 1,
                    format!("expected an entry header ending in `:`, found `{t}`"),
                ));
            };
            if header == "__metadata" {
                berry = true;
                skip_block = true;
                continue;
            }
            skip_block = false;
            let descriptors = header
                .split(", ")
                .map(|d| d.trim().trim_matches('"').to_string())
                .collect();
            entries.push(Entry {
                descriptors,
                version: String::new(),
                resolution: None,
                integrity: None,
                checksum: None,
                deps: Vec::new(),
                line: i + 1,
            });
            continue;
        }
        if skip_block {
            continue;
        }
        let Some(e) = entries.last_mut() else {
            return Err(LockfileError::syntax(
                path,
                i + 1,
                "indented line before any entry",
            ));
        };
        if indent <= 2 {
            in_deps = false;
            let (key, value) = match t.split_once(": ") {
                Some((k, v)) => (k, v),
                None => match t.split_once(' ') {
                    Some((k, v)) if !berry => (k, v),
                    _ => (t.trim_end_matches(':'), ""),
                },
            };
            let value = unquote(value);
            match key {
                "version" => e.version = value.to_string(),
                "resolution" => e.resolution = Some(value.to_string()),
                "integrity" => e.integrity = Some(value.to_string()),
                "checksum" => e.checksum = Some(value.to_string()),
                "dependencies" | "optionalDependencies" => in_deps = true,
                _ => {}
            }
        } else if in_deps && indent <= 4 {
            let (name, range) = match t.split_once(": ") {
                Some((n, r)) => (n, r),
                None => t.split_once(' ').unwrap_or((t, "")),
            };
            e.deps
                .push((unquote(name).to_string(), unquote(range).to_string()));
        }
    }

    let mut inv = Inventory::new(path, LockfileKind::YarnLock);
    let mut by_descriptor: HashMap<String, usize> = HashMap::new();
    let mut slot: Vec<Option<usize>> = Vec::new();
    let mut workspace_entries = Vec::new();
    for (ei, e) in entries.iter().enumerate() {
        let first = e.descriptors.first().map(String::as_str).unwrap_or("");
        let name = descriptor_name(first);
        let is_workspace = e
            .resolution
            .as_deref()
            .is_some_and(|r| r.contains("@workspace:"));
        if is_workspace {
            workspace_entries.push(ei);
            slot.push(None);
            continue;
        }
        if e.version.is_empty() {
            return Err(LockfileError::syntax(
                path,
                e.line,
                format!("entry `{first}` has no version"),
            ));
        }
        // An npm alias (`alias@npm:real@1`) installs the real package under another name.
        let real = e
            .resolution
            .as_deref()
            .map(descriptor_name)
            .filter(|r| !r.is_empty())
            .unwrap_or(name);
        let mut p = Package::new(real, &e.version, Ecosystem::Npm, e.line);
        p.checksum = e.integrity.as_deref().and_then(sri_checksum).or_else(|| {
            // Berry's checksum is a hex SHA-512 of its own zip, prefixed by a cache key.
            e.checksum
                .as_deref()
                .and_then(|c| prefixed_hex_checksum(c.rsplit('/').next().unwrap_or(c)))
        });
        let idx = inv.push(p);
        slot.push(Some(idx));
        for d in &e.descriptors {
            by_descriptor.insert(d.clone(), idx);
        }
    }
    let resolve = |name: &str, range: &str| -> Option<usize> {
        by_descriptor
            .get(&format!("{name}@{range}"))
            .or_else(|| by_descriptor.get(&format!("{name}@npm:{range}")))
            .copied()
    };
    for (ei, e) in entries.iter().enumerate() {
        for (name, range) in &e.deps {
            let Some(t) = resolve(name, range) else {
                continue;
            };
            match slot[ei] {
                Some(from) => inv.deps[from].push(t),
                None => inv.packages[t].direct = true,
            }
        }
    }
    if let Some(manifest) = package_json {
        let doc: serde_json::Value = serde_json::from_str(manifest).map_err(|e| {
            LockfileError::syntax(
                &path.with_file_name("package.json"),
                e.line(),
                format!("invalid JSON: {e}"),
            )
        })?;
        inv.root_name = doc.get("name").and_then(|v| v.as_str()).map(str::to_string);
        inv.root_version = doc
            .get("version")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        for (field, scope) in [
            ("dependencies", Scope::Required),
            ("optionalDependencies", Scope::Optional),
            ("devDependencies", Scope::Dev),
        ] {
            let Some(map) = doc.get(field).and_then(|v| v.as_object()) else {
                continue;
            };
            for (name, range) in map {
                if let Some(t) = range.as_str().and_then(|r| resolve(name, r)) {
                    inv.packages[t].direct = true;
                    if scope != Scope::Required && inv.packages[t].scope == Scope::Required {
                        inv.packages[t].scope = scope;
                    }
                }
            }
        }
    } else if workspace_entries.is_empty() {
        inv.mark_roots_direct();
    }
    inv.normalize_edges();
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSIC: &str = r#"# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
  version "7.12.11"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.11.tgz"
  integrity sha1-n0QmW9bXpXZdEUZxtAHgzOFHKHg=
  dependencies:
    "@babel/highlight" "^7.10.4"

"@babel/highlight@^7.10.4":
  version "7.10.4"
  dependencies:
    "@babel/code-frame" "^7.10.4"
"#;

    const BERRY: &str = r#"__metadata:
  version: 6
  cacheKey: 8

"app@workspace:.":
  version: 0.0.0-use.local
  resolution: "app@workspace:."
  dependencies:
    lodash: ^4.17.0
  languageName: unknown
  linkType: soft

"lodash@npm:^4.17.0":
  version: 4.17.21
  resolution: "lodash@npm:4.17.21"
  checksum: eb835a2e51d381e561e508ce932ea50a8e5a68f4ebdd771ea240d3048244a8d13658acbd502cd4829768c56f2e16bdd4340b9ea141297d472517b83868e677f7
  languageName: node
  linkType: hard
"#;

    #[test]
    fn classic_descriptors_and_edges() {
        let inv = parse_yarn_lock(Path::new("yarn.lock"), CLASSIC, None).unwrap();
        assert_eq!(inv.packages.len(), 2);
        assert_eq!(inv.packages[0].name, "@babel/code-frame");
        assert_eq!(inv.packages[0].line, 4);
        assert_eq!(inv.deps[0], vec![1]);
        // The last of several quoted descriptors on one header resolves too.
        assert_eq!(inv.deps[1], vec![0]);
        let manifest = r#"{"name":"x","devDependencies":{"@babel/highlight":"^7.10.4"}}"#;
        let inv = parse_yarn_lock(Path::new("yarn.lock"), CLASSIC, Some(manifest)).unwrap();
        assert!(!inv.packages[0].direct);
        assert_eq!(
            (inv.packages[1].direct, inv.packages[1].scope),
            (true, Scope::Dev)
        );
    }

    #[test]
    fn berry_workspace_marks_direct() {
        let inv = parse_yarn_lock(Path::new("yarn.lock"), BERRY, None).unwrap();
        assert_eq!(inv.packages.len(), 1);
        let p = &inv.packages[0];
        assert_eq!(
            (p.name.as_str(), p.version.as_str(), p.direct, p.line),
            ("lodash", "4.17.21", true, 13)
        );
        assert_eq!(p.checksum.as_ref().unwrap().algorithm, "SHA-512");
    }
}
