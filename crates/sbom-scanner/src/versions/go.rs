//! Go module versions: SemVer with a `v` prefix, pseudo-versions and `+incompatible`.
//!
//! Pseudo-versions (`v0.0.0-20170710044230-e206f873d14a`, `v1.2.4-0.2021…`) are SemVer
//! pre-releases by construction, so SemVer precedence orders them by their timestamps.

use std::cmp::Ordering;

use super::semver;

/// Compares two Go module versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    semver::compare(a, b)
}

/// Whether `v` is a pseudo-version (a commit, not a tag).
pub fn is_pseudo(v: &str) -> bool {
    let Some(parsed) = semver::parse(v) else {
        return false;
    };
    let pre = parsed.pre.join(".");
    // The pre-release ends in `yyyymmddhhmmss-abcdefabcdef`, alone or after a `.`.
    let Some(tail_start) = pre.len().checked_sub(27) else {
        return false;
    };
    let tail = pre.as_bytes();
    let (stamp, dash, rev) = (
        &tail[tail_start..tail_start + 14],
        tail[tail_start + 14],
        &tail[tail_start + 15..],
    );
    (tail_start == 0 || tail[tail_start - 1] == b'.')
        && stamp.iter().all(u8::is_ascii_digit)
        && dash == b'-'
        && rev.iter().all(u8::is_ascii_hexdigit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::assert_increasing;

    #[test]
    fn pseudo_versions_order_by_time_and_base() {
        // go.dev/ref/mod#pseudo-versions: vX.0.0-yyyymmddhhmmss-abcdef, vX.Y.Z-pre.0.yyyy…, vX.Y.(Z+1)-0.yyyy…
        assert_increasing(
            compare,
            &[
                "v0.0.0-20170710044230-e206f873d14a",
                "v0.0.0-20200219035652-afde56e7acac",
                "v0.1.0",
                "v1.0.1-0.20200219035652-afde56e7acac",
                "v1.0.1",
                "v1.2.0-pre",
                "v1.2.0-pre.0.20210101000000-abcdefabcdef",
                "v1.2.0",
            ],
        );
        assert!(is_pseudo("v0.0.0-20170710044230-e206f873d14a"));
        assert!(is_pseudo("v1.0.1-0.20200219035652-afde56e7acac"));
        assert!(!is_pseudo("v1.0.1"));
    }

    #[test]
    fn incompatible_is_build_metadata() {
        assert_eq!(compare("v4.1.2+incompatible", "v4.1.3"), Ordering::Less);
        assert_eq!(compare("v4.1.2+incompatible", "v4.1.1"), Ordering::Greater);
    }
}
