//! Package URLs (purl) with the percent-encoding the purl specification requires.

use crate::inventory::{Ecosystem, Package};

/// Percent-encodes one purl component: everything but the unreserved characters.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The purl type, fixed namespace (if any) and namespace/name split of a package.
fn parts(p: &Package) -> (&'static str, Vec<String>, String) {
    let name = p.name.as_str();
    match p.ecosystem {
        Ecosystem::CratesIo => ("cargo", vec![], name.to_string()),
        Ecosystem::Npm => match name.rsplit_once('/') {
            Some((scope, n)) if scope.starts_with('@') => {
                ("npm", vec![scope.to_string()], n.to_string())
            }
            _ => ("npm", vec![], name.to_string()),
        },
        // The purl spec asks for PyPI names lowercased with `_` replaced by `-`.
        Ecosystem::PyPI => ("pypi", vec![], name.to_ascii_lowercase().replace('_', "-")),
        Ecosystem::Go => {
            let mut segs: Vec<String> = name.split('/').map(str::to_string).collect();
            let last = segs.pop().unwrap_or_default();
            ("golang", segs, last)
        }
        Ecosystem::RubyGems => ("gem", vec![], name.to_string()),
        Ecosystem::Packagist => match name.split_once('/') {
            Some((vendor, n)) => (
                "composer",
                vec![vendor.to_ascii_lowercase()],
                n.to_ascii_lowercase(),
            ),
            None => ("composer", vec![], name.to_ascii_lowercase()),
        },
        Ecosystem::Maven => match name.split_once(':') {
            Some((group, artifact)) => ("maven", vec![group.to_string()], artifact.to_string()),
            None => ("maven", vec![], name.to_string()),
        },
        Ecosystem::Debian => ("deb", vec!["debian".to_string()], name.to_string()),
        Ecosystem::Alpine => ("apk", vec!["alpine".to_string()], name.to_string()),
    }
}

/// The package URL of `p`, e.g. `pkg:npm/%40babel/core@7.16.0`.
pub fn package_url(p: &Package) -> String {
    let (ty, namespace, name) = parts(p);
    let mut out = format!("pkg:{ty}/");
    for seg in &namespace {
        out.push_str(&encode_component(seg));
        out.push('/');
    }
    out.push_str(&encode_component(&name));
    if !p.version.is_empty() {
        out.push('@');
        out.push_str(&encode_component(&p.version));
    }
    let mut quals = p.qualifiers.clone();
    quals.sort();
    for (i, (k, v)) in quals.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(&k.to_ascii_lowercase());
        out.push('=');
        out.push_str(&encode_component(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purl(name: &str, version: &str, eco: Ecosystem) -> String {
        package_url(&Package::new(name, version, eco, 1))
    }

    #[test]
    fn npm_scope_at_sign_is_encoded() {
        assert_eq!(
            purl("@babel/core", "7.16.0", Ecosystem::Npm),
            "pkg:npm/%40babel/core@7.16.0"
        );
        assert_eq!(
            purl("lodash", "4.17.21", Ecosystem::Npm),
            "pkg:npm/lodash@4.17.21"
        );
    }

    #[test]
    fn version_plus_and_pypi_names() {
        assert_eq!(
            purl(
                "github.com/go-chi/chi",
                "v4.1.2+incompatible",
                Ecosystem::Go
            ),
            "pkg:golang/github.com/go-chi/chi@v4.1.2%2Bincompatible"
        );
        assert_eq!(
            purl("Django_Filter", "2.4.0", Ecosystem::PyPI),
            "pkg:pypi/django-filter@2.4.0"
        );
        assert_eq!(
            purl("a b", "1:2.0", Ecosystem::Debian),
            "pkg:deb/debian/a%20b@1%3A2.0"
        );
    }

    #[test]
    fn qualifiers_sorted() {
        let mut p = Package::new("musl", "1.2.4-r2", Ecosystem::Alpine, 1);
        p.qualifiers = vec![
            ("arch".into(), "x86_64".into()),
            ("distro".into(), "alpine-3.19".into()),
        ];
        assert_eq!(
            package_url(&p),
            "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19"
        );
    }
}
