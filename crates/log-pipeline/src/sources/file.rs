//! File tail: glob paths, start at end or beginning, rotation followed, checkpoints kept.
//!
//! Each poll expands the globs, then reads every tailed file from its offset to its end.
//! Rotation is seen by name: when the path names another inode (rename-and-create), the old
//! file is read to its end first, then the new one from its start, and the old one is still
//! read for a few seconds after it last grew (writers keep writing to it until they reopen
//! their log); a rotated file that the globs also match goes on being read under its new
//! name, never twice. When the file is shorter than the offset (copytruncate), reading
//! restarts at 0. A checkpoint (device, inode, offset after the last complete line) is saved
//! once the reader of the event bus has acknowledged the records of the lines before it (the
//! daemon's detection does so when their alerts are stored; see `ironpost_core::bus`), so a
//! restart resumes there, even after `kill -9`, and never skips a line whose consequences were
//! not kept; a checkpoint whose inode is gone is looked for at `<path>.1`, where logrotate
//! leaves the previous file, and finished there first.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use ironpost_core::SourceCheckpoint;
use ironpost_core::bus::BusSender;
use ironpost_core::event::{Event, LogRecord};
use ironpost_core::module::Shutdown;

use super::{LineProcessor, SourceStats, cut_at, deliver, inc};
use crate::checkpoint::{CheckpointError, CheckpointStore};
use crate::{Format, ParseOptions};

/// Where a file found at start begins to be read when it has no checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// At its end: only lines written from now on.
    #[default]
    End,
    /// At its start.
    Beginning,
}

/// Options of one file source.
#[derive(Debug, Clone)]
pub struct FileSourceOptions {
    /// The source name (config key, checkpoint key prefix, metric label).
    pub name: String,
    /// Glob patterns of the files to tail.
    pub paths: Vec<String>,
    /// The format of the lines (`Auto` to detect per line; `Json` for JSON lines).
    pub format: Format,
    /// Where files present at start begin when they have no checkpoint.
    pub start_at: StartAt,
    /// Lines longer than this are cut to it (and counted); the rest of the line is skipped.
    pub max_line_bytes: usize,
    /// How often files are looked at for new data, new names and rotation.
    pub poll_interval: Duration,
    /// Time zone and parsing switches.
    pub parse: ParseOptions,
}

impl FileSourceOptions {
    /// Options with the defaults: start at end, 64 KiB lines, 250 ms polls, auto format.
    pub fn new(name: &str, paths: Vec<String>) -> Self {
        FileSourceOptions {
            name: name.to_owned(),
            paths,
            format: Format::Auto,
            start_at: StartAt::End,
            max_line_bytes: 64 * 1024,
            poll_interval: Duration::from_millis(250),
            parse: ParseOptions::default(),
        }
    }
}

/// Why a source cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A glob pattern that does not parse.
    #[error("source {source_name}: path pattern `{pattern}` is not a valid glob: {message}")]
    Glob {
        /// The source.
        source_name: String,
        /// The pattern.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// A listener that could not be bound.
    #[error("source {source_name}: cannot listen on {addr}: {error}")]
    Bind {
        /// The source.
        source_name: String,
        /// The address.
        addr: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The TLS certificate or key cannot be used.
    #[error("source {source_name}: TLS: {message}")]
    Tls {
        /// The source.
        source_name: String,
        /// What is wrong, naming the file.
        message: String,
    },
    /// The checkpoint store failed while starting.
    #[error("source {source_name}: {error}")]
    Checkpoint {
        /// The source.
        source_name: String,
        /// The error.
        error: CheckpointError,
    },
}

/// A file source, ready to run.
pub struct FileSource {
    opts: FileSourceOptions,
    checkpoints: Arc<dyn CheckpointStore>,
    stats: Arc<SourceStats>,
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSource")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

struct Tailed {
    path: PathBuf,
    key: String,
    file: File,
    dev: u64,
    ino: u64,
    /// Next byte to read.
    offset: u64,
    /// Offset after the last complete line (what a checkpoint may record).
    committed: u64,
    saved: Option<u64>,
    /// Offsets waiting for the bus position of their last record to be acknowledged.
    pending: std::collections::VecDeque<(u64, u64)>,
    partial: Vec<u8>,
    skipping: bool,
    /// Read buffer, kept between polls.
    buf: Vec<u8>,
    proc: LineProcessor,
}

const CHUNK: usize = 256 * 1024;

/// How long a stopping source waits for the records it read to be acknowledged.
const ACK_WAIT: Duration = Duration::from_secs(3);

/// How long a rotated-away file is still read after it last grew.
const ROTATION_GRACE: Duration = Duration::from_secs(5);

/// What happened to a tailed path since the last poll.
enum Rotation {
    /// Same file (possibly truncated in place, already handled).
    Same,
    /// Renamed away and replaced: the old file, to be read to its end.
    Replaced(Box<Tailed>),
    /// The path names no file any more.
    Gone,
}

impl FileSource {
    /// The reading state of `file` (opened at `path`, checkpointed under `key`) from `offset`.
    fn tail(
        &self,
        path: PathBuf,
        key: String,
        file: File,
        meta: &std::fs::Metadata,
        offset: u64,
    ) -> Tailed {
        Tailed {
            path,
            key,
            file,
            dev: meta.dev(),
            ino: meta.ino(),
            offset,
            committed: offset,
            saved: None,
            pending: std::collections::VecDeque::new(),
            partial: Vec::new(),
            skipping: false,
            buf: Vec::new(),
            proc: LineProcessor::new(
                &self.opts.name,
                self.opts.format,
                self.opts.parse,
                self.stats.clone(),
            ),
        }
    }

    /// A file source with its options and the store its checkpoints go to.
    pub fn new(
        opts: FileSourceOptions,
        checkpoints: Arc<dyn CheckpointStore>,
    ) -> Result<Self, SourceError> {
        for p in &opts.paths {
            glob::Pattern::new(p).map_err(|e| SourceError::Glob {
                source_name: opts.name.clone(),
                pattern: p.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(FileSource {
            opts,
            checkpoints,
            stats: Arc::new(SourceStats::default()),
        })
    }

    /// The source's counters.
    pub fn stats(&self) -> Arc<SourceStats> {
        self.stats.clone()
    }

    /// Tails until `shutdown` fires or the bus closes.
    pub async fn run(
        self,
        out: BusSender<Event>,
        mut shutdown: Shutdown,
    ) -> Result<(), SourceError> {
        let mut files: BTreeMap<PathBuf, Tailed> = BTreeMap::new();
        // Rotated-away files, still read for a while: writers keep writing to them until
        // they reopen their log (logrotate's postrotate HUP).
        let mut draining: Vec<(Tailed, Instant)> = Vec::new();
        let mut first = true;
        let mut recs = Vec::new();
        loop {
            self.discover(&mut files, &mut draining, first, &mut recs);
            first = false;
            let mut busy = false;
            draining.retain_mut(|(old, last_growth)| {
                let before = old.offset;
                while self.read_some(old, &mut recs) {}
                if old.offset > before {
                    *last_growth = Instant::now();
                }
                if last_growth.elapsed() < ROTATION_GRACE {
                    return true;
                }
                self.end_partial(old, &mut recs);
                old.proc.flush(&mut |r| recs.push(r));
                false
            });
            if !deliver(&out, &self.stats, &mut recs).await {
                return Ok(());
            }
            let paths: Vec<PathBuf> = files.keys().cloned().collect();
            for path in paths {
                let Some(t) = files.get_mut(&path) else {
                    continue;
                };
                match self.follow_rotation(t) {
                    Rotation::Same => {}
                    Rotation::Replaced(mut old) => {
                        while self.read_some(&mut old, &mut recs) {}
                        draining.push((*old, Instant::now()));
                    }
                    Rotation::Gone => {
                        // Renamed away with no successor yet, or deleted: read what is left.
                        inc(&self.stats.rotations);
                        if let Some(mut old) = files.remove(&path) {
                            old.key.clear();
                            while self.read_some(&mut old, &mut recs) {}
                            draining.push((old, Instant::now()));
                        }
                        if !deliver(&out, &self.stats, &mut recs).await {
                            return Ok(());
                        }
                        continue;
                    }
                }
                let more = self.read_some(t, &mut recs);
                busy |= more;
                if !more {
                    t.proc.flush(&mut |r| recs.push(r));
                }
                if !deliver(&out, &self.stats, &mut recs).await {
                    return Ok(());
                }
                self.note(t, out.sent());
                self.save_done(t, out.acked());
            }
            if shutdown.is_fired() {
                break;
            }
            if !busy {
                tokio::select! {
                    _ = shutdown.wait() => {}
                    _ = tokio::time::sleep(self.opts.poll_interval) => {}
                }
            }
        }
        for (old, _) in &mut draining {
            old.proc.flush(&mut |r| recs.push(r));
        }
        for t in files.values_mut() {
            t.proc.flush(&mut |r| recs.push(r));
        }
        deliver(&out, &self.stats, &mut recs).await;
        // The stages after this one still run: wait a little for them to finish with what was
        // read, then keep the checkpoints of what they finished.
        let mark = out.sent();
        let deadline = Instant::now() + ACK_WAIT;
        while out.acked() < mark && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for t in files.values_mut() {
            self.note(t, mark);
            self.save_done(t, out.acked());
        }
        Ok(())
    }

    /// Starts tailing the files the globs name that are not tailed yet.
    fn discover(
        &self,
        files: &mut BTreeMap<PathBuf, Tailed>,
        draining: &mut Vec<(Tailed, Instant)>,
        first: bool,
        recs: &mut Vec<LogRecord>,
    ) {
        for pattern in &self.opts.paths {
            let Ok(paths) = glob::glob(pattern) else {
                continue;
            };
            for path in paths.flatten() {
                if files.contains_key(&path) {
                    continue;
                }
                let Ok(meta) = std::fs::metadata(&path) else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                let id = (meta.dev(), meta.ino());
                // A file already read under another name (a rotated file that a broad glob such
                // as `auth.log*` also matches, a hard link): never read twice.
                if files.values().any(|t| (t.dev, t.ino) == id) {
                    continue;
                }
                if let Some(at) = draining.iter().position(|(t, _)| (t.dev, t.ino) == id) {
                    let (mut t, _) = draining.swap_remove(at);
                    t.key = format!("{}:{}", self.opts.name, path.display());
                    t.path = path.clone();
                    t.saved = None;
                    files.insert(path, t);
                    continue;
                }
                match self.open(&path, first, recs) {
                    Ok(t) => {
                        files.insert(path, t);
                    }
                    Err(e) => {
                        tracing::warn!(source = %self.opts.name, path = %path.display(), error = %e, "cannot open file to tail")
                    }
                }
            }
        }
    }

    fn open(&self, path: &Path, first: bool, recs: &mut Vec<LogRecord>) -> std::io::Result<Tailed> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let key = format!("{}:{}", self.opts.name, path.display());
        let mut t = self.tail(path.to_owned(), key.clone(), file, &meta, 0);
        let cp = match self.checkpoints.load(&key) {
            Ok(cp) => cp,
            Err(e) => {
                inc(&self.stats.checkpoint_errors);
                tracing::warn!(source = %self.opts.name, error = %e, "cannot load checkpoint; using start_at");
                None
            }
        };
        match cp {
            Some(cp) if cp.device == t.dev && cp.inode == t.ino => {
                t.offset = if cp.offset <= meta.len() {
                    cp.offset
                } else {
                    0
                };
            }
            Some(cp) => {
                // Rotated while we were away: finish the previous file where logrotate put it.
                self.finish_previous(path, &cp, recs);
                t.offset = 0;
            }
            None if first && self.opts.start_at == StartAt::End => t.offset = meta.len(),
            None => t.offset = 0,
        }
        t.committed = t.offset;
        self.save(&mut t);
        Ok(t)
    }

    /// Reads the rest of the file a stale checkpoint names, if `<path>.1` is that file.
    fn finish_previous(&self, path: &Path, cp: &SourceCheckpoint, recs: &mut Vec<LogRecord>) {
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        let Ok(file) = File::open(&old) else { return };
        let Ok(meta) = file.metadata() else { return };
        if meta.ino() != cp.inode || meta.dev() != cp.device || meta.len() < cp.offset {
            return;
        }
        tracing::info!(source = %self.opts.name, path = %path.display(), "finishing the rotated file left at .1");
        let mut t = self.tail(PathBuf::from(old), String::new(), file, &meta, cp.offset);
        while self.read_some(&mut t, recs) {}
        self.end_partial(&mut t, recs);
        t.proc.flush(&mut |r| recs.push(r));
    }

    /// Handles a truncation of `t`'s path in place, or a rename: then `t` becomes the new file
    /// and the old one is handed back to be read to its end.
    fn follow_rotation(&self, t: &mut Tailed) -> Rotation {
        match std::fs::metadata(&t.path) {
            Ok(meta) if meta.ino() == t.ino && meta.dev() == t.dev => {
                if meta.len() < t.offset {
                    // copytruncate: the file was copied away and emptied in place.
                    inc(&self.stats.rotations);
                    t.offset = 0;
                    t.committed = 0;
                    t.partial.clear();
                    t.skipping = false;
                }
                Rotation::Same
            }
            Ok(_) => match File::open(&t.path).and_then(|f| f.metadata().map(|m| (f, m))) {
                Ok((file, meta)) => {
                    inc(&self.stats.rotations);
                    let new = self.tail(t.path.clone(), t.key.clone(), file, &meta, 0);
                    let mut old = std::mem::replace(t, new);
                    // The path's checkpoint now belongs to the new file.
                    old.key.clear();
                    Rotation::Replaced(Box::new(old))
                }
                Err(_) => Rotation::Gone,
            },
            Err(_) => Rotation::Gone,
        }
    }

    /// A last line without newline in a file that will not grow again.
    fn end_partial(&self, t: &mut Tailed, recs: &mut Vec<LogRecord>) {
        if !t.partial.is_empty() && !t.skipping {
            let line = std::mem::take(&mut t.partial);
            t.proc.line(&line, false, &mut |r| recs.push(r));
        }
        t.partial.clear();
        t.skipping = false;
        t.committed = t.offset;
    }

    /// Reads up to one chunk; returns true when it filled the chunk (more may be waiting).
    fn read_some(&self, t: &mut Tailed, recs: &mut Vec<LogRecord>) -> bool {
        let mut buf = std::mem::take(&mut t.buf);
        buf.resize(CHUNK, 0);
        if t.file.seek(SeekFrom::Start(t.offset)).is_err() {
            t.buf = buf;
            return false;
        }
        let n = match t.file.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(source = %self.opts.name, path = %t.path.display(), error = %e, "read failed");
                t.buf = buf;
                return false;
            }
        };
        let data = &buf[..n];
        let max = self.opts.max_line_bytes.max(1);
        let mut start = 0;
        while start < data.len() {
            match memchr::memchr(b'\n', &data[start..]) {
                Some(rel) => {
                    let seg = &data[start..start + rel];
                    if t.skipping {
                        t.skipping = false;
                    } else if t.partial.is_empty() {
                        let line = seg.strip_suffix(b"\r").unwrap_or(seg);
                        let cut = cut_at(line, max);
                        t.proc
                            .line(cut, cut.len() < line.len(), &mut |r| recs.push(r));
                    } else {
                        t.partial.extend_from_slice(seg);
                        let whole = std::mem::take(&mut t.partial);
                        let line = whole.strip_suffix(b"\r").unwrap_or(&whole);
                        let cut = cut_at(line, max);
                        t.proc
                            .line(cut, cut.len() < line.len(), &mut |r| recs.push(r));
                    }
                    start += rel + 1;
                    t.committed = t.offset + start as u64;
                }
                None => {
                    if !t.skipping {
                        t.partial.extend_from_slice(&data[start..]);
                        if t.partial.len() > max {
                            // Emit the cut line now and skip the rest: memory stays bounded.
                            let whole = std::mem::take(&mut t.partial);
                            let cut = cut_at(&whole, max);
                            t.proc.line(cut, true, &mut |r| recs.push(r));
                            t.skipping = true;
                        }
                    }
                    start = data.len();
                }
            }
        }
        t.offset += n as u64;
        t.buf = buf;
        n == CHUNK
    }

    /// Records that the lines before `t.committed` are on the bus up to position `mark`.
    fn note(&self, t: &mut Tailed, mark: u64) {
        let last = t.pending.back().map(|&(_, c)| c).or(t.saved);
        if last != Some(t.committed) {
            t.pending.push_back((mark, t.committed));
        }
    }

    /// Saves the checkpoint after the last lines whose records are acknowledged.
    fn save_done(&self, t: &mut Tailed, acked: u64) {
        let mut done = None;
        while let Some(&(mark, committed)) = t.pending.front() {
            if mark > acked {
                break;
            }
            done = Some(committed);
            t.pending.pop_front();
        }
        if let Some(offset) = done {
            self.save_at(t, offset);
        }
    }

    fn save(&self, t: &mut Tailed) {
        let offset = t.committed;
        t.pending.clear();
        self.save_at(t, offset);
    }

    fn save_at(&self, t: &mut Tailed, offset: u64) {
        if t.saved == Some(offset) || t.key.is_empty() {
            return;
        }
        let cp = SourceCheckpoint {
            source: t.key.clone(),
            device: t.dev,
            inode: t.ino,
            offset,
            updated_at: Utc::now(),
        };
        match self.checkpoints.save(&cp) {
            Ok(()) => t.saved = Some(offset),
            Err(e) => {
                inc(&self.stats.checkpoint_errors);
                tracing::warn!(source = %self.opts.name, error = %e, "cannot save checkpoint");
            }
        }
    }
}
