//! The advisories found through the OSV export equal those found by evaluating RustSec's own
//! format (the database `cargo audit` reads) with Cargo's version-requirement rules, on the
//! real Cargo.lock files. Yanked-crate checks are out of scope, as for `cargo audit --no-fetch`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use ironpost_sbom_scanner::lockfiles;
use ironpost_sbom_scanner::scan::{IgnoreList, scan};
use ironpost_sbom_scanner::versions::semver::{SemVer, compare_parsed, parse};
use ironpost_sbom_scanner::vulndb::VulnDb;

const ADVISORIES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/advisories"
);
const LOCKFILES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/lockfiles"
);

struct Native {
    id: String,
    package: String,
    patched: Vec<String>,
    unaffected: Vec<String>,
}

fn front_matter(text: &str) -> Option<&str> {
    let start = text.find("```toml")? + "```toml".len();
    let end = text[start..].find("```")? + start;
    Some(&text[start..end])
}

fn read_native(dir: &Path, out: &mut Vec<Native>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            read_native(&p, out);
        } else if p.extension().is_some_and(|x| x == "md")
            && p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("RUSTSEC-")
        {
            let text = std::fs::read_to_string(&p).unwrap();
            let t: toml::Table = toml::from_str(front_matter(&text).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let adv = t["advisory"].as_table().unwrap();
            if adv.contains_key("withdrawn") {
                continue;
            }
            let list = |k: &str| -> Vec<String> {
                t.get("versions")
                    .and_then(|v| v.get(k))
                    .and_then(|v| v.as_array())
                    .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default()
            };
            out.push(Native {
                id: adv["id"].as_str().unwrap().to_string(),
                package: adv["package"].as_str().unwrap().to_string(),
                patched: list("patched"),
                unaffected: list("unaffected"),
            });
        }
    }
}

/// A version given with one to three components, the missing ones counted.
fn partial(v: &str) -> (SemVer<'static>, usize) {
    let v = v.trim();
    let parts = v.split('-').next().unwrap().split('.').count();
    let full = match parts {
        1 => format!("{v}.0.0"),
        2 => {
            let (core, pre) = v.split_once('-').map_or((v, None), |(c, p)| (c, Some(p)));
            format!(
                "{core}.0{}",
                pre.map(|p| format!("-{p}")).unwrap_or_default()
            )
        }
        _ => v.to_string(),
    };
    let leaked: &'static str = Box::leak(full.into_boxed_str());
    (parse(leaked).unwrap(), parts)
}

fn bump(v: &SemVer<'_>, at: usize) -> SemVer<'static> {
    let mut core = v.core;
    core[at] += 1;
    for c in core.iter_mut().skip(at + 1) {
        *c = 0;
    }
    SemVer {
        core,
        pre: vec!["0"],
        build: "",
    }
}

/// Cargo's `VersionReq` semantics for one comparator, as (lower inclusive, upper exclusive).
fn comparator(c: &str) -> (Option<SemVer<'static>>, Option<SemVer<'static>>) {
    let c = c.trim();
    let (op, rest) = ["<=", ">=", "<", ">", "=", "^", "~"]
        .iter()
        .find_map(|op| c.strip_prefix(op).map(|r| (*op, r.trim())))
        .unwrap_or(("^", c));
    let (v, parts) = partial(rest);
    let major_minor_patch_bump = |n: usize| bump(&v, n.min(2));
    match op {
        ">=" => (Some(v), None),
        ">" => (
            Some(if parts < 3 {
                major_minor_patch_bump(parts - 1)
            } else {
                SemVer {
                    build: "",
                    ..v.clone()
                }
            }),
            None,
        ),
        "<" => (None, Some(v)),
        "<=" => (
            None,
            Some(if parts < 3 {
                major_minor_patch_bump(parts - 1)
            } else {
                bump(&v, 2)
            }),
        ),
        "=" => {
            let upper = if parts < 3 {
                major_minor_patch_bump(parts - 1)
            } else {
                bump(&v, 2)
            };
            (Some(v), Some(upper))
        }
        "~" => {
            let upper = if parts == 1 { bump(&v, 0) } else { bump(&v, 1) };
            (Some(v), Some(upper))
        }
        _ => {
            let upper = if v.core[0] > 0 || parts == 1 {
                bump(&v, 0)
            } else if v.core[1] > 0 || parts == 2 {
                bump(&v, 1)
            } else {
                bump(&v, 2)
            };
            (Some(v), Some(upper))
        }
    }
}

fn req_matches(req: &str, version: &SemVer<'_>) -> bool {
    let comparators: Vec<&str> = req.split(',').collect();
    let in_range = comparators.iter().all(|c| {
        let (lo, hi) = comparator(c);
        // An exclusive `>` on a full version is "greater than", not "at least".
        let strictly_greater = c.trim().starts_with('>')
            && !c.trim().starts_with(">=")
            && c.trim().trim_start_matches('>').trim().split('.').count() == 3;
        let lo_ok = lo.is_none_or(|l| {
            let o = compare_parsed(
                &SemVer {
                    build: "",
                    ..version.clone()
                },
                &l,
            );
            if strictly_greater {
                o.is_gt()
            } else {
                o.is_ge()
            }
        });
        let hi_ok = hi.is_none_or(|h| {
            compare_parsed(
                &SemVer {
                    build: "",
                    ..version.clone()
                },
                &h,
            )
            .is_lt()
        });
        lo_ok && hi_ok
    });
    // Cargo: a pre-release only matches a requirement naming a pre-release of the same x.y.z.
    in_range
        && (version.pre.is_empty()
            || comparators.iter().any(|c| {
                let (v, _) = partial(
                    c.trim()
                        .trim_start_matches(['<', '>', '=', '^', '~'])
                        .trim(),
                );
                !v.pre.is_empty() && v.core == version.core
            }))
}

#[test]
fn osv_findings_equal_rustsec_native_evaluation() {
    let mut native = Vec::new();
    read_native(
        &Path::new(ADVISORIES).join("rustsec-advisory-db/crates"),
        &mut native,
    );
    assert!(native.len() > 900);
    let db = VulnDb::import(&[Path::new(ADVISORIES).join("rustsec-osv")]).unwrap();
    for rel in ["vector/Cargo.lock", "cargo/Cargo.lock"] {
        let inv = lockfiles::parse_file(&PathBuf::from(LOCKFILES).join(rel)).unwrap();
        let mut expected = BTreeSet::new();
        for p in &inv.packages {
            let v = parse(&p.version).unwrap();
            for a in native.iter().filter(|a| a.package == p.name) {
                let safe = a
                    .patched
                    .iter()
                    .chain(&a.unaffected)
                    .any(|r| req_matches(r, &v));
                if !safe {
                    expected.insert((a.id.clone(), p.name.clone(), p.version.clone()));
                }
            }
        }
        let report = scan(
            std::slice::from_ref(&inv),
            &db,
            &IgnoreList::default(),
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        );
        let found: BTreeSet<(String, String, String)> = report
            .findings
            .iter()
            // The OSV export holds one record the native snapshot lacks.
            .filter(|f| f.id != "RUSTSEC-2025-0000")
            .map(|f| (f.id.clone(), f.package.clone(), f.version.clone()))
            .collect();
        assert!(expected.len() > 20, "{rel}: {}", expected.len());
        let missing: Vec<_> = expected.difference(&found).collect();
        let extra: Vec<_> = found.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{rel}: missing {missing:#?}\nextra {extra:#?}"
        );
    }
}

#[test]
fn cargo_requirement_rules() {
    fn v(s: &str) -> SemVer<'_> {
        parse(s).unwrap()
    }
    assert!(req_matches("^0.54.2", &v("0.54.9")) && !req_matches("0.54.2", &v("0.55.0")));
    assert!(req_matches(">= 1.2", &v("1.2.0")) && !req_matches("< 0.5.0, >= 0.4.3", &v("0.4.2")));
    assert!(req_matches("~1.2.3", &v("1.2.9")) && !req_matches("~1.2.3", &v("1.3.0")));
    assert!(!req_matches(">= 1.0.0", &v("1.0.0-rc.1")));
    assert!(req_matches("> 1.2.3", &v("1.2.4")) && !req_matches("> 1.2.3", &v("1.2.3")));
}
