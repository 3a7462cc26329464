//! Semantic Versioning 2.0.0 precedence (crates.io, npm).
//!
//! Build metadata does not affect precedence, but it breaks ties so the order stays total.
//! A leading `v` and missing minor/patch components are accepted, as registries carry them.

use std::cmp::Ordering;

/// A parsed SemVer version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer<'a> {
    /// Major, minor, patch.
    pub core: [u64; 3],
    /// Pre-release identifiers (empty for a release).
    pub pre: Vec<&'a str>,
    /// Build metadata, without the `+`.
    pub build: &'a str,
}

/// Parses `s`; `None` when it is not a version.
pub fn parse(s: &str) -> Option<SemVer<'_>> {
    let s = s.trim();
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let (rest, build) = s.split_once('+').unwrap_or((s, ""));
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, p.split('.').collect()),
        None => (rest, Vec::new()),
    };
    let mut nums = [0u64; 3];
    let mut count = 0;
    for (i, part) in core.split('.').enumerate() {
        if i >= 3 || part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nums[i] = part.parse().ok()?;
        count += 1;
    }
    if count == 0 {
        return None;
    }
    Some(SemVer {
        core: nums,
        pre,
        build,
    })
}

fn compare_identifier(a: &str, b: &str) -> Ordering {
    let an = !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit());
    let bn = !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit());
    match (an, bn) {
        // Compare numerically without overflow: longer digit strings (sans leading zeros) are larger.
        (true, true) => {
            let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
            a.len().cmp(&b.len()).then_with(|| a.cmp(b))
        }
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

/// Compares two parsed versions by SemVer precedence, then build metadata.
pub fn compare_parsed(a: &SemVer<'_>, b: &SemVer<'_>) -> Ordering {
    a.core
        .cmp(&b.core)
        .then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                for (x, y) in a.pre.iter().zip(&b.pre) {
                    let o = compare_identifier(x, y);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.pre.len().cmp(&b.pre.len())
            }
        })
        .then_with(|| a.build.cmp(b.build))
}

/// Compares two version strings; unparsable ones sort first, by bytes.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => compare_parsed(&x, &y).then_with(|| a.cmp(b)),
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
    fn spec_precedence_examples() {
        // semver.org §11.
        assert_increasing(compare, &["1.0.0", "2.0.0", "2.1.0", "2.1.1"]);
        assert_increasing(
            compare,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
            ],
        );
    }

    #[test]
    fn osv_zero_prerelease_is_lowest() {
        assert_eq!(compare("0.0.0-0", "0.0.0"), Ordering::Less);
        assert_eq!(compare("0.3.1-0", "0.3.0"), Ordering::Greater);
        assert_eq!(compare("0.3.1-0", "0.3.1-alpha"), Ordering::Less);
    }

    #[test]
    fn build_metadata_only_breaks_ties() {
        assert_eq!(compare("1.0.0+a", "1.0.0+b"), Ordering::Less);
        assert_eq!(compare("1.0.0+zzz", "1.0.1"), Ordering::Less);
        assert_eq!(compare("garbage", "0.0.1"), Ordering::Less);
        assert_eq!(compare("v1.2", "1.2.0"), Ordering::Greater);
        assert_eq!(
            compare("1.0.0-99999999999999999999", "1.0.0-100000000000000000000"),
            Ordering::Less
        );
    }
}
