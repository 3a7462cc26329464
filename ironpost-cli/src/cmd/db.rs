//! `ironpost db import|update|status`: the offline vulnerability database.
//!
//! `import` reads OSV records (directories of JSON files, per-ecosystem `all.zip` archives)
//! and writes the compiled index into the database directory (`--db`, else `[sbom] db_dir`,
//! else `<data_dir>/vulndb`). `update` downloads the same `all.zip` archives from the OSV bucket
//! (or a mirror) and imports them the same way. `status` shows the index's as-of date and warns
//! when it is older than `[sbom] max_db_age_days`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use ironpost_core::config::Config;
use ironpost_sbom_scanner::vulndb::update::{
    DEFAULT_ECOSYSTEMS, DEFAULT_URL, Limits, Progress, UpdateError, UpdateSource,
};
use ironpost_sbom_scanner::vulndb::{INDEX_FILE, VulnDb};

use super::{Context, EXIT_DEGRADED, EXIT_INVALID, EXIT_OK, EXIT_UNREACHABLE};

/// Vulnerability database commands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Imports OSV records and writes the index (exit 0 written, 2 unreadable input).
    Import(ImportArgs),
    /// Downloads `<URL>/<ECOSYSTEM>/all.zip` per ecosystem and imports them (exit 0 written,
    /// 2 bad URL or CA file or archive, 3 download failed).
    Update(UpdateArgs),
    /// Shows the index's as-of date and size (exit 0 fresh, 1 older than max_db_age_days, 2 missing).
    Status(StatusArgs),
}

/// Options of `db import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// OSV directories (searched recursively), `.json` files or `all.zip` archives.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Database directory.
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
}

/// Options of `db update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Base URL of the OSV bucket or a mirror of its layout (`http://` only for loopback hosts).
    #[arg(long, value_name = "URL", default_value = DEFAULT_URL)]
    pub url: String,
    /// OSV ecosystem names to fetch [default: every ecosystem scans match].
    #[arg(long = "ecosystem", value_name = "NAME", num_args = 1..)]
    pub ecosystems: Vec<String>,
    /// Database directory.
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// PEM certificates to trust beside the system's roots, for a private mirror.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Largest archive accepted, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub max_size_mib: u64,
}

/// Options of `db status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Database directory.
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The database directory: the flag, else the configured one, else `<data_dir>/vulndb`.
pub fn db_dir(flag: Option<PathBuf>, config: &Config) -> PathBuf {
    flag.unwrap_or_else(|| {
        if config.sbom.db_dir.as_os_str().is_empty() {
            config.general.data_dir.join("vulndb")
        } else {
            config.sbom.db_dir.clone()
        }
    })
}

/// A warning when the data is older than the configured age, for `scan` and `db status`.
pub fn staleness(db: &VulnDb, config: &Config) -> Option<String> {
    let age = db.age(chrono::Utc::now())?;
    let max = config.sbom.max_db_age_days as i64;
    (age.num_days() > max).then(|| {
        format!(
            "the advisories are {} days old (as of {}), more than max_db_age_days = {max}: run `ironpost db update` or re-run `ironpost db import`",
            age.num_days(),
            db.meta.as_of
        )
    })
}

/// The summary line of `import` and `update`.
fn print_summary(db: &VulnDb, path: &std::path::Path) {
    let s = &db.meta.stats;
    println!(
        "imported {} records into {}: {} advisories ({} informational), {} merged by alias, {} withdrawn dropped; as of {}",
        s.records,
        path.display(),
        s.advisories,
        s.informational,
        s.merged,
        s.withdrawn,
        db.meta.as_of
    );
    if s.unsupported_ecosystem > 0 {
        eprintln!(
            "note: {} affected entries name an ecosystem not matched here",
            s.unsupported_ecosystem
        );
    }
}

/// Download progress on stderr: a redrawn bar on a terminal, one line per archive otherwise.
struct ProgressBar {
    tty: bool,
    /// What the bar last showed, to redraw only on a visible change.
    shown: Option<(u64, u64)>,
    drawing: bool,
}

impl ProgressBar {
    const WIDTH: u64 = 30;

    fn new(tty: bool) -> Self {
        ProgressBar {
            tty,
            shown: None,
            drawing: false,
        }
    }

    fn show(&mut self, p: Progress<'_>) {
        match p {
            Progress::Started { url, total } => {
                self.shown = None;
                if !self.tty {
                    match total {
                        Some(t) => eprintln!("downloading {url} ({})", human_size(t)),
                        None => eprintln!("downloading {url}"),
                    }
                }
                self.draw(url, 0, total);
            }
            Progress::Received {
                url,
                received,
                total,
            } => self.draw(url, received, total),
            Progress::Finished { url, received } => {
                if self.tty {
                    self.shown = None;
                    self.draw(url, received, Some(received));
                    eprintln!();
                    self.drawing = false;
                } else {
                    eprintln!("downloaded {url}: {}", human_size(received));
                }
            }
        }
    }

    fn draw(&mut self, url: &str, received: u64, total: Option<u64>) {
        if !self.tty {
            return;
        }
        let line = match total {
            Some(t) if t > 0 => {
                let filled = received.min(t) * Self::WIDTH / t;
                let percent = received.min(t) * 100 / t;
                // Redraw when the bar or the percentage moves, not on every read.
                if self.shown == Some((filled, percent)) {
                    return;
                }
                self.shown = Some((filled, percent));
                format!(
                    "{url} [{}{}] {} / {} {percent:>3}%",
                    "#".repeat(filled as usize),
                    " ".repeat((Self::WIDTH - filled) as usize),
                    human_size(received),
                    human_size(t)
                )
            }
            _ => {
                let step = (received >> 20, 0);
                if self.shown == Some(step) {
                    return;
                }
                self.shown = Some(step);
                format!("{url} {}", human_size(received))
            }
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}\x1b[K");
        let _ = err.flush();
        self.drawing = true;
    }

    /// Ends a bar left half drawn by a failed download, so the error starts on its own line.
    fn abandon(&mut self) {
        if self.drawing {
            eprintln!();
            self.drawing = false;
        }
    }
}

/// A byte count for people: KiB below one MiB, MiB above.
fn human_size(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

/// Runs a db command.
pub fn run(cmd: DbCommand, ctx: &Context) -> anyhow::Result<i32> {
    let config = ctx.config()?;
    match cmd {
        DbCommand::Import(a) => {
            let dir = db_dir(a.db, &config);
            let db = match VulnDb::import(&a.paths) {
                Ok(db) => db,
                Err(e) => {
                    eprintln!("ironpost: {e}");
                    return Ok(EXIT_INVALID);
                }
            };
            let path = db.save(&dir)?;
            print_summary(&db, &path);
            Ok(EXIT_OK)
        }
        DbCommand::Update(a) => {
            let dir = db_dir(a.db, &config);
            let source = UpdateSource {
                base_url: a.url,
                ecosystems: if a.ecosystems.is_empty() {
                    DEFAULT_ECOSYSTEMS.iter().map(|e| e.to_string()).collect()
                } else {
                    a.ecosystems
                },
                ca_file: a.ca_file,
                limits: Limits {
                    max_bytes: a.max_size_mib.saturating_mul(1 << 20),
                    ..Limits::default()
                },
            };
            let mut bar = ProgressBar::new(std::io::stderr().is_terminal());
            let db = match VulnDb::update(&source, &dir, &mut |p| bar.show(p)) {
                Ok(db) => db,
                Err(e) => {
                    bar.abandon();
                    eprintln!("ironpost: {e}");
                    let index = dir.join(INDEX_FILE);
                    if index.exists() {
                        eprintln!("ironpost: {} is unchanged", index.display());
                    }
                    return Ok(match e {
                        UpdateError::BadUrl { .. }
                        | UpdateError::PlainHttp { .. }
                        | UpdateError::CaFile { .. }
                        | UpdateError::Import { .. } => EXIT_INVALID,
                        _ => EXIT_UNREACHABLE,
                    });
                }
            };
            let path = db.save(&dir)?;
            print_summary(&db, &path);
            Ok(EXIT_OK)
        }
        DbCommand::Status(a) => {
            let dir = db_dir(a.db, &config);
            let db = match VulnDb::load(&dir) {
                Ok(db) => db,
                Err(e) => {
                    eprintln!("ironpost: {e}");
                    return Ok(EXIT_INVALID);
                }
            };
            let stale = staleness(&db, &config);
            if a.json {
                let v = serde_json::json!({
                    "dir": dir,
                    "as_of": db.meta.as_of,
                    "imported_at": db.meta.imported_at,
                    "advisories": db.advisories.len(),
                    "sources": db.meta.sources,
                    "stats": db.meta.stats,
                    "stale": stale.is_some(),
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("database:    {}", dir.display());
                println!("as of:       {}", db.meta.as_of);
                println!("imported at: {}", db.meta.imported_at);
                println!(
                    "advisories:  {} ({} informational)",
                    db.advisories.len(),
                    db.meta.stats.informational
                );
                println!("sources:     {}", db.meta.sources.join(", "));
            }
            match stale {
                Some(w) => {
                    eprintln!("warning: {w}");
                    Ok(EXIT_DEGRADED)
                }
                None => Ok(EXIT_OK),
            }
        }
    }
}
