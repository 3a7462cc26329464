//! `ironpost reload [--json]`: asks the running daemon to read its configuration, rules, policies
//! and list files again. Exit 0 when applied, 1 when refused (the daemon keeps what runs and the
//! error names the file and line), 3 when the daemon is unreachable.

use clap::Args;

use super::{Context, EXIT_DEGRADED, EXIT_OK, EXIT_UNREACHABLE};
use crate::client::{self, ClientError};

/// Options of `reload`.
#[derive(Debug, Args)]
pub struct ReloadArgs {
    /// Print the daemon's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Sends the reload request.
pub fn run(args: ReloadArgs, ctx: &Context) -> anyhow::Result<i32> {
    let socket = ctx.daemon_socket()?;
    match client::request(&socket, "POST", "/v1/reload", None) {
        Ok(answer) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                let list = |key: &str| {
                    answer[key]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default()
                };
                let applied = list("applied");
                println!(
                    "reloaded: generation {}; {}",
                    answer["generation"],
                    if applied.is_empty() {
                        "nothing changed".to_owned()
                    } else {
                        format!("applied: {applied}")
                    }
                );
                let restart = list("restart_required");
                if !restart.is_empty() {
                    println!("takes effect after a restart: {restart}");
                }
            }
            Ok(EXIT_OK)
        }
        Err(e @ ClientError::Unreachable(_)) => {
            eprintln!("ironpost: {e}");
            Ok(EXIT_UNREACHABLE)
        }
        Err(e) => {
            if args.json {
                println!("{}", serde_json::json!({ "error": e.to_string() }));
            }
            eprintln!("ironpost: reload refused, the running configuration stays: {e}");
            Ok(EXIT_DEGRADED)
        }
    }
}
