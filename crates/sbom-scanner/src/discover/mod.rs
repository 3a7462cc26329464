//! Finds lockfiles under the paths a user names.
//!
//! The walk is recursive, skips directories by name (`.git`, `target`, `node_modules`, ...),
//! and follows a symbolic link only when its target stays inside the root it was found under,
//! so a link to `/` or to another tree never widens the scan.

pub mod container;
pub mod docker;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::inventory::LockfileKind;
use crate::lockfiles::detect;

/// Directory names skipped unless the caller gives its own list.
pub const DEFAULT_SKIP: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "target",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    "vendor",
];

/// A problem met while walking, reported but not fatal to the rest of the walk.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// A directory or file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A path given by the user is neither a lockfile nor a directory.
    #[error("{0}: not a directory nor a known lockfile name")]
    NotALockfile(PathBuf),
}

/// What to skip during discovery.
#[derive(Debug, Clone)]
pub struct DiscoverOptions {
    /// Directory names never entered.
    pub skip_dirs: Vec<String>,
}

impl Default for DiscoverOptions {
    fn default() -> Self {
        DiscoverOptions {
            skip_dirs: DEFAULT_SKIP.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// A lockfile found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its path (as reached from the root, not resolved).
    pub path: PathBuf,
    /// Its format.
    pub kind: LockfileKind,
}

/// Finds every lockfile under `roots`; a root that is a file is taken as is.
///
/// Returns the lockfiles in path order and the problems met on the way.
pub fn discover(roots: &[PathBuf], options: &DiscoverOptions) -> (Vec<Found>, Vec<DiscoverError>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for root in roots {
        match std::fs::metadata(root) {
            Ok(m) if m.is_file() => match detect(root) {
                Some(kind) => found.push(Found {
                    path: root.clone(),
                    kind,
                }),
                None => errors.push(DiscoverError::NotALockfile(root.clone())),
            },
            Ok(_) => match root.canonicalize() {
                Ok(canon) => {
                    let mut visited = HashSet::new();
                    walk(
                        root,
                        &canon,
                        &canon,
                        options,
                        &mut visited,
                        &mut found,
                        &mut errors,
                    );
                }
                Err(source) => errors.push(DiscoverError::Io {
                    path: root.clone(),
                    source,
                }),
            },
            Err(source) => errors.push(DiscoverError::Io {
                path: root.clone(),
                source,
            }),
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found.dedup();
    (found, errors)
}

/// Why the lockfiles under some roots could not all be read.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// Walking failed.
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    /// A lockfile did not parse.
    #[error(transparent)]
    Lockfile(#[from] crate::lockfiles::LockfileError),
    /// No lockfile was found.
    #[error("no lockfile found under {}", .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NothingFound(Vec<PathBuf>),
}

/// Finds and parses every lockfile under `roots`; the first problem stops the read, since a
/// partial inventory would under-report.
pub fn read_inventories(
    roots: &[PathBuf],
    options: &DiscoverOptions,
) -> Result<Vec<crate::Inventory>, InventoryError> {
    let (found, mut errors) = discover(roots, options);
    if !errors.is_empty() {
        return Err(errors.swap_remove(0).into());
    }
    if found.is_empty() {
        return Err(InventoryError::NothingFound(roots.to_vec()));
    }
    found
        .iter()
        .map(|f| crate::lockfiles::parse_file_as(&f.path, f.kind).map_err(InventoryError::from))
        .collect()
}

fn walk(
    dir: &Path,
    canon_dir: &Path,
    canon_root: &Path,
    options: &DiscoverOptions,
    visited: &mut HashSet<PathBuf>,
    found: &mut Vec<Found>,
    errors: &mut Vec<DiscoverError>,
) {
    // A link back up the tree would otherwise loop forever.
    if !visited.insert(canon_dir.to_path_buf()) {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(source) => {
            errors.push(DiscoverError::Io {
                path: dir.to_path_buf(),
                source,
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        let (is_dir, is_file, canon) = if ft.is_symlink() {
            let Ok(target) = path.canonicalize() else {
                continue;
            };
            if !target.starts_with(canon_root) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&target) else {
                continue;
            };
            (meta.is_dir(), meta.is_file(), target)
        } else {
            (ft.is_dir(), ft.is_file(), canon_dir.join(entry.file_name()))
        };
        if is_dir {
            let name = entry.file_name();
            if options
                .skip_dirs
                .iter()
                .any(|s| name.to_str() == Some(s.as_str()))
            {
                continue;
            }
            walk(&path, &canon, canon_root, options, visited, found, errors);
        } else if is_file && let Some(kind) = detect(&path) {
            // go.sum is read with its go.mod; a lone yarn.lock beside package-lock.json is still scanned.
            found.push(Found { path, kind });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_dirs_and_symlinks_out_of_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("Cargo.lock"), "").unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("app/node_modules/x")).unwrap();
        std::fs::create_dir_all(r.join(".git")).unwrap();
        std::fs::create_dir_all(r.join("py")).unwrap();
        std::fs::write(r.join("app/package-lock.json"), "{}").unwrap();
        std::fs::write(r.join("app/node_modules/x/package-lock.json"), "{}").unwrap();
        std::fs::write(r.join(".git/Cargo.lock"), "").unwrap();
        std::fs::write(r.join("py/requirements-dev.txt"), "").unwrap();
        std::fs::write(r.join("py/notes.txt"), "").unwrap();
        std::os::unix::fs::symlink(outside.path(), r.join("escape")).unwrap();
        std::os::unix::fs::symlink(r.join("py"), r.join("inside")).unwrap();
        std::os::unix::fs::symlink(r, r.join("py/loop")).unwrap();
        let (found, errors) = discover(&[r.to_path_buf()], &DiscoverOptions::default());
        assert!(errors.is_empty(), "{errors:?}");
        let rel: Vec<String> = found
            .iter()
            .map(|f| {
                f.path
                    .strip_prefix(r)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            rel,
            vec!["app/package-lock.json", "inside/requirements-dev.txt"]
        );
    }

    #[test]
    fn file_roots_and_unknown_names() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("yarn.lock");
        let other = dir.path().join("README");
        std::fs::write(&lock, "").unwrap();
        std::fs::write(&other, "").unwrap();
        let (found, errors) = discover(&[lock.clone(), other], &DiscoverOptions::default());
        assert_eq!(
            found,
            vec![Found {
                path: lock,
                kind: LockfileKind::YarnLock
            }]
        );
        assert_eq!(errors.len(), 1);
    }
}
