//! Alpine's installed database (`/lib/apk/db/installed`).
//!
//! Paragraphs of one-letter fields: `P` name, `V` version, `A` arch, `L` licence, `C` checksum
//! (`Q1` + base64 SHA-1), `D` dependencies, `p` what the package provides (`so:`, `cmd:`).

use std::collections::HashMap;
use std::path::Path;

use super::dpkg::paragraphs;
use super::{LockfileError, base64_decode, hex};
use crate::inventory::{Checksum, Ecosystem, Inventory, LockfileKind, Package};

fn provided_name(token: &str) -> &str {
    let t = token.trim_start_matches('!');
    let end = t.find(['=', '<', '>', '~']).unwrap_or(t.len());
    &t[..end]
}

/// Parses an apk installed database.
pub fn parse_apk_installed(path: &Path, text: &str) -> Result<Inventory, LockfileError> {
    let mut inv = Inventory::new(path, LockfileKind::ApkInstalled);
    let mut depends: Vec<String> = Vec::new();
    let mut provider: HashMap<String, usize> = HashMap::new();
    // File lists (F:/R: lines) repeat keys within a paragraph; none of them is read here.
    for (line, f) in paragraphs(path, text, ':')? {
        let (Some(name), Some(version)) = (f.get("P"), f.get("V")) else {
            return Err(LockfileError::syntax(
                path,
                line,
                "package without P: or V:",
            ));
        };
        let mut p = Package::new(name, version, Ecosystem::Alpine, line);
        if let Some(arch) = f.get("A") {
            p.qualifiers.push(("arch".into(), arch.clone()));
        }
        p.license = f.get("L").cloned();
        if let Some(sum) = f
            .get("C")
            .and_then(|c| c.strip_prefix("Q1"))
            .and_then(base64_decode)
        {
            p.checksum = Some(Checksum {
                algorithm: "SHA-1".into(),
                hex: hex(&sum),
            });
        }
        let idx = inv.push(p);
        provider.insert(name.clone(), idx);
        for tok in f
            .get("p")
            .map(String::as_str)
            .unwrap_or("")
            .split_whitespace()
        {
            provider
                .entry(provided_name(tok).to_string())
                .or_insert(idx);
        }
        depends.push(f.get("D").cloned().unwrap_or_default());
    }
    for (from, d) in depends.iter().enumerate() {
        for tok in d.split_whitespace().filter(|t| !t.starts_with('!')) {
            if let Some(&t) = provider.get(provided_name(tok)) {
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
    fn provides_resolve_dependencies() {
        let text = "C:Q1n0QmW9bXpXZdEUZxtAHgzOFHKHg=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:libc.musl-x86_64.so.1\n\nP:busybox\nV:1.36.1-r15\nA:x86_64\nL:GPL-2.0-only\nD:so:libc.musl-x86_64.so.1\n";
        let inv = parse_apk_installed(Path::new("lib/apk/db/installed"), text).unwrap();
        assert_eq!(inv.packages.len(), 2);
        assert_eq!(
            inv.packages[0].checksum.as_ref().unwrap().hex,
            "9f44265bd6d7a5765d114671b401e0cce1472878"
        );
        assert_eq!(inv.deps[1], vec![0]);
        assert_eq!(inv.packages[1].line, 10);
        assert_eq!(inv.packages[0].license.as_deref(), Some("MIT"));
    }
}
