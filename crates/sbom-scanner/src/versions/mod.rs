//! One total version ordering per ecosystem, each from its own specification.
//!
//! Every ordering is total over arbitrary strings: text that does not parse sorts below
//! everything that does and falls back to byte order among itself, so sorting and range
//! checks never panic and never treat two distinct strings as unordered.

pub mod apk;
pub mod dpkg;
pub mod go;
pub mod maven;
pub mod pep440;
pub mod rubygems;
pub mod semver;

use std::cmp::Ordering;

use crate::inventory::Ecosystem;

/// Compares two versions of `ecosystem` (Composer uses SemVer-like ordering here).
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Ordering {
    match ecosystem {
        Ecosystem::CratesIo | Ecosystem::Npm | Ecosystem::Packagist => semver::compare(a, b),
        Ecosystem::Go => go::compare(a, b),
        Ecosystem::PyPI => pep440::compare(a, b),
        Ecosystem::RubyGems => rubygems::compare(a, b),
        Ecosystem::Maven => maven::compare(a, b),
        Ecosystem::Debian => dpkg::compare(a, b),
        Ecosystem::Alpine => apk::compare(a, b),
    }
}

/// Checks that `list` is strictly increasing under `cmp`, for the test vectors of each ordering.
#[cfg(test)]
pub(crate) fn assert_increasing(cmp: fn(&str, &str) -> Ordering, list: &[&str]) {
    for (i, a) in list.iter().enumerate() {
        assert_eq!(cmp(a, a), Ordering::Equal, "{a} == {a}");
        for b in &list[i + 1..] {
            assert_eq!(cmp(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(cmp(b, a), Ordering::Greater, "{b} > {a}");
        }
    }
}
