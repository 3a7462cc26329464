//! Debian version ordering (deb-version(7), dpkg's `verrevcmp`).
//!
//! `[epoch:]upstream[-revision]`; non-digit runs compare character by character where `~`
//! sorts before everything (even the end), then the end, then letters, then other characters;
//! digit runs compare numerically.

use std::cmp::Ordering;

fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

fn split(v: &str) -> (u64, &str, &str) {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.bytes().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
        _ => (0, v),
    };
    let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
    (epoch, upstream, revision)
}

/// Compares two Debian versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua, ub))
        .then_with(|| verrevcmp(ra, rb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::assert_increasing;

    #[test]
    fn deb_version_manual_examples() {
        // deb-version(7): "~~" < "~~a" < "~" < "" < "a".
        assert_increasing(compare, &["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"]);
        assert_increasing(
            compare,
            &["1.0-1", "1.0-1+b1", "1.0-2", "1.0.1-1", "1:0.9-1", "2:0.1"],
        );
        assert_eq!(compare("1.0-01", "1.0-1"), Ordering::Equal);
        assert_eq!(compare("2.36-9+deb12u4", "2.36-9+deb12u10"), Ordering::Less);
        assert_eq!(
            compare("7.88.1-10+deb12u5", "7.88.1-10+deb12u12"),
            Ordering::Less
        );
    }
}
