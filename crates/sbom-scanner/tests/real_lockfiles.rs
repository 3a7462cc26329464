//! Every real lockfile in the shared data set parses, with the package counts its MANIFEST.tsv
//! gives, lines that point at the package, and a dependency graph.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ironpost_sbom_scanner::lockfiles::{self, go_sum_pairs};
use ironpost_sbom_scanner::{Inventory, LockfileKind};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/lockfiles"
);

fn path(rel: &str) -> PathBuf {
    Path::new(DATA).join(rel)
}

/// The first number in each MANIFEST.tsv note, keyed by local path (`lockfiles/x/y`).
fn manifest_counts() -> HashMap<String, usize> {
    let text = std::fs::read_to_string(path("MANIFEST.tsv")).expect("MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let note = cols.get(5)?;
            let after = note.split_once("; ")?.1.split_once("; ")?.1;
            let n: String = after.chars().take_while(char::is_ascii_digit).collect();
            Some((cols[0].to_string(), n.parse().ok()?))
        })
        .collect()
}

fn parse(rel: &str) -> Inventory {
    lockfiles::parse_file(&path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Checks lines point at text naming the package, and edges stay in range.
fn check_shape(inv: &Inventory, rel: &str) {
    let text = std::fs::read_to_string(path(rel)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for p in &inv.packages {
        if p.line == 0 {
            continue;
        }
        let l = lines[p.line - 1];
        let short = p.name.rsplit('/').next().unwrap();
        let near = lines[p.line - 1..(p.line + 2).min(lines.len())].join("\n");
        assert!(
            l.contains(short)
                || near.contains(short)
                || near.to_lowercase().contains(&short.to_lowercase()),
            "{rel}:{} does not name {}: {l}",
            p.line,
            p.name
        );
    }
    assert_eq!(inv.deps.len(), inv.packages.len());
    for list in &inv.deps {
        assert!(list.iter().all(|&j| j < inv.packages.len()));
    }
    assert!(
        inv.packages.iter().any(|p| p.direct),
        "{rel}: no direct dependency"
    );
}

#[test]
fn manifest_counts_are_read() {
    let m = manifest_counts();
    assert_eq!(m.len(), 12);
    assert_eq!(m["lockfiles/vector/Cargo.lock"], 774);
}

#[test]
fn cargo_lock_v3_files() {
    let m = manifest_counts();
    for (rel, members) in [("vector/Cargo.lock", 27), ("cargo/Cargo.lock", 16)] {
        let inv = parse(rel);
        assert_eq!(inv.kind, LockfileKind::CargoLock);
        // The MANIFEST counts every [[package]]; workspace members (no `source`) are the
        // project itself and are not in the inventory.
        assert_eq!(
            inv.packages.len() + members,
            m[&format!("lockfiles/{rel}")],
            "{rel}"
        );
        check_shape(&inv, rel);
        assert!(
            inv.packages
                .iter()
                .filter(|p| p.qualifiers.is_empty())
                .all(|p| p.checksum.is_some()),
            "{rel}: crates.io crates carry checksums"
        );
        assert!(inv.deps.iter().map(Vec::len).sum::<usize>() > inv.packages.len());
    }
    let cargo = parse("cargo/Cargo.lock");
    assert_eq!(cargo.root_name.as_deref(), Some("benchsuite"));
    let line = cargo
        .packages
        .iter()
        .find(|p| p.name == "adler")
        .unwrap()
        .line;
    assert_eq!(line, 5);
}

#[test]
fn npm_lockfiles_v1_and_v2() {
    let m = manifest_counts();
    for rel in [
        "insomnia/package-lock.json",
        "etherpad-lite/package-lock.json",
    ] {
        let inv = parse(rel);
        assert_eq!(inv.packages.len(), m[&format!("lockfiles/{rel}")], "{rel}");
        check_shape(&inv, rel);
        assert!(
            inv.packages.iter().all(|p| p.line > 0),
            "{rel}: every package has a line"
        );
    }
    let inv = parse("insomnia/package-lock.json");
    assert!(
        inv.packages
            .iter()
            .any(|p| p.scope == ironpost_sbom_scanner::Scope::Dev)
    );
    assert_eq!(inv.root_name.as_deref(), Some("insomnia"));
}

#[test]
fn yarn_classic() {
    let inv = parse("hyper/yarn.lock");
    assert_eq!(
        inv.packages.len(),
        manifest_counts()["lockfiles/hyper/yarn.lock"]
    );
    check_shape(&inv, "hyper/yarn.lock");
    let with_sum = inv.packages.iter().filter(|p| p.checksum.is_some()).count();
    assert_eq!(with_sum, text_count("hyper/yarn.lock", "  integrity "));
}

fn text_count(rel: &str, prefix: &str) -> usize {
    std::fs::read_to_string(path(rel))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .count()
}

#[test]
fn pnpm_v5() {
    let inv = parse("vue-core/pnpm-lock.yaml");
    assert_eq!(
        inv.packages.len(),
        manifest_counts()["lockfiles/vue-core/pnpm-lock.yaml"]
    );
    check_shape(&inv, "vue-core/pnpm-lock.yaml");
    assert!(inv.packages.iter().all(|p| p.line > 0));
    let direct = inv.packages.iter().filter(|p| p.direct).count();
    assert!(
        direct >= 40,
        "importers give the direct dependencies, got {direct}"
    );
}

#[test]
fn python_poetry_and_requirements() {
    let m = manifest_counts();
    for rel in ["saleor/poetry.lock", "saleor/requirements.txt"] {
        let inv = parse(rel);
        assert_eq!(inv.packages.len(), m[&format!("lockfiles/{rel}")], "{rel}");
        check_shape(&inv, rel);
    }
}

#[test]
fn go_mod_with_go_sum() {
    let m = manifest_counts();
    let sum = std::fs::read_to_string(path("caddy/go.sum")).unwrap();
    assert_eq!(go_sum_pairs(&sum).len(), m["lockfiles/caddy/go.sum"]);
    let inv = parse("caddy/go.mod");
    let direct = inv.packages.iter().filter(|p| p.line > 0).count();
    assert_eq!(
        direct, m["lockfiles/caddy/go.mod"],
        "one package per require line"
    );
    assert!(inv.packages.len() > direct && inv.packages.len() < go_sum_pairs(&sum).len());
    check_shape(&inv, "caddy/go.mod");
}

#[test]
fn gemfile_and_composer() {
    let m = manifest_counts();
    let inv = parse("rubygems.org/Gemfile.lock");
    assert_eq!(inv.packages.len(), m["lockfiles/rubygems.org/Gemfile.lock"]);
    check_shape(&inv, "rubygems.org/Gemfile.lock");
    let inv = parse("bookstack/composer.lock");
    // MANIFEST: "89 packages + 53 dev".
    assert_eq!(
        inv.packages.len(),
        m["lockfiles/bookstack/composer.lock"] + 53
    );
    assert_eq!(
        inv.packages
            .iter()
            .filter(|p| p.scope == ironpost_sbom_scanner::Scope::Dev)
            .count(),
        53
    );
    check_shape(&inv, "bookstack/composer.lock");
}

/// Every parser, given every real file (of any format) whole or cut short, returns a value or
/// an error naming the file, and never panics.
#[test]
fn wrong_or_truncated_input_never_panics() {
    use ironpost_sbom_scanner::LockfileKind::*;
    let kinds = [
        CargoLock,
        NpmLock,
        YarnLock,
        PnpmLock,
        PoetryLock,
        UvLock,
        PipfileLock,
        Requirements,
        GoMod,
        GemfileLock,
        ComposerLock,
        DpkgStatus,
        ApkInstalled,
    ];
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = std::fs::read_dir(DATA)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).into_iter().flatten())
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.len() >= 12);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for cut in [
            text.len(),
            text.len() / 3,
            text.len() / 2 + 7,
            100.min(text.len()),
        ] {
            let mut end = cut;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let target = dir.path().join("input");
            std::fs::write(&target, &text[..end]).unwrap();
            for kind in kinds {
                if let Err(e) = lockfiles::parse_file_as(&target, kind) {
                    assert!(
                        e.to_string().contains("input"),
                        "{kind:?} on {}: {e}",
                        f.display()
                    );
                }
            }
        }
    }
}

#[test]
fn yarn_classic_resolves_every_dependency_line() {
    let inv = parse("hyper/yarn.lock");
    let edges: usize = inv.deps.iter().map(Vec::len).sum();
    // Dependency entries are the lines indented by four spaces.
    assert_eq!(edges, text_count("hyper/yarn.lock", "    "));
}
