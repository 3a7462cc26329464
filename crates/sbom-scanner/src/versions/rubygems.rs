//! RubyGems version ordering (`Gem::Version#<=>`).
//!
//! Segments split at dots and at digit/letter boundaries; a letter segment marks a
//! pre-release and sorts below any number (`1.0.a` < `1.0`); trailing zero segments of the
//! release and the pre-release parts are dropped before comparing (`1.0.0` == `1`).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Num(u64),
    Str(String),
}

fn segments(v: &str) -> Option<Vec<Seg>> {
    let v = v.trim().replace('-', ".pre.");
    if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
        return None;
    }
    let mut out = Vec::new();
    for part in v.split('.') {
        let mut rest = part;
        while !rest.is_empty() {
            let digits = rest.starts_with(|c: char| c.is_ascii_digit());
            let end = rest
                .find(|c: char| c.is_ascii_digit() != digits)
                .unwrap_or(rest.len());
            let (tok, tail) = rest.split_at(end);
            out.push(if digits {
                Seg::Num(tok.parse().ok()?)
            } else {
                Seg::Str(tok.to_string())
            });
            rest = tail;
        }
    }
    // Canonical segments: drop trailing zeros of the release part and of the pre-release part.
    let split = out
        .iter()
        .position(|s| matches!(s, Seg::Str(_)))
        .unwrap_or(out.len());
    let (mut release, mut pre) = (out[..split].to_vec(), out[split..].to_vec());
    while release.last() == Some(&Seg::Num(0)) {
        release.pop();
    }
    while pre.last() == Some(&Seg::Num(0)) {
        pre.pop();
    }
    release.extend(pre);
    Some(release)
}

/// Compares two gem versions; invalid ones sort first, by bytes.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (Some(x), Some(y)) = (segments(a), segments(b)) else {
        return match (segments(a).is_some(), segments(b).is_some()) {
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => a.cmp(b),
        };
    };
    let zero = Seg::Num(0);
    for i in 0..x.len().max(y.len()) {
        let (l, r) = (x.get(i).unwrap_or(&zero), y.get(i).unwrap_or(&zero));
        let o = match (l, r) {
            (Seg::Num(m), Seg::Num(n)) => m.cmp(n),
            (Seg::Str(s), Seg::Str(t)) => s.cmp(t),
            (Seg::Num(_), Seg::Str(_)) => Ordering::Greater,
            (Seg::Str(_), Seg::Num(_)) => Ordering::Less,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::assert_increasing;

    #[test]
    fn gem_version_documentation_order() {
        // Gem::Version docs: "1.0.a.2" < "1.0.b1" < "1.0" and prereleases below releases.
        assert_increasing(
            compare,
            &[
                "1.0.a",
                "1.0.a.2",
                "1.0.b1",
                "1.0.rc1",
                "1.0",
                "1.0.1",
                "1.1",
                "2.0.0.pre",
                "2.0",
            ],
        );
        assert_eq!(compare("1.0.0", "1"), Ordering::Equal);
        assert_eq!(compare("1.0.a10", "1.0.a9"), Ordering::Greater);
        assert_eq!(compare("1.0-1", "1.0"), Ordering::Less);
        assert_eq!(compare("5.5.0.1.g6836", "5.5.0.1"), Ordering::Less);
    }
}
