//! PEP 440 version ordering (PyPI).
//!
//! Key: epoch, release (trailing zeros ignored), pre-release, post-release, dev-release,
//! local label. Spellings are normalised as PEP 440 prescribes (`alpha`→`a`, `c`/`pre`/
//! `preview`→`rc`, `rev`/`r`→`post`, `1.0-1` = `1.0.post1`).

use std::cmp::Ordering;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
enum LocalPart {
    // Declared first: a string segment sorts below a numeric one.
    Str(String),
    Num(u64),
}

/// A parsed PEP 440 version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pep440 {
    epoch: u64,
    release: Vec<u64>,
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<LocalPart>,
}

fn take_num(s: &str) -> (u64, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (s[..end].parse().unwrap_or(0), &s[end..])
}

fn strip_sep(s: &str) -> &str {
    s.strip_prefix(['.', '-', '_']).unwrap_or(s)
}

/// Parses `s`; `None` when it is not a PEP 440 version.
pub fn parse(s: &str) -> Option<Pep440> {
    let lower = s.trim().to_ascii_lowercase();
    let mut s = lower.strip_prefix('v').unwrap_or(&lower);
    let (public, local) = match s.split_once('+') {
        Some((p, l)) => (p, Some(l)),
        None => (s, None),
    };
    s = public;
    let mut epoch = 0;
    if let Some((e, rest)) = s.split_once('!') {
        epoch = e.parse().ok()?;
        s = rest;
    }
    let mut release = Vec::new();
    loop {
        if !s.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let (n, rest) = take_num(s);
        release.push(n);
        s = rest;
        match s.strip_prefix('.') {
            Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => s = r,
            _ => break,
        }
    }
    let mut pre = None;
    let t = strip_sep(s);
    for (word, phase) in [
        ("alpha", 0u8),
        ("a", 0),
        ("beta", 1),
        ("b", 1),
        ("preview", 2),
        ("pre", 2),
        ("rc", 2),
        ("c", 2),
    ] {
        if let Some(rest) = t.strip_prefix(word) {
            let (n, rest) = take_num(strip_sep(rest));
            pre = Some((phase, n));
            s = rest;
            break;
        }
    }
    let mut post = None;
    let t = strip_sep(s);
    for word in ["post", "rev", "r"] {
        if let Some(rest) = t.strip_prefix(word) {
            let (n, rest) = take_num(strip_sep(rest));
            post = Some(n);
            s = rest;
            break;
        }
    }
    if post.is_none()
        && let Some(rest) = s.strip_prefix('-')
        && rest.starts_with(|c: char| c.is_ascii_digit())
    {
        let (n, rest) = take_num(rest);
        post = Some(n);
        s = rest;
    }
    let mut dev = None;
    let t = strip_sep(s);
    if let Some(rest) = t.strip_prefix("dev") {
        let (n, rest) = take_num(strip_sep(rest));
        dev = Some(n);
        s = rest;
    }
    if !s.is_empty() {
        return None;
    }
    let local = local
        .map(|l| {
            l.split(['.', '-', '_'])
                .map(|seg| match seg.parse::<u64>() {
                    Ok(n) if seg.bytes().all(|b| b.is_ascii_digit()) => LocalPart::Num(n),
                    _ => LocalPart::Str(seg.to_string()),
                })
                .collect()
        })
        .unwrap_or_default();
    while release.len() > 1 && release.last() == Some(&0) {
        release.pop();
    }
    Some(Pep440 {
        epoch,
        release,
        pre,
        post,
        dev,
        local,
    })
}

/// Compares two parsed versions.
pub fn compare_parsed(a: &Pep440, b: &Pep440) -> Ordering {
    // A dev release of a final version sorts before its pre-releases: 1.0.dev1 < 1.0a1.
    let pre_key = |v: &Pep440| match (v.pre, v.post, v.dev) {
        (None, None, Some(_)) => (0u8, 0u8, 0u64),
        (Some((phase, n)), _, _) => (1, phase, n),
        (None, _, _) => (2, 0, 0),
    };
    let post_key = |v: &Pep440| v.post.map_or((0u8, 0u64), |n| (1, n));
    let dev_key = |v: &Pep440| v.dev.map_or((1u8, 0u64), |n| (0, n));
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| a.release.cmp(&b.release))
        .then_with(|| pre_key(a).cmp(&pre_key(b)))
        .then_with(|| post_key(a).cmp(&post_key(b)))
        .then_with(|| dev_key(a).cmp(&dev_key(b)))
        .then_with(|| a.local.cmp(&b.local))
}

/// Compares two version strings; invalid ones sort first, by bytes.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => compare_parsed(&x, &y),
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
    fn pep440_summary_of_permitted_suffixes() {
        // The ordering example in PEP 440, "Summary of permitted suffixes and relative ordering".
        assert_increasing(
            compare,
            &[
                "1.dev0",
                "1.0.dev456",
                "1.0a1",
                "1.0a2.dev456",
                "1.0a12.dev456",
                "1.0a12",
                "1.0b1.dev456",
                "1.0b2",
                "1.0b2.post345.dev456",
                "1.0b2.post345",
                "1.0rc1.dev456",
                "1.0rc1",
                "1.0",
                "1.0+abc.5",
                "1.0+abc.7",
                "1.0+5",
                "1.0.post456.dev34",
                "1.0.post456",
                "1.0.15",
                "1.1.dev1",
            ],
        );
    }

    #[test]
    fn normalisation_and_epochs() {
        assert_eq!(compare("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(compare("1.0alpha1", "1.0a1"), Ordering::Equal);
        assert_eq!(compare("1.0-1", "1.0.post1"), Ordering::Equal);
        assert_eq!(compare("1.0c1", "1.0rc1"), Ordering::Equal);
        assert_eq!(compare("1!0.1", "2020.1"), Ordering::Greater);
        assert_eq!(compare("not a version", "0.0.1"), Ordering::Less);
    }
}
