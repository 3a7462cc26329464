//! `ironpost scan PATH...`: known vulnerabilities in the lockfiles found, offline.
//!
//! Matches every package against the imported OSV index and prints the findings as a table,
//! JSON (`{"findings":[{"package","version","ecosystem","id","aliases","severity","fixed",
//! "lockfile","line","via"}],"ignored":[...],"summary":{...}}`) or SARIF 2.1.0.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use ironpost_core::alert::Severity;
use ironpost_sbom_scanner::Inventory;
use ironpost_sbom_scanner::discover::container::inventories_from_tar;
use ironpost_sbom_scanner::discover::{DiscoverOptions, read_inventories};
use ironpost_sbom_scanner::report::{ReportFormat, render};
use ironpost_sbom_scanner::sbom::{SbomFormat, write as write_sbom};
use ironpost_sbom_scanner::scan::{IgnoreList, scan};
use ironpost_sbom_scanner::vulndb::VulnDb;

use super::db::{db_dir, staleness};
use super::{Context, EXIT_DEGRADED, EXIT_INVALID, EXIT_OK};

/// Options of `scan`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 no finding at or above --fail-on, 1 some finding at or above it, \
2 invalid input (unreadable or unparsable lockfile, none found, missing database, bad ignore file)."
)]
pub struct ScanArgs {
    /// Lockfiles or directories searched recursively for them.
    #[arg(value_name = "PATH", required_unless_present_any = ["containers", "images"])]
    pub paths: Vec<PathBuf>,
    /// Containers (id or name, running or not) whose filesystem is scanned, read through the
    /// Docker Engine's export stream.
    #[arg(long = "container", value_name = "ID")]
    pub containers: Vec<String>,
    /// Images scanned the same way, through a container created from them (never started) and
    /// removed afterwards.
    #[arg(long = "image", value_name = "NAME")]
    pub images: Vec<String>,
    /// Database directory (default: [sbom] db_dir, else <data_dir>/vulndb).
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// Output format: table, json or sarif.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Lowest severity that makes the exit code 1: informational, low, medium, high, critical or never.
    #[arg(long, default_value = "low", value_name = "SEVERITY")]
    pub fail_on: String,
    /// Ignore file (TOML `[[ignore]]` rules with id or alias, reason and expires); default: [sbom] ignore_file.
    #[arg(long, value_name = "FILE")]
    pub ignore: Option<PathBuf>,
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write a CycloneDX 1.6 SBOM of what was scanned to FILE (one pass: the lockfiles
    /// are read once for the scan and both SBOMs).
    #[arg(long = "cyclonedx", value_name = "FILE")]
    pub cyclonedx: Option<PathBuf>,
    /// Also write an SPDX 2.3 SBOM of what was scanned to FILE.
    #[arg(long = "spdx", value_name = "FILE")]
    pub spdx: Option<PathBuf>,
}

/// Writes `text` to standard output; a reader that went away (`| head`) is not an error.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// The inventories of the lockfiles under `paths` and inside `containers` and `images`.
///
/// A lockfile inside a container that does not parse is reported on standard error and the rest
/// is scanned; one on disk stops the scan, as a partial inventory would under-report.
pub fn gather(
    paths: &[PathBuf],
    containers: &[String],
    images: &[String],
    options: &DiscoverOptions,
) -> anyhow::Result<Vec<Inventory>> {
    let mut inventories = if paths.is_empty() {
        Vec::new()
    } else {
        read_inventories(paths, options)?
    };
    let mut take = |label: &str,
                    stream: ironpost_sbom_scanner::discover::docker::Body|
     -> anyhow::Result<()> {
        let found = inventories_from_tar(stream, label, options)?;
        for p in &found.problems {
            eprintln!("warning: {p}");
        }
        if found.inventories.is_empty() {
            eprintln!("warning: {label}: no lockfile or package database found");
        }
        inventories.extend(found.inventories);
        Ok(())
    };
    for id in containers {
        take(
            &format!("container:{id}"),
            ironpost_sbom_scanner::discover::docker::export_container(id)?,
        )?;
    }
    for image in images {
        let scratch = ironpost_sbom_scanner::discover::docker::Scratch::from_image(image)?;
        take(
            &format!("image:{image}"),
            ironpost_sbom_scanner::discover::docker::export_container(scratch.id())?,
        )?;
    }
    Ok(inventories)
}

fn invalid(message: impl std::fmt::Display) -> anyhow::Result<i32> {
    eprintln!("ironpost: {message}");
    Ok(EXIT_INVALID)
}

/// Runs `scan`.
pub fn run(args: ScanArgs, ctx: &Context) -> anyhow::Result<i32> {
    let format: ReportFormat = match args.format.parse() {
        Ok(f) => f,
        Err(e) => return invalid(e),
    };
    let threshold: Option<Severity> = match args.fail_on.as_str() {
        "never" => None,
        s => match s.parse() {
            Ok(sev) => Some(sev),
            Err(_) => {
                return invalid(format!(
                    "--fail-on {s}: expected informational, low, medium, high, critical or never"
                ));
            }
        },
    };
    let config = ctx.config()?;
    let ignore_path = args
        .ignore
        .or_else(|| Some(config.sbom.ignore_file.clone()).filter(|p| !p.as_os_str().is_empty()));
    let ignore = match ignore_path.as_deref().map(IgnoreList::load).transpose() {
        Ok(list) => list.unwrap_or_default(),
        Err(e) => return invalid(e),
    };
    let db = match VulnDb::load(&db_dir(args.db, &config)) {
        Ok(db) => db,
        Err(e) => return invalid(e),
    };
    if let Some(w) = staleness(&db, &config) {
        eprintln!("warning: {w}");
    }
    let options = DiscoverOptions {
        skip_dirs: config.sbom.skip_dirs.clone(),
    };
    let inventories = match gather(&args.paths, &args.containers, &args.images, &options) {
        Ok(i) => i,
        Err(e) => return invalid(format!("{e:#}")),
    };
    let today = chrono::Utc::now().date_naive();
    for rule in ignore.expired(today) {
        eprintln!(
            "warning: ignore rule for {} (line {}) expired on {}; it no longer applies",
            rule.id, rule.line, rule.expires
        );
    }
    let report = scan(&inventories, &db, &ignore, today);
    let sboms = [
        (SbomFormat::CycloneDxJson, &args.cyclonedx),
        (SbomFormat::SpdxJson, &args.spdx),
    ];
    if sboms.iter().any(|(_, p)| p.is_some()) {
        let meta = super::sbom::subject(
            None,
            &inventories,
            &args.paths,
            &args.containers,
            &args.images,
        );
        for (format, path) in sboms {
            if let Some(path) = path {
                let mut text = write_sbom(format, &inventories, &meta);
                text.push('\n');
                std::fs::write(path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
    }
    let mut text = render(format, &report);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => write_stdout(&text)?,
    }
    Ok(match threshold {
        Some(t) if report.fails(t) => EXIT_DEGRADED,
        _ => EXIT_OK,
    })
}
