//! Helpers shared by the integration tests: reading rule trees from the shared data.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ironpost_sigma::{EngineConfig, Loader, LogSourceMap};

/// The SigmaHQ rules directory.
pub fn sigma_root() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/sigma/rules"
    ))
}

/// The shipped rule pack.
pub fn pack_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules"))
}

/// Every `.yml`/`.yaml` file under `dir`, sorted.
pub fn rule_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
                && p.file_name().and_then(|n| n.to_str()) != Some("logsources.yaml")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A loader over `files`.
pub fn loader_for(files: &[PathBuf], config: EngineConfig) -> Loader {
    let mut loader = Loader::new(LogSourceMap::default_map(), config);
    for f in files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        loader.add_file(&f.display().to_string(), &text);
    }
    loader
}
