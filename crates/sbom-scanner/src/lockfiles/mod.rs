//! One parser per lockfile format, each a plain function from text to an [`Inventory`].
//!
//! Parsers never touch the file system except where a format is split over two files
//! (`go.mod` with `go.sum`, `yarn.lock` with `package.json`): [`parse_file`] reads those.

mod apk;
mod cargo;
mod composer;
mod dpkg;
mod gemfile;
mod gomod;
mod npm;
mod pipfile;
mod pnpm;
mod poetry;
mod requirements;
mod uv;
mod yarn;

use std::path::{Path, PathBuf};

pub use apk::parse_apk_installed;
pub use cargo::parse_cargo_lock;
pub use composer::parse_composer_lock;
pub use dpkg::parse_dpkg_status;
pub use gemfile::parse_gemfile_lock;
pub use gomod::{go_sum_pairs, parse_go_mod};
pub use npm::parse_npm_lock;
pub use pipfile::parse_pipfile_lock;
pub use pnpm::parse_pnpm_lock;
pub use poetry::parse_poetry_lock;
pub use requirements::parse_requirements;
pub use uv::parse_uv_lock;
pub use yarn::parse_yarn_lock;

use crate::inventory::{Checksum, Inventory, LockfileKind};

/// A lockfile that could not be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum LockfileError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid for its format.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line, 0 when the parser cannot tell.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The name does not belong to any known lockfile format.
    #[error("{0}: not a known lockfile (expected Cargo.lock, package-lock.json, yarn.lock, ...)")]
    Unknown(PathBuf),
}

impl LockfileError {
    pub(crate) fn syntax(path: &Path, line: usize, message: impl Into<String>) -> Self {
        LockfileError::Syntax {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

/// The lockfile kind a path names, from its file name (and parent folders for OS databases).
pub fn detect(path: &Path) -> Option<LockfileKind> {
    let name = path.file_name()?.to_str()?;
    let parent = path
        .parent()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default();
    Some(match name {
        "Cargo.lock" => LockfileKind::CargoLock,
        "package-lock.json" | "npm-shrinkwrap.json" => LockfileKind::NpmLock,
        "yarn.lock" => LockfileKind::YarnLock,
        "pnpm-lock.yaml" => LockfileKind::PnpmLock,
        "poetry.lock" => LockfileKind::PoetryLock,
        "uv.lock" => LockfileKind::UvLock,
        "Pipfile.lock" => LockfileKind::PipfileLock,
        "go.mod" => LockfileKind::GoMod,
        "Gemfile.lock" | "gems.locked" => LockfileKind::GemfileLock,
        "composer.lock" => LockfileKind::ComposerLock,
        "status" if parent.ends_with("var/lib/dpkg") => LockfileKind::DpkgStatus,
        "installed" if parent.ends_with("lib/apk/db") => LockfileKind::ApkInstalled,
        n if n.starts_with("requirements") && n.ends_with(".txt") => LockfileKind::Requirements,
        _ => return None,
    })
}

/// Reads and parses the lockfile at `path` (and its companion file, where the format has one).
pub fn parse_file(path: &Path) -> Result<Inventory, LockfileError> {
    let kind = detect(path).ok_or_else(|| LockfileError::Unknown(path.to_path_buf()))?;
    parse_file_as(path, kind)
}

/// Reads and parses `path` as a lockfile of `kind`.
pub fn parse_file_as(path: &Path, kind: LockfileKind) -> Result<Inventory, LockfileError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| LockfileError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let text = read(path)?;
    let sibling = |name: &str| path.parent().map(|d| d.join(name)).filter(|p| p.is_file());
    match kind {
        LockfileKind::CargoLock => parse_cargo_lock(path, &text),
        LockfileKind::NpmLock => parse_npm_lock(path, &text),
        LockfileKind::YarnLock => {
            let manifest = sibling("package.json").map(|p| read(&p)).transpose()?;
            parse_yarn_lock(path, &text, manifest.as_deref())
        }
        LockfileKind::PnpmLock => parse_pnpm_lock(path, &text),
        LockfileKind::PoetryLock => parse_poetry_lock(path, &text),
        LockfileKind::UvLock => parse_uv_lock(path, &text),
        LockfileKind::PipfileLock => parse_pipfile_lock(path, &text),
        LockfileKind::Requirements => parse_requirements(path, &text),
        LockfileKind::GoMod => {
            let sum = sibling("go.sum").map(|p| read(&p)).transpose()?;
            parse_go_mod(path, &text, sum.as_deref())
        }
        LockfileKind::GemfileLock => parse_gemfile_lock(path, &text),
        LockfileKind::ComposerLock => parse_composer_lock(path, &text),
        LockfileKind::DpkgStatus => parse_dpkg_status(path, &text),
        LockfileKind::ApkInstalled => parse_apk_installed(path, &text),
    }
}

/// Decodes standard or URL-safe base64, ignoring padding; `None` on any other byte.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A checksum from an `algo-base64` Subresource Integrity string (npm, pnpm, yarn classic).
pub(crate) fn sri_checksum(sri: &str) -> Option<Checksum> {
    let first = sri.split_whitespace().next()?;
    let (algo, b64) = first.split_once('-')?;
    let algorithm = match algo {
        "sha512" => "SHA-512",
        "sha384" => "SHA-384",
        "sha256" => "SHA-256",
        "sha1" => "SHA-1",
        _ => return None,
    };
    Some(Checksum {
        algorithm: algorithm.to_string(),
        hex: hex(&base64_decode(b64)?),
    })
}

/// A checksum from `algo:hex` (Python tooling) or bare hex of a known length.
pub(crate) fn prefixed_hex_checksum(s: &str) -> Option<Checksum> {
    let (algo, hexs) = s.split_once(':').unwrap_or(("", s));
    let algorithm = match (algo, hexs.len()) {
        ("sha256", _) | ("", 64) => "SHA-256",
        ("sha512", _) | ("", 128) => "SHA-512",
        ("sha1", _) | ("", 40) => "SHA-1",
        ("md5", _) => "MD5",
        _ => return None,
    };
    if hexs.is_empty() || !hexs.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(Checksum {
        algorithm: algorithm.to_string(),
        hex: hexs.to_ascii_lowercase(),
    })
}

/// 1-based line numbers of every line whose trimmed text starts with `prefix`, in order.
pub(crate) fn lines_starting_with(text: &str, prefix: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(prefix))
        .map(|(i, _)| i + 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sri_decodes_to_hex() {
        let c = sri_checksum("sha1-n0QmW9bXpXZdEUZxtAHgzOFHKHg=").unwrap();
        assert_eq!(c.algorithm, "SHA-1");
        assert_eq!(c.hex, "9f44265bd6d7a5765d114671b401e0cce1472878");
    }

    #[test]
    fn detects_by_name_and_place() {
        assert_eq!(
            detect(Path::new("a/requirements-dev.txt")),
            Some(LockfileKind::Requirements)
        );
        assert_eq!(
            detect(Path::new("/var/lib/dpkg/status")),
            Some(LockfileKind::DpkgStatus)
        );
        assert_eq!(detect(Path::new("/tmp/status")), None);
        assert_eq!(
            detect(Path::new("x/lib/apk/db/installed")),
            Some(LockfileKind::ApkInstalled)
        );
    }
}
