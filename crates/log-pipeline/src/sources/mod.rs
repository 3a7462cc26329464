//! Sources: where log lines come from (file tail, syslog over UDP and TCP, JSON lines).
//!
//! Each source is its options struct plus a `run` function that reads until the shutdown signal
//! and hands every record to the event bus as [`Event::Log`]. All of them share
//! [`LineProcessor`]: lossy UTF-8 decoding (counted), parsing with the source's format and time
//! zone, a raw record (format `raw`, field `parse_error`) for a line no parser accepts, and
//! grouping of auditd records by serial. JSON lines are a file or TCP source with format `json`.

pub mod file;
pub mod framing;
pub mod tcp;
pub mod udp;

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ironpost_core::bus::BusSender;
use ironpost_core::event::{Event, LogRecord};

use crate::parsers::auditd::AuditAssembler;
use crate::{Format, ParseOptions, parse_line_with};

/// Counters of one source, shared with status and metrics.
#[derive(Debug, Default)]
pub struct SourceStats {
    /// Lines (frames, datagrams) read.
    pub lines: AtomicU64,
    /// Bytes read.
    pub bytes: AtomicU64,
    /// Lines a parser accepted.
    pub parsed: AtomicU64,
    /// Lines no parser accepted (handed on as raw records).
    pub failed: AtomicU64,
    /// Lines cut at the maximum line or frame size.
    pub truncated: AtomicU64,
    /// Lines holding invalid UTF-8, decoded with replacement characters.
    pub lossy_utf8: AtomicU64,
    /// Records handed to the event bus.
    pub emitted: AtomicU64,
    /// Records lost because the event bus was closed.
    pub dropped: AtomicU64,
    /// TCP connections accepted.
    pub connections: AtomicU64,
    /// TCP connections refused at the connection limit.
    pub connections_refused: AtomicU64,
    /// TCP connections closed for idleness or a frame that took too long.
    pub connections_timed_out: AtomicU64,
    /// TCP connections closed for a framing error (octet count too large or malformed).
    pub framing_errors: AtomicU64,
    /// TLS connections whose handshake failed or did not finish in time.
    pub tls_failures: AtomicU64,
    /// Files whose rotation (rename, truncation or removal) was followed.
    pub rotations: AtomicU64,
    /// Checkpoints that could not be saved.
    pub checkpoint_errors: AtomicU64,
    /// Datagrams the kernel dropped because the socket's receive buffer was full (UDP; counted
    /// when the next datagram is read).
    pub kernel_drops: AtomicU64,
}

impl SourceStats {
    /// Every counter by name, for status output and metrics.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            ("lines", g(&self.lines)),
            ("bytes", g(&self.bytes)),
            ("parsed", g(&self.parsed)),
            ("failed", g(&self.failed)),
            ("truncated", g(&self.truncated)),
            ("lossy_utf8", g(&self.lossy_utf8)),
            ("emitted", g(&self.emitted)),
            ("dropped", g(&self.dropped)),
            ("connections", g(&self.connections)),
            ("connections_refused", g(&self.connections_refused)),
            ("connections_timed_out", g(&self.connections_timed_out)),
            ("framing_errors", g(&self.framing_errors)),
            ("tls_failures", g(&self.tls_failures)),
            ("rotations", g(&self.rotations)),
            ("checkpoint_errors", g(&self.checkpoint_errors)),
            ("kernel_drops", g(&self.kernel_drops)),
        ]
    }
}

pub(crate) fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Decodes a line as UTF-8, replacing invalid sequences; the flag says whether any were.
pub fn decode_lossy(bytes: &[u8]) -> (Cow<'_, str>, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), false),
        Err(_) => (String::from_utf8_lossy(bytes), true),
    }
}

/// The part of `bytes` at most `max` long that does not split a UTF-8 sequence.
pub(crate) fn cut_at(bytes: &[u8], max: usize) -> &[u8] {
    if bytes.len() <= max {
        return bytes;
    }
    let mut end = max;
    // Back off over continuation bytes so the cut lands on a character boundary.
    while end > 0 && max - end < 4 && (bytes[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    &bytes[..end]
}

/// Turns the lines of one source into records: decoding, parsing, auditd grouping.
#[derive(Debug)]
pub struct LineProcessor {
    source: String,
    format: Format,
    opts: ParseOptions,
    audit: AuditAssembler,
    stats: Arc<SourceStats>,
}

impl LineProcessor {
    /// A processor for the source named `source`.
    pub fn new(source: &str, format: Format, opts: ParseOptions, stats: Arc<SourceStats>) -> Self {
        LineProcessor {
            source: source.to_owned(),
            format,
            opts,
            audit: AuditAssembler::new(),
            stats,
        }
    }

    /// The source's counters.
    pub fn stats(&self) -> &Arc<SourceStats> {
        &self.stats
    }

    /// Processes one line (without its newline); `truncated` says it was cut. Calls `emit` for
    /// each finished record: none while an audit event is still being assembled, two when a
    /// non-audit line follows an audit event that was waiting for its end.
    pub fn line(&mut self, bytes: &[u8], truncated: bool, emit: &mut dyn FnMut(LogRecord)) {
        inc(&self.stats.lines);
        self.stats
            .bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if truncated {
            inc(&self.stats.truncated);
        }
        let (text, lossy) = decode_lossy(bytes);
        if lossy {
            inc(&self.stats.lossy_utf8);
        }
        if text.trim().is_empty() {
            return;
        }
        let mut opts = self.opts;
        opts.now = None;
        let mut rec = match parse_line_with(&text, self.format, &self.source, &opts) {
            Ok(r) => {
                inc(&self.stats.parsed);
                r
            }
            Err(e) => {
                inc(&self.stats.failed);
                let mut r = LogRecord::new(
                    self.source.as_str(),
                    "raw",
                    text.trim_end_matches(['\n', '\r']),
                );
                r.fields.insert("parse_error", e.to_string());
                r
            }
        };
        if truncated {
            rec.fields
                .insert("truncated", ironpost_core::event::Value::Bool(true));
        }
        if rec.format == "auditd" {
            if let Some(done) = self.audit.push(rec) {
                emit(done);
            }
            return;
        }
        if let Some(done) = self.audit.flush() {
            emit(done);
        }
        emit(rec);
    }

    /// True while an audit event is being assembled.
    pub fn has_pending(&self) -> bool {
        self.audit.has_pending()
    }

    /// Hands out an audit event still being assembled (at end of input or when idle).
    pub fn flush(&mut self, emit: &mut dyn FnMut(LogRecord)) {
        if let Some(done) = self.audit.flush() {
            emit(done);
        }
    }
}

/// Puts records on the event bus, waiting for room; counts what is emitted and dropped.
pub(crate) async fn deliver(
    out: &BusSender<Event>,
    stats: &SourceStats,
    recs: &mut Vec<LogRecord>,
) -> bool {
    for rec in recs.drain(..) {
        if out.send(Event::Log(rec)).await.is_err() {
            inc(&stats.dropped);
            return false;
        }
        inc(&stats.emitted);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_records_of_one_serial_leave_as_one_event() {
        let stats = Arc::new(SourceStats::default());
        let mut p = LineProcessor::new("t", Format::Auto, ParseOptions::default(), stats);
        let mut out = Vec::new();
        p.line(
            b"type=SYSCALL msg=audit(1.5:7): comm=\"id\" exe=\"/usr/bin/id\"",
            false,
            &mut |r| out.push(r),
        );
        p.line(
            b"type=EXECVE msg=audit(1.5:7): argc=1 a0=\"id\"",
            false,
            &mut |r| out.push(r),
        );
        assert!(out.is_empty() && p.has_pending());
        p.line(b"  {\"message\":\"indented json\"}", false, &mut |r| {
            out.push(r)
        });
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0].fields.get("types"),
            Some(&ironpost_core::event::Value::Str("SYSCALL EXECVE".into()))
        );
        assert_eq!(out[1].format, "json");
    }

    #[test]
    fn cut_never_splits_a_character() {
        let s = "aé€".as_bytes();
        assert_eq!(cut_at(s, 2), b"a");
        assert_eq!(cut_at(s, 3), "aé".as_bytes());
        assert_eq!(cut_at(s, 5), "aé".as_bytes());
        assert_eq!(cut_at(s, 6), s);
    }

    #[test]
    fn unparsable_lines_become_raw_records_and_lossy_lines_are_counted() {
        let stats = Arc::new(SourceStats::default());
        let mut p = LineProcessor::new("t", Format::Auto, ParseOptions::default(), stats.clone());
        let mut out = Vec::new();
        p.line(b"081109 203615 148 INFO dfs.DataNode: x", false, &mut |r| {
            out.push(r)
        });
        p.line(
            b"Jan  1 00:00:00 h sshd[1]: bad \xff byte",
            false,
            &mut |r| out.push(r),
        );
        assert_eq!(out[0].format, "raw");
        assert!(out[0].fields.get("parse_error").is_some());
        assert_eq!(out[1].message, "bad \u{fffd} byte");
        assert_eq!(stats.lossy_utf8.load(Ordering::Relaxed), 1);
        assert_eq!(
            (
                stats.parsed.load(Ordering::Relaxed),
                stats.failed.load(Ordering::Relaxed)
            ),
            (1, 1)
        );
    }
}
