//! Alpine apk version ordering (apk-tools `apk_version_compare`).
//!
//! `digits{.digits}[letter]{_suffix[N]}[-rN]`; pre-release suffixes `_alpha`, `_beta`,
//! `_pre`, `_rc` sort below the plain version, `_cvs`, `_svn`, `_git`, `_hg`, `_p` above it.

use std::cmp::Ordering;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Apk {
    numbers: Vec<u64>,
    letter: u8,
    suffixes: Vec<(i8, u64)>,
    revision: u64,
}

fn suffix_rank(s: &str) -> Option<i8> {
    Some(match s {
        "alpha" => -4,
        "beta" => -3,
        "pre" => -2,
        "rc" => -1,
        "cvs" => 1,
        "svn" => 2,
        "git" => 3,
        "hg" => 4,
        "p" => 5,
        _ => return None,
    })
}

fn parse(v: &str) -> Option<Apk> {
    let v = v.trim();
    let (body, revision) = match v.rsplit_once("-r") {
        Some((b, r)) if !r.is_empty() && r.bytes().all(|c| c.is_ascii_digit()) => {
            (b, r.parse().ok()?)
        }
        _ => (v, 0),
    };
    let mut parts = body.split('_');
    let head = parts.next()?;
    let num_end = head
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(head.len());
    let (nums, rest) = head.split_at(num_end);
    if nums.is_empty() || nums.starts_with('.') {
        return None;
    }
    let numbers = nums
        .split('.')
        .map(|n| n.parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    let letter = match rest.as_bytes() {
        [] => 0,
        [c] if c.is_ascii_lowercase() => *c,
        _ => return None,
    };
    let mut suffixes = Vec::new();
    for s in parts {
        let end = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
        let rank = suffix_rank(&s[..end])?;
        let n = if end < s.len() {
            s[end..].parse().ok()?
        } else {
            0
        };
        suffixes.push((rank, n));
    }
    // No suffix ranks between the pre-release and post-release ones.
    suffixes.push((0, 0));
    Some(Apk {
        numbers,
        letter,
        suffixes,
        revision,
    })
}

/// Compares two apk versions; invalid ones sort first, by bytes.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::assert_increasing;

    #[test]
    fn apk_tools_ordering() {
        assert_increasing(
            compare,
            &[
                "1.0_alpha",
                "1.0_alpha2",
                "1.0_beta",
                "1.0_pre1",
                "1.0_rc1",
                "1.0",
                "1.0-r1",
                "1.0_p1",
                "1.0a",
                "1.0.1",
                "1.2.4-r2",
                "1.10",
            ],
        );
        assert_eq!(compare("3.0.8-r0", "3.0.8"), Ordering::Equal);
    }
}
