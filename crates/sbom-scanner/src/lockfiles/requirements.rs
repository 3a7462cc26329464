//! requirements*.txt with pinned (`==` or `===`) versions.
//!
//! Only pinned lines name one version to match; ranges, URLs, options and includes are
//! skipped, as the file does not say what they resolve to.

use std::path::Path;

use super::{LockfileError, prefixed_hex_checksum};
use crate::inventory::{Ecosystem, Inventory, LockfileKind, Package};

/// Parses a requirements file; every pinned requirement is a direct package.
pub fn parse_requirements(path: &Path, text: &str) -> Result<Inventory, LockfileError> {
    let mut inv = Inventory::new(path, LockfileKind::Requirements);
    let mut logical = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = i + 1;
        }
        // A trailing backslash continues the requirement on the next line (used for hashes).
        if let Some(cont) = raw.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        let line = match line
            .find(" #")
            .or_else(|| line.starts_with('#').then_some(0))
        {
            Some(pos) => &line[..pos],
            None => &line[..],
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('-') {
            continue;
        }
        let (spec, options) = match line.find(" --") {
            Some(pos) => (&line[..pos], &line[pos..]),
            None => (line, ""),
        };
        let spec = spec.split(';').next().unwrap_or(spec).trim();
        let Some((name, version)) = spec.split_once("===").or_else(|| spec.split_once("==")) else {
            continue;
        };
        let name = name.split('[').next().unwrap_or(name).trim();
        let version = version.trim();
        if name.is_empty() || version.is_empty() || version.contains(['*', ',', ' ']) {
            continue;
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(LockfileError::syntax(
                path,
                start,
                format!("`{name}` is not a valid package name"),
            ));
        }
        let mut p = Package::new(name, version, Ecosystem::PyPI, start);
        p.direct = true;
        p.checksum = options
            .split_whitespace()
            .find_map(|o| o.strip_prefix("--hash="))
            .and_then(prefixed_hex_checksum);
        inv.push(p);
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_extras_markers_hashes() {
        let text = "# deps\nDjango==3.2.5  # web\ncelery[redis]==5.1.2 ; python_version >= '3.6'\nrequests>=2.0\n-r other.txt\nidna==3.10 \\\n    --hash=sha256:946d195a0d259cbba61165e88e65941f16e9b36ea6ddb97f00452bae8b1287d3\n";
        let inv = parse_requirements(Path::new("requirements.txt"), text).unwrap();
        let got: Vec<(&str, &str, usize)> = inv
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Django", "3.2.5", 2),
                ("celery", "5.1.2", 3),
                ("idna", "3.10", 6)
            ]
        );
        assert!(inv.packages[2].checksum.is_some());
    }
}
