//! go.mod, with go.sum beside it.
//!
//! go.mod's `require` lines are the build list's roots (`// indirect` marks the ones only
//! needed transitively); go.sum adds every module whose source was downloaded (a line
//! without the `/go.mod` suffix). Neither file records the edges between modules.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::LockfileError;
use crate::inventory::{Ecosystem, Inventory, LockfileKind, Package};

/// Every distinct `module version` pair listed in a go.sum, with or without `/go.mod`.
pub fn go_sum_pairs(go_sum: &str) -> BTreeSet<(String, String)> {
    go_sum
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (m, v) = (f.next()?, f.next()?);
            Some((m.to_string(), v.trim_end_matches("/go.mod").to_string()))
        })
        .collect()
}

fn strip_comment(l: &str) -> (&str, bool) {
    match l.find("//") {
        Some(pos) => (&l[..pos], l[pos + 2..].trim().starts_with("indirect")),
        None => (l, false),
    }
}

/// Parses a go.mod and, when given, the go.sum next to it.
pub fn parse_go_mod(
    path: &Path,
    text: &str,
    go_sum: Option<&str>,
) -> Result<Inventory, LockfileError> {
    let mut inv = Inventory::new(path, LockfileKind::GoMod);
    let mut block: Option<&str> = None;
    let mut requires: Vec<(String, String, bool, usize)> = Vec::new();
    let mut replaces: HashMap<String, (String, String)> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let (code, indirect) = strip_comment(raw);
        let t = code.trim();
        if t.is_empty() {
            continue;
        }
        if t == ")" {
            block = None;
            continue;
        }
        let (verb, rest) = match block {
            Some(b) => (b, t),
            None => {
                let (verb, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
                let rest = rest.trim();
                if rest == "(" {
                    block = Some(match verb {
                        "require" => "require",
                        "replace" => "replace",
                        _ => "other",
                    });
                    continue;
                }
                (verb, rest)
            }
        };
        match verb {
            "module" => inv.root_name = Some(rest.trim_matches('"').to_string()),
            "require" => {
                let mut f = rest.split_whitespace();
                let (Some(m), Some(v)) = (f.next(), f.next()) else {
                    return Err(LockfileError::syntax(
                        path,
                        i + 1,
                        format!("require needs a module and a version: `{t}`"),
                    ));
                };
                requires.push((m.to_string(), v.to_string(), indirect, i + 1));
            }
            "replace" => {
                let Some((from, to)) = rest.split_once("=>") else {
                    return Err(LockfileError::syntax(path, i + 1, "replace without `=>`"));
                };
                let from_mod = from
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let mut tf = to.split_whitespace();
                // A replacement by a local path has no version and is the project's own code.
                if let (Some(m), Some(v)) = (tf.next(), tf.next()) {
                    replaces.insert(from_mod, (m.to_string(), v.to_string()));
                } else {
                    replaces.insert(from_mod, (String::new(), String::new()));
                }
            }
            _ => {}
        }
    }
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (m, v, indirect, line) in requires {
        let (m, v) = match replaces.get(&m) {
            Some((rm, _)) if rm.is_empty() => continue,
            Some((rm, rv)) => (rm.clone(), rv.clone()),
            None => (m, v),
        };
        let mut p = Package::new(&m, &v, Ecosystem::Go, line);
        p.direct = !indirect;
        seen.insert((m, v), inv.push(p));
    }
    if let Some(sum) = go_sum {
        let sum_path = path.with_file_name("go.sum");
        for (i, l) in sum.lines().enumerate() {
            let mut f = l.split_whitespace();
            let (Some(m), Some(v), Some(_hash)) = (f.next(), f.next(), f.next()) else {
                if l.trim().is_empty() {
                    continue;
                }
                return Err(LockfileError::syntax(
                    &sum_path,
                    i + 1,
                    "expected `module version hash`",
                ));
            };
            // Only the go.mod was fetched for `/go.mod` lines: the module is not built.
            if v.ends_with("/go.mod") || seen.contains_key(&(m.to_string(), v.to_string())) {
                continue;
            }
            let p = Package::new(m, v, Ecosystem::Go, 0);
            seen.insert((m.to_string(), v.to_string()), inv.push(p));
        }
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_replaces_and_sum() {
        let gomod = "module example.com/app\n\ngo 1.21\n\nrequire (\n\tgithub.com/a/b v1.2.3\n\tgithub.com/c/d v0.1.0 // indirect\n\tgithub.com/e/f v1.0.0\n)\n\nrequire golang.org/x/net v0.1.0\n\nreplace github.com/e/f => github.com/g/f v1.0.1\n";
        let sum = "github.com/a/b v1.2.3 h1:x=\ngithub.com/a/b v1.2.3/go.mod h1:y=\ngithub.com/z/z v0.0.1 h1:z=\ngithub.com/y/y v0.0.2/go.mod h1:w=\n";
        let inv = parse_go_mod(Path::new("go.mod"), gomod, Some(sum)).unwrap();
        assert_eq!(inv.root_name.as_deref(), Some("example.com/app"));
        let got: Vec<(&str, &str, bool, usize)> = inv
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.direct, p.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("github.com/a/b", "v1.2.3", true, 6),
                ("github.com/c/d", "v0.1.0", false, 7),
                ("github.com/g/f", "v1.0.1", true, 8),
                ("golang.org/x/net", "v0.1.0", true, 11),
                ("github.com/z/z", "v0.0.1", false, 0),
            ]
        );
        assert_eq!(go_sum_pairs(sum).len(), 3);
    }
}
