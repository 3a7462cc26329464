//! `type = "jsonl"`: one JSON object per line in a file, rotated by size (`path.1` newest).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ironpost_core::config::sinks::SinkConfig;

use crate::deliver::DeliveryError;
use crate::record::Record;

/// The file sink.
pub(crate) struct JsonlFile {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: Option<BufWriter<File>>,
    size: u64,
}

impl JsonlFile {
    pub(crate) fn new(config: &SinkConfig) -> JsonlFile {
        JsonlFile {
            path: config.path.clone(),
            max_bytes: config.max_bytes.max(1),
            keep: config.keep_files,
            file: None,
            size: 0,
        }
    }

    fn open(&mut self) -> std::io::Result<&mut BufWriter<File>> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.size = f.metadata()?.len();
            self.file = Some(BufWriter::with_capacity(256 << 10, f));
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if let Some(mut f) = self.file.take() {
            f.flush()?;
        }
        let numbered = |n: usize| -> PathBuf {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        if self.keep == 0 {
            remove_if_present(&self.path)?;
        } else {
            remove_if_present(&numbered(self.keep))?;
            for n in (1..self.keep).rev() {
                let from = numbered(n);
                if from.exists() {
                    std::fs::rename(&from, numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.size = 0;
        Ok(())
    }

    fn write(&mut self, batch: &[Arc<Record>]) -> std::io::Result<()> {
        for r in batch {
            let line = r.json();
            let len = line.len() as u64 + 1;
            self.open()?;
            if self.size > 0 && self.size + len > self.max_bytes {
                self.rotate()?;
            }
            let f = self.open()?;
            f.write_all(line.as_bytes())?;
            f.write_all(b"\n")?;
            self.size += len;
        }
        if let Some(f) = self.file.as_mut() {
            f.flush()?;
        }
        Ok(())
    }

    // The writes go to the page cache and take microseconds; the sink has its own task.
    pub(crate) fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<(), DeliveryError> {
        self.write(batch)
            .map_err(|e| DeliveryError::retry(format!("writing {}: {e}", self.path.display())))
    }

    pub(crate) fn reset(&mut self) {
        if let Some(mut f) = self.file.take() {
            let _ = f.flush();
        }
    }
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SinkRecord;
    use ironpost_core::Severity;

    #[test]
    fn rotation_keeps_n_files_and_loses_no_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/alerts.jsonl");
        let config = SinkConfig {
            path: path.clone(),
            max_bytes: 2000,
            keep_files: 2,
            ..SinkConfig::default()
        };
        let mut sink = JsonlFile::new(&config);
        let records: Vec<Arc<Record>> = (0..40)
            .map(|n| {
                Arc::new(Record::new(SinkRecord::Alert(crate::tests::alert(
                    "r",
                    Severity::Low,
                    n,
                ))))
            })
            .collect();
        let one = records[0].json().len() as u64 + 1;
        for chunk in records.chunks(7) {
            sink.deliver(chunk).unwrap();
        }
        sink.reset();
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let current = read(&path);
        let r1 = read(&dir.path().join("sub/alerts.jsonl.1"));
        let r2 = read(&dir.path().join("sub/alerts.jsonl.2"));
        assert!(!dir.path().join("sub/alerts.jsonl.3").exists());
        for f in [&current, &r1, &r2] {
            assert!(f.len() as u64 <= 2000.max(one), "{}", f.len());
            for line in f.lines() {
                serde_json::from_str::<serde_json::Value>(line).unwrap();
            }
        }
        let per_file = (2000 / one) as usize;
        assert_eq!(r1.lines().count(), per_file);
        assert_eq!(r2.lines().count(), per_file);
        // The newest lines are in the current file, the last of all at its end.
        let last: serde_json::Value =
            serde_json::from_str(current.lines().last().unwrap()).unwrap();
        assert_eq!(last["group"]["n"], "39");
        // No line is lost between the current file and the newest rotated one.
        let r1_last: serde_json::Value = serde_json::from_str(r1.lines().last().unwrap()).unwrap();
        assert_eq!(
            r1_last["group"]["n"],
            (39 - current.lines().count()).to_string()
        );
    }
}
