//! `ironpost`: the command line of Ironpost.
//!
//! Live state (`status`, `alerts`) comes from the daemon's control socket; configuration
//! commands work offline. Exit codes: 0 success/healthy, 1 degraded or failure, 2 invalid input
//! or configuration, 3 daemon unreachable (docs/cli.md).

mod client;
mod cmd;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Ironpost host security monitoring.
#[derive(Debug, Parser)]
#[command(name = "ironpost", version, about, propagate_version = true)]
struct Cli {
    /// Configuration file (default: $IRONPOST_CONFIG, ./ironpost.toml, /etc/ironpost/ironpost.toml, built-in defaults).
    #[arg(short = 'c', long = "config", global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Shows the daemon's health, modules and queues (exit 0 healthy, 1 degraded, 3 unreachable).
    Status(cmd::status::StatusArgs),
    /// Reloads the running daemon's configuration, rules, policies and list files (exit 0
    /// applied, 1 refused, 3 unreachable).
    Reload(cmd::reload::ReloadArgs),
    /// Lists and shows alerts.
    #[command(subcommand)]
    Alerts(cmd::alerts::AlertsCommand),
    /// Adds, removes and lists XDP block entries of the running daemon.
    #[command(subcommand)]
    Block(cmd::block::BlockCommand),
    /// Validates and shows the configuration.
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Parses log files offline, as the daemon would read them.
    #[command(subcommand)]
    Logs(cmd::logs::LogsCommand),
    /// Validates Sigma rules and tests them over a log file, offline.
    #[command(subcommand)]
    Rules(cmd::rules::RulesCommand),
    /// Writes a CycloneDX or SPDX SBOM of the lockfiles found, offline.
    Sbom(cmd::sbom::SbomArgs),
    /// Scans lockfiles for known vulnerabilities against the imported OSV database, offline.
    Scan(cmd::scan::ScanArgs),
    /// Imports and shows the offline vulnerability database.
    #[command(subcommand)]
    Db(cmd::db::DbCommand),
    /// Lists, approves and releases the container guard's responses on the running daemon.
    #[command(subcommand)]
    Guard(cmd::guard::GuardCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = cmd::Context {
        config_flag: cli.config,
    };
    let result = match cli.command {
        Command::Status(a) => cmd::status::run(a, &ctx),
        Command::Reload(a) => cmd::reload::run(a, &ctx),
        Command::Alerts(c) => cmd::alerts::run(c, &ctx),
        Command::Block(c) => cmd::block::run(c, &ctx),
        Command::Config(c) => cmd::config::run(c, &ctx),
        Command::Logs(c) => cmd::logs::run(c, &ctx),
        Command::Rules(c) => cmd::rules::run(c, &ctx),
        Command::Sbom(a) => cmd::sbom::run(a, &ctx),
        Command::Scan(a) => cmd::scan::run(a, &ctx),
        Command::Db(c) => cmd::db::run(c, &ctx),
        Command::Guard(c) => cmd::guard::run(c, &ctx),
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("ironpost: {e:#}");
            let invalid = e.chain().any(|c| {
                c.downcast_ref::<ironpost_core::config::ConfigError>()
                    .is_some()
            });
            ExitCode::from(if invalid { cmd::EXIT_INVALID as u8 } else { 1 })
        }
    }
}
