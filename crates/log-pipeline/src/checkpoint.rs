//! Where file sources remember how far they have read: (device, inode, offset) per file.
//!
//! The daemon adapts its store (SQLite or PostgreSQL) to [`CheckpointStore`]; tests and the
//! CLI use [`MemoryCheckpointStore`] or [`JsonFileCheckpointStore`]. A file source saves a
//! checkpoint only after the lines before its offset have been handed to the bus, so a crash
//! (`kill -9` included) repeats nothing that was saved and loses nothing that was not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ironpost_core::SourceCheckpoint;

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The backing file could not be read or written.
    #[error("checkpoint file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The backing file holds something that is not a checkpoint map.
    #[error(
        "checkpoint file {path} is not a JSON map of checkpoints: {message}; move it away to start afresh"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What serde_json said.
        message: String,
    },
    /// The store behind the trait failed.
    #[error("checkpoint store: {0}")]
    Store(String),
}

/// A place to load and save source checkpoints, keyed by [`SourceCheckpoint::source`].
pub trait CheckpointStore: Send + Sync {
    /// The checkpoint saved under `key`, if any.
    fn load(&self, key: &str) -> Result<Option<SourceCheckpoint>, CheckpointError>;
    /// Saves `cp` under `cp.source`, replacing the previous one.
    fn save(&self, cp: &SourceCheckpoint) -> Result<(), CheckpointError>;
}

/// Checkpoints kept in memory (lost on exit).
#[derive(Debug, Default)]
pub struct MemoryCheckpointStore(Mutex<BTreeMap<String, SourceCheckpoint>>);

impl MemoryCheckpointStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl CheckpointStore for MemoryCheckpointStore {
    fn load(&self, key: &str) -> Result<Option<SourceCheckpoint>, CheckpointError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned())
    }

    fn save(&self, cp: &SourceCheckpoint) -> Result<(), CheckpointError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cp.source.clone(), cp.clone());
        Ok(())
    }
}

/// Checkpoints in one JSON file, rewritten atomically (write to a temporary file, fsync, rename).
#[derive(Debug)]
pub struct JsonFileCheckpointStore {
    path: PathBuf,
    map: Mutex<BTreeMap<String, SourceCheckpoint>>,
}

impl JsonFileCheckpointStore {
    /// Opens (or starts) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, CheckpointError> {
        let map = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| CheckpointError::Corrupt {
                path: path.to_owned(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => {
                return Err(CheckpointError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Ok(JsonFileCheckpointStore {
            path: path.to_owned(),
            map: Mutex::new(map),
        })
    }
}

impl CheckpointStore for JsonFileCheckpointStore {
    fn load(&self, key: &str) -> Result<Option<SourceCheckpoint>, CheckpointError> {
        Ok(self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned())
    }

    fn save(&self, cp: &SourceCheckpoint) -> Result<(), CheckpointError> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(cp.source.clone(), cp.clone());
        let text =
            serde_json::to_vec_pretty(&*map).map_err(|e| CheckpointError::Store(e.to_string()))?;
        let tmp = self.path.with_extension("tmp");
        let io = |source| CheckpointError::Io {
            path: self.path.clone(),
            source,
        };
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&text).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    #[test]
    fn json_file_store_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.json");
        let s = JsonFileCheckpointStore::open(&path).unwrap();
        let cp = SourceCheckpoint {
            source: "auth:/var/log/auth.log".into(),
            device: 1,
            inode: 2,
            offset: 3,
            updated_at: Utc::now(),
        };
        s.save(&cp).unwrap();
        let again = JsonFileCheckpointStore::open(&path).unwrap();
        assert_eq!(again.load("auth:/var/log/auth.log").unwrap(), Some(cp));
        assert_eq!(again.load("other").unwrap(), None);
        std::fs::write(&path, b"[").unwrap();
        assert!(matches!(
            JsonFileCheckpointStore::open(&path),
            Err(CheckpointError::Corrupt { .. })
        ));
    }
}
