//! Lockfiles and package databases inside a container's filesystem, read from a tar stream (the
//! Docker Engine's container export).
//!
//! Only the files a scan needs are taken out of the stream — every lockfile name, the dpkg and
//! apk databases, and the `package.json`/`go.sum` companions — each bounded in size, into a
//! private temporary directory that is removed afterwards; everything else streams past. The
//! inventories are then read as from disk, and their paths are given as `LABEL:/path/in/image`.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::{DiscoverOptions, discover};
use crate::Inventory;
use crate::lockfiles::{detect, parse_file_as};

/// The largest single file taken out of a stream (a big dpkg status is a few MiB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// The most bytes taken out of one stream in all.
pub const MAX_TOTAL_BYTES: u64 = 512 << 20;

/// Why a container's filesystem could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The tar stream is broken.
    #[error("{label}: reading the filesystem stream: {source}")]
    Stream {
        /// The container or image.
        label: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The temporary directory could not be written.
    #[error("{label}: temporary copy in {dir}: {source}")]
    Temp {
        /// The container or image.
        label: String,
        /// The directory.
        dir: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The inventories found in one filesystem stream, and what could not be read (named).
#[derive(Debug, Default)]
pub struct ContainerInventory {
    /// One inventory per lockfile or package database.
    pub inventories: Vec<Inventory>,
    /// Files skipped or unreadable, with the reason.
    pub problems: Vec<String>,
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The path inside the image, relative, or `None` when it climbs out or is absolute.
fn relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

fn wanted(rel: &Path, options: &DiscoverOptions) -> bool {
    let skipped = rel.parent().into_iter().flat_map(|p| p.components()).any(
        |c| matches!(c, Component::Normal(n) if options.skip_dirs.iter().any(|s| n == s.as_str())),
    );
    if skipped {
        return false;
    }
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    detect(rel).is_some() || name == "package.json" || name == "go.sum"
}

/// Reads the tar stream `reader` of the filesystem of `label` and returns the inventories in it.
pub fn inventories_from_tar(
    reader: impl Read,
    label: &str,
    options: &DiscoverOptions,
) -> Result<ContainerInventory, ContainerError> {
    let stream_err = |source| ContainerError::Stream {
        label: label.to_owned(),
        source,
    };
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ironpost-fs-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let temp_err = |source| ContainerError::Temp {
        label: label.to_owned(),
        dir: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(temp_err)?;
    let _cleanup = TempDir(dir.clone());
    let mut out = ContainerInventory::default();
    let mut total = 0u64;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(stream_err)? {
        let mut entry = entry.map_err(stream_err)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let Some(rel) = entry.path().ok().and_then(|p| relative(&p)) else {
            continue;
        };
        if !wanted(&rel, options) {
            continue;
        }
        let size = entry.size();
        if size > MAX_FILE_BYTES || total + size > MAX_TOTAL_BYTES {
            out.problems.push(format!(
                "{label}:/{}: {size} bytes, over the size limit; skipped",
                rel.display()
            ));
            continue;
        }
        total += size;
        let target = dir.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(temp_err)?;
        }
        let mut file = std::fs::File::create(&target).map_err(temp_err)?;
        std::io::copy(&mut (&mut entry).take(MAX_FILE_BYTES), &mut file).map_err(stream_err)?;
    }
    let (found, errors) = discover(std::slice::from_ref(&dir), options);
    out.problems.extend(errors.iter().map(|e| e.to_string()));
    for f in found {
        let rel = f.path.strip_prefix(&dir).unwrap_or(&f.path).to_path_buf();
        match parse_file_as(&f.path, f.kind) {
            Ok(mut inv) => {
                inv.path = PathBuf::from(format!("{label}:/{}", rel.display()));
                out.inventories.push(inv);
            }
            Err(e) => out.problems.push(format!(
                "{label}:/{}: {}",
                rel.display(),
                e.to_string().replace(&dir.display().to_string(), "")
            )),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    const DPKG: &[u8] = b"Package: openssl\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n";
    const CARGO: &[u8] = b"version = 3\n\n[[package]]\nname = \"time\"\nversion = \"0.1.44\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";

    #[test]
    fn lockfiles_and_package_databases_come_out_named_by_their_path_in_the_image() {
        let stream = tar_of(&[
            ("./var/lib/dpkg/status", DPKG),
            ("./srv/app/Cargo.lock", CARGO),
            ("./srv/app/target/Cargo.lock", CARGO),
            ("./usr/share/doc/README", b"not a lockfile"),
        ]);
        let got = inventories_from_tar(&stream[..], "c0ffee", &DiscoverOptions::default()).unwrap();
        let mut paths: Vec<String> = got
            .inventories
            .iter()
            .map(|i| i.path.display().to_string())
            .collect();
        paths.sort();
        assert_eq!(
            paths,
            ["c0ffee:/srv/app/Cargo.lock", "c0ffee:/var/lib/dpkg/status"]
        );
        let dpkg = got
            .inventories
            .iter()
            .find(|i| i.path.ends_with("status"))
            .unwrap();
        assert!(dpkg.packages.iter().any(|p| p.name == "openssl"));
        assert!(got.problems.is_empty(), "{:?}", got.problems);
    }

    #[test]
    fn climbing_paths_are_ignored_and_a_broken_stream_is_an_error() {
        // The tar builder refuses `..`, so the hostile name goes into the header by hand.
        let mut h = tar::Header::new_gnu();
        let name = b"../../../../tmp/Cargo.lock";
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_size(CARGO.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&h, CARGO).unwrap();
        let stream = b.into_inner().unwrap();
        let got = inventories_from_tar(&stream[..], "img", &DiscoverOptions::default()).unwrap();
        assert!(
            got.inventories.is_empty(),
            "a path climbing out of the image was read"
        );
        assert!(relative(Path::new("a/../../Cargo.lock")).is_none());
        assert_eq!(
            relative(Path::new("./a/Cargo.lock")),
            Some(PathBuf::from("a/Cargo.lock"))
        );
        let mut broken = tar_of(&[("a/Cargo.lock", CARGO)]);
        broken.truncate(700);
        let err = inventories_from_tar(&broken[..], "img", &DiscoverOptions::default()).err();
        assert!(
            matches!(err, Some(ContainerError::Stream { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn an_unparsable_lockfile_is_named_without_the_temporary_directory() {
        let stream = tar_of(&[("app/Cargo.lock", b"[[package]\nbroken")]);
        let got = inventories_from_tar(&stream[..], "img", &DiscoverOptions::default()).unwrap();
        assert!(got.inventories.is_empty());
        assert_eq!(got.problems.len(), 1);
        assert!(
            got.problems[0].starts_with("img:/app/Cargo.lock"),
            "{:?}",
            got.problems
        );
        assert!(
            !got.problems[0].contains("ironpost-fs-"),
            "{:?}",
            got.problems
        );
    }
}
