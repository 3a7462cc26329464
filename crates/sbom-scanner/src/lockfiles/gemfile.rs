//! Gemfile.lock.
//!
//! `specs:` list each gem at four spaces (`name (version[-platform])`) and its requirements at
//! six; the `DEPENDENCIES` section lists what the Gemfile asks for, i.e. the direct gems.

use std::collections::HashMap;
use std::path::Path;

use super::LockfileError;
use crate::inventory::{Ecosystem, Inventory, LockfileKind, Package};

fn name_and_paren(t: &str) -> (&str, Option<&str>) {
    match t.split_once(" (") {
        Some((n, rest)) => (n.trim(), Some(rest.trim_end_matches(')'))),
        None => (t.trim().trim_end_matches('!'), None),
    }
}

/// Parses a Gemfile.lock.
pub fn parse_gemfile_lock(path: &Path, text: &str) -> Result<Inventory, LockfileError> {
    let mut inv = Inventory::new(path, LockfileKind::GemfileLock);
    let mut section = String::new();
    let mut in_specs = false;
    let mut raw_deps: Vec<Vec<String>> = Vec::new();
    let mut direct: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if indent == 0 {
            section = t.to_string();
            in_specs = false;
            continue;
        }
        match section.as_str() {
            "GEM" | "GIT" | "PATH" | "PLUGIN SOURCE" => {
                if indent == 2 {
                    in_specs = t == "specs:";
                } else if in_specs && indent == 4 {
                    let (name, version) = name_and_paren(t);
                    let Some(version) = version else {
                        return Err(LockfileError::syntax(
                            path,
                            i + 1,
                            format!("spec `{t}` has no version"),
                        ));
                    };
                    // Platform gems append `-x86_64-linux` etc.; the version is the first part.
                    let (ver, platform) = match version.split_once('-') {
                        Some((v, p)) if v.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
                            (v, Some(p))
                        }
                        _ => (version, None),
                    };
                    let mut p = Package::new(name, ver, Ecosystem::RubyGems, i + 1);
                    if let Some(pl) = platform {
                        p.qualifiers.push(("platform".into(), pl.to_string()));
                    }
                    inv.push(p);
                    raw_deps.push(Vec::new());
                } else if in_specs && indent == 6 {
                    let (name, _) = name_and_paren(t);
                    if let Some(d) = raw_deps.last_mut() {
                        d.push(name.to_string());
                    }
                }
            }
            "DEPENDENCIES" if indent == 2 => direct.push(name_and_paren(t).0.to_string()),
            _ => {}
        }
    }
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in inv.packages.iter().enumerate() {
        by_name.entry(p.name.clone()).or_default().push(i);
    }
    for (from, deps) in raw_deps.iter().enumerate() {
        for d in deps {
            if let Some(ts) = by_name.get(d) {
                inv.deps[from].extend(ts);
            }
        }
    }
    for d in &direct {
        for &t in by_name.get(d).into_iter().flatten() {
            inv.packages[t].direct = true;
        }
    }
    inv.normalize_edges();
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_platforms_and_direct() {
        let text = "GEM\n  remote: https://rubygems.org/\n  specs:\n    nokogiri (1.13.6-x86_64-linux)\n      racc (~> 1.4)\n    racc (1.6.0)\n    rails (6.1.4)\n      nokogiri (>= 1.6)\n\nPLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  rails (~> 6.1.0)\n\nBUNDLED WITH\n   2.1.4\n";
        let inv = parse_gemfile_lock(Path::new("Gemfile.lock"), text).unwrap();
        let got: Vec<(&str, &str, bool, usize)> = inv
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.direct, p.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("nokogiri", "1.13.6", false, 4),
                ("racc", "1.6.0", false, 6),
                ("rails", "6.1.4", true, 7)
            ]
        );
        assert_eq!(inv.deps[2], vec![0]);
        assert_eq!(inv.deps[0], vec![1]);
        assert!(inv.packages[0].purl().ends_with("?platform=x86_64-linux"));
    }
}
