//! `ironpost sbom PATH...`: writes a software bill of materials for the lockfiles found.
//!
//! Exit codes: 0 the SBOM was written; 2 invalid input (unknown format, unreadable path,
//! a lockfile that does not parse, no lockfile found).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use ironpost_sbom_scanner::Inventory;
use ironpost_sbom_scanner::discover::DiscoverOptions;
use ironpost_sbom_scanner::sbom::{BomMeta, SbomFormat, write};

use super::scan::write_stdout;
use super::{Context, EXIT_INVALID, EXIT_OK};

/// Options of `sbom`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 written, 2 invalid input (bad format, unreadable or unparsable lockfile, none found)."
)]
pub struct SbomArgs {
    /// Lockfiles or directories searched recursively for them.
    #[arg(value_name = "PATH", required_unless_present_any = ["containers", "images"])]
    pub paths: Vec<PathBuf>,
    /// Containers (id or name) whose filesystem is inventoried, through the Docker export stream.
    #[arg(long = "container", value_name = "ID")]
    pub containers: Vec<String>,
    /// Images inventoried the same way, through a container created from them and removed after.
    #[arg(long = "image", value_name = "NAME")]
    pub images: Vec<String>,
    /// Output format: cyclonedx-json or spdx-json.
    #[arg(long, default_value = "cyclonedx-json")]
    pub format: String,
    /// Write to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The subject's name in the document (default: the project named by the first lockfile).
    #[arg(long)]
    pub name: Option<String>,
}

/// The document's subject: `name`, else the project a lockfile names, else the first container
/// or image, else the directory of the first path.
pub fn subject(
    name: Option<String>,
    inventories: &[Inventory],
    paths: &[PathBuf],
    containers: &[String],
    images: &[String],
) -> BomMeta {
    let name = name
        .or_else(|| inventories.iter().find_map(|i| i.root_name.clone()))
        .or_else(|| containers.first().or(images.first()).cloned())
        .or_else(|| {
            let first = paths.first()?.canonicalize().ok()?;
            let dir = if first.is_file() {
                first.parent()?.to_path_buf()
            } else {
                first
            };
            dir.file_name().map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "unnamed".to_string());
    let mut meta = BomMeta::new(name);
    meta.version = inventories.iter().find_map(|i| i.root_version.clone());
    meta
}

/// Runs `sbom`.
pub fn run(args: SbomArgs, ctx: &Context) -> anyhow::Result<i32> {
    let format: SbomFormat = match args.format.parse() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ironpost: {e}");
            return Ok(EXIT_INVALID);
        }
    };
    let config = ctx.config()?;
    let options = DiscoverOptions {
        skip_dirs: config.sbom.skip_dirs.clone(),
    };
    let inventories =
        match super::scan::gather(&args.paths, &args.containers, &args.images, &options) {
            Ok(i) if !i.is_empty() => i,
            Ok(_) => {
                eprintln!("ironpost: no lockfile or package database found");
                return Ok(EXIT_INVALID);
            }
            Err(e) => {
                eprintln!("ironpost: {e:#}");
                return Ok(EXIT_INVALID);
            }
        };
    let meta = subject(
        args.name,
        &inventories,
        &args.paths,
        &args.containers,
        &args.images,
    );
    let mut text = write(format, &inventories, &meta);
    text.push('\n');
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => write_stdout(&text)?,
    }
    let packages: usize = inventories.iter().map(|i| i.packages.len()).sum();
    eprintln!("{} lockfile(s), {packages} package(s)", inventories.len());
    Ok(EXIT_OK)
}
