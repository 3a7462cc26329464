//! `ironpost rules validate|test`: offline Sigma tools.
//!
//! `validate` loads rule files and says, per file, whether it loaded or why it was refused.
//! `test` runs rules, correlations included, over a log file on event time and prints the
//! alerts; a summary with the throughput goes to stderr.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use ironpost_core::Event;
use ironpost_log_pipeline::{Format, parse_line};
use ironpost_sigma::{
    Engine, EngineConfig, FileStatus, Loader, LogSourceMap, SigmaAlert, ValidationReport,
};

use super::{Context, EXIT_DEGRADED, EXIT_INVALID, EXIT_OK};

/// Sigma rule commands.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Loads rule files; exit 0 only when every file loaded.
    Validate(ValidateArgs),
    /// Runs rules over a log file offline and prints the alerts.
    Test(TestArgs),
}

/// Options of `rules validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Rule files or directories (searched recursively for .yml and .yaml).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print one JSON object: {"loaded","unsupported","invalid","files":[{"path","status","reason"}]}.
    #[arg(long)]
    pub json: bool,
    /// An extra log-source mapping file (same format as the shipped one).
    #[arg(long, value_name = "FILE")]
    pub logsources: Option<PathBuf>,
}

/// Options of `rules test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Rule files or directories.
    #[arg(long = "rules", required = true, num_args = 1.., value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// The log file to run the rules over.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// The input format: auto, rfc5424, rfc3164, json, auditd, cisco, fortigate, access_log.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Print each alert as one JSON line.
    #[arg(long)]
    pub json: bool,
    /// An extra log-source mapping file.
    #[arg(long, value_name = "FILE")]
    pub logsources: Option<PathBuf>,
    /// Suppression window in seconds of event time (default: the configuration's).
    #[arg(long, value_name = "SECS")]
    pub suppression: Option<u64>,
}

/// Runs a rules command.
pub fn run(cmd: RulesCommand, ctx: &Context) -> anyhow::Result<i32> {
    match cmd {
        RulesCommand::Validate(a) => validate(a),
        RulesCommand::Test(a) => test(a, ctx),
    }
}

/// Every rule file under `paths`, sorted within each directory.
pub fn rule_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            let mut stack = vec![p.clone()];
            while let Some(dir) = stack.pop() {
                let entries = std::fs::read_dir(&dir)
                    .with_context(|| format!("cannot read directory {}", dir.display()))?;
                for entry in entries {
                    let path = entry
                        .with_context(|| format!("cannot read directory {}", dir.display()))?
                        .path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if matches!(
                        path.extension().and_then(|e| e.to_str()),
                        Some("yml" | "yaml")
                    ) && path.file_name().and_then(|n| n.to_str())
                        != Some("logsources.yaml")
                    {
                        found.push(path);
                    }
                }
            }
            found.sort();
            out.extend(found);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            anyhow::bail!("{}: no such file or directory", p.display());
        }
    }
    Ok(out)
}

fn mapping(extra: Option<&Path>) -> anyhow::Result<LogSourceMap> {
    let mut map = LogSourceMap::default_map();
    if let Some(p) = extra {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        map.extend_yaml(&text, &p.display().to_string())?;
    }
    Ok(map)
}

/// Loads every rule file under `paths` into an engine.
pub fn load(
    paths: &[PathBuf],
    map: LogSourceMap,
    config: EngineConfig,
) -> anyhow::Result<(Engine, ValidationReport)> {
    let mut loader = Loader::new(map, config);
    for f in rule_files(paths)? {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
        loader.add_file(&f.display().to_string(), &text);
    }
    Ok(loader.build())
}

fn validate(args: ValidateArgs) -> anyhow::Result<i32> {
    let map = mapping(args.logsources.as_deref())?;
    let (_, report) = load(&args.paths, map, EngineConfig::default())?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for f in &report.files {
            let status = match f.status {
                FileStatus::Loaded => "loaded",
                FileStatus::Unsupported => "unsupported",
                FileStatus::Invalid => "invalid",
            };
            match &f.reason {
                Some(r) => println!("{status:<11} {}: {r}", f.path),
                None => println!("{status:<11} {}", f.path),
            }
        }
        println!(
            "{} files: {} loaded, {} unsupported, {} invalid",
            report.files.len(),
            report.loaded,
            report.unsupported,
            report.invalid
        );
    }
    Ok(if report.all_loaded() {
        EXIT_OK
    } else {
        EXIT_DEGRADED
    })
}

/// One alert as `rules test --json` prints it.
pub fn alert_json(a: &SigmaAlert) -> serde_json::Value {
    serde_json::json!({
        "rule_id": a.alert.rule_id,
        "title": a.alert.title,
        "level": a.alert.severity.as_str(),
        "group": a.alert.group,
        "count": a.alert.count,
        "first_seen": a.alert.window_start.to_rfc3339(),
        "last_seen": a.last_seen.to_rfc3339(),
    })
}

fn test(args: TestArgs, ctx: &Context) -> anyhow::Result<i32> {
    let format: Format = match args.format.parse() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ironpost: {e}");
            return Ok(EXIT_INVALID);
        }
    };
    let sigma = ctx.config().map(|c| c.sigma).unwrap_or_default();
    let config = EngineConfig {
        suppression_secs: args.suppression.unwrap_or(sigma.suppression_secs),
        correlation_memory_bytes: usize::try_from(
            sigma.correlation_memory_mb.saturating_mul(1 << 20),
        )
        .unwrap_or(usize::MAX),
        placeholders: sigma.placeholders.into_iter().collect(),
        host: String::new(),
    };
    let map = mapping(args.logsources.as_deref())?;
    let (mut engine, report) = load(&args.rules, map, config)?;
    for e in report.errors() {
        eprintln!("ironpost: skipped {e}");
    }
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("cannot open {}", args.input.display()))?;
    let source = args.input.display().to_string();
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    let (mut lines, mut unparsed, mut alerts) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    let json = args.json;
    let mut print = |a: SigmaAlert| {
        alerts += 1;
        if json {
            println!("{}", alert_json(&a));
        } else {
            println!(
                "{} {:<8} {} [{}] count={} {}..{}",
                a.alert.rule_id,
                a.alert.severity.as_str(),
                a.alert.title,
                ironpost_core::Alert::group_key(&a.alert.group),
                a.alert.count,
                a.alert.window_start.to_rfc3339(),
                a.last_seen.to_rfc3339()
            );
        }
    };
    loop {
        line.clear();
        if reader
            .read_line(&mut line)
            .with_context(|| format!("cannot read {}", args.input.display()))?
            == 0
        {
            break;
        }
        lines += 1;
        match parse_line(&line, format, &source) {
            Ok(rec) => engine.process(&Event::Log(rec), &mut print),
            Err(_) => unparsed += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let stats = engine.stats();
    eprintln!(
        "{lines} lines, {unparsed} unparsed, {} rules, {} correlations, {} matches, {alerts} alerts, {} suppressed, {:.0} events/s",
        engine.rule_count(),
        engine.correlation_count(),
        stats.matches,
        stats.suppressed,
        lines as f64 / secs
    );
    Ok(EXIT_OK)
}
