//! `ironpost logs parse`: shows how Ironpost reads a log file, offline.
//!
//! Each line is parsed with the chosen format (auditd records of one serial grouped into one
//! event) and printed: a readable line by default, one JSON object per event with `--json`, or,
//! with `--stats`, only a summary object
//! `{"lines","parsed","failed","by_format","seconds","events_per_sec"}`. Lines that do not parse
//! are reported on stderr with their line number. Exit 0 when every non-empty line parsed, 1
//! when some did not, 2 for invalid options.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use ironpost_core::event::{CompactString, LogRecord};
use ironpost_log_pipeline::parsers::auditd::AuditAssembler;
use ironpost_log_pipeline::sources::decode_lossy;
use ironpost_log_pipeline::{Format, ParseError, ParseOptions, parse_line_with, parse_utc_offset};

use super::{Context, EXIT_DEGRADED, EXIT_INVALID, EXIT_OK};

/// Log commands.
#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Parses a log file and prints the events Ironpost reads from it.
    Parse(ParseArgs),
}

/// Options of `logs parse`.
#[derive(Debug, Args)]
pub struct ParseArgs {
    /// The log file (`-` for standard input).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The format: auto, rfc5424, rfc3164, json, auditd, cisco, fortigate, access_log.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Print each event as one JSON line.
    #[arg(long)]
    pub json: bool,
    /// Print only a summary JSON object.
    #[arg(long)]
    pub stats: bool,
    /// Time zone of timestamps that carry none (`UTC`, `+02:00`, `-0500`).
    #[arg(long, default_value = "UTC", value_name = "OFFSET")]
    pub timezone: String,
}

/// Runs a logs command.
pub fn run(cmd: LogsCommand, _ctx: &Context) -> anyhow::Result<i32> {
    match cmd {
        LogsCommand::Parse(a) => parse(a),
    }
}

#[derive(Debug, Default, serde::Serialize)]
struct Stats {
    lines: u64,
    parsed: u64,
    failed: u64,
    by_format: BTreeMap<CompactString, u64>,
    seconds: f64,
    events_per_sec: f64,
}

fn parse(args: ParseArgs) -> anyhow::Result<i32> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = std::io::stderr().lock();
    match parse_to(&args, &mut out, &mut err) {
        // A closed pipe (`| head`) is the reader saying it has seen enough.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(EXIT_OK)
        }
        other => other,
    }
}

/// `logs parse` writing events (or the summary) to `out` and line errors to `err`.
fn parse_to(args: &ParseArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<i32> {
    let format: Format = match args.format.parse() {
        Ok(f) => f,
        Err(e) => {
            writeln!(err, "ironpost: {e}")?;
            return Ok(EXIT_INVALID);
        }
    };
    let Some(timezone) = parse_utc_offset(&args.timezone) else {
        writeln!(
            err,
            "ironpost: --timezone {}: expected UTC or an offset such as +02:00",
            args.timezone
        )?;
        return Ok(EXIT_INVALID);
    };
    let input: Box<dyn Read> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(&args.file)
                .with_context(|| format!("cannot open {}", args.file.display()))?,
        )
    };
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let source = args.file.display().to_string();
    let opts = ParseOptions {
        timezone,
        ..ParseOptions::default()
    };
    let mut stats = Stats::default();
    let mut audit = AuditAssembler::new();
    let mut buf = Vec::new();
    let started = Instant::now();
    let print = |rec: &LogRecord, out: &mut dyn Write| -> anyhow::Result<()> {
        if args.stats {
            return Ok(());
        }
        if args.json {
            serde_json::to_writer(&mut *out, &as_json(rec))?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", human(rec))?;
        }
        Ok(())
    };
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("cannot read {}", args.file.display()))?;
        if n == 0 {
            break;
        }
        stats.lines += 1;
        let (text, _) = decode_lossy(&buf);
        match parse_line_with(&text, format, &source, &opts) {
            Ok(rec) => {
                stats.parsed += 1;
                *stats.by_format.entry(rec.format.clone()).or_default() += 1;
                if rec.format == "auditd" {
                    if let Some(done) = audit.push(rec) {
                        print(&done, out)?;
                    }
                } else {
                    if let Some(done) = audit.flush() {
                        print(&done, out)?;
                    }
                    print(&rec, out)?;
                }
            }
            Err(ParseError::Empty) => {}
            Err(e) => {
                stats.failed += 1;
                if !args.stats {
                    writeln!(err, "{}:{}: {e}", args.file.display(), stats.lines)?;
                }
            }
        }
    }
    if let Some(done) = audit.flush() {
        print(&done, out)?;
    }
    if args.stats {
        stats.seconds = started.elapsed().as_secs_f64();
        stats.events_per_sec = if stats.seconds > 0.0 {
            stats.parsed as f64 / stats.seconds
        } else {
            0.0
        };
        serde_json::to_writer(&mut *out, &stats)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(if stats.failed == 0 {
        EXIT_OK
    } else {
        EXIT_DEGRADED
    })
}

/// The record as JSON with its fields as an object (`"fields":{"user":"root",...}`).
fn as_json(r: &LogRecord) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(obj) = v.as_object_mut()
        && obj.contains_key("fields")
    {
        let fields: serde_json::Map<String, serde_json::Value> = r
            .fields
            .iter()
            .map(|(k, v)| (k.to_owned(), serde_json::to_value(v).unwrap_or_default()))
            .collect();
        obj.insert("fields".into(), serde_json::Value::Object(fields));
    }
    v
}

/// `2024-01-01T00:00:00Z host service[pid] (format) message  key=value ...`.
fn human(r: &LogRecord) -> String {
    let mut s = format!(
        "{} ",
        r.timestamp
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    );
    if let Some(h) = &r.hostname {
        s.push_str(h);
        s.push(' ');
    }
    s.push_str(r.service.as_deref().unwrap_or("-"));
    if let Some(p) = r.pid {
        s.push_str(&format!("[{p}]"));
    }
    s.push_str(&format!(
        " ({}) {}",
        r.format,
        r.message.replace('\n', "\\n")
    ));
    if !r.fields.is_empty() {
        s.push_str("  ");
        let fields: Vec<String> = r
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={}", v.view()))
            .collect();
        s.push_str(&fields.join(" "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENSSH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/logs/loghub/OpenSSH_2k.log"
    );
    const HDFS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/logs/loghub/HDFS_2k.log"
    );

    fn args(file: &str, extra: &[&str]) -> ParseArgs {
        ParseArgs {
            file: file.into(),
            format: extra
                .iter()
                .find_map(|a| a.strip_prefix("--format="))
                .unwrap_or("auto")
                .into(),
            json: extra.contains(&"--json"),
            stats: extra.contains(&"--stats"),
            timezone: "UTC".into(),
        }
    }

    fn run(a: ParseArgs) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = parse_to(&a, &mut out, &mut err).unwrap();
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn json_lines_carry_fields_as_an_object() {
        let (code, out, err) = run(args(OPENSSH, &["--json"]));
        assert_eq!((code, err.as_str()), (EXIT_OK, ""));
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2000);
        assert_eq!(lines[1]["fields"]["user"], "webmaster");
        assert_eq!(lines[1]["service"], "sshd");
    }

    #[test]
    fn stats_is_one_object_and_failures_set_the_exit_code() {
        let (code, out, _) = run(args(OPENSSH, &["--stats", "--format=rfc3164"]));
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(code, EXIT_OK);
        assert_eq!(
            (
                v["lines"].as_u64(),
                v["parsed"].as_u64(),
                v["failed"].as_u64()
            ),
            (Some(2000), Some(2000), Some(0))
        );
        assert_eq!(v["by_format"]["rfc3164"], 2000);
        for k in ["seconds", "events_per_sec"] {
            assert!(v[k].is_number(), "{k}");
        }
        let (code, out, err) = run(args(HDFS, &[]));
        assert_eq!(code, EXIT_DEGRADED);
        assert!(out.is_empty());
        assert!(
            err.lines()
                .next()
                .unwrap()
                .contains("HDFS_2k.log:1: no known log format")
        );
        let (code, _, err) = run(args(HDFS, &["--format=nope"]));
        assert_eq!(code, EXIT_INVALID);
        assert!(err.contains("unknown log format `nope`"));
    }
}
