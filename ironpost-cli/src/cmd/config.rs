//! `ironpost config validate|show`.

use clap::Subcommand;
use ironpost_core::config::Config;

use super::{Context, EXIT_INVALID, EXIT_OK};

/// Configuration commands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Checks the configuration (with environment overrides); exit 0 when valid, 2 when not.
    Validate,
    /// Prints the effective configuration as TOML, secrets redacted.
    Show,
}

/// Runs a configuration command.
pub fn run(cmd: ConfigCommand, ctx: &Context) -> anyhow::Result<i32> {
    let (config, path) = match Config::discover(ctx.config_flag.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("invalid: {e}");
            return Ok(EXIT_INVALID);
        }
    };
    let source = path
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "<defaults>".into());
    match cmd {
        ConfigCommand::Validate => println!("valid: {source}"),
        ConfigCommand::Show => {
            println!("# effective configuration from {source}, environment overrides applied");
            print!("{}", config.to_redacted_toml());
        }
    }
    Ok(EXIT_OK)
}
