//! `ironpost status [--json]`: exit 0 healthy, 1 degraded, 3 unreachable.

use clap::Args;
use serde_json::Value;

use super::{Context, EXIT_DEGRADED, EXIT_OK, EXIT_UNREACHABLE};
use crate::client::{self, ClientError};
use crate::table;

/// Options of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the daemon's status document as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Asks the daemon for its status.
pub fn run(args: StatusArgs, ctx: &Context) -> anyhow::Result<i32> {
    let socket = ctx.daemon_socket()?;
    let doc = match client::get(&socket, "/v1/status") {
        Ok(doc) => doc,
        Err(e @ ClientError::Unreachable(_)) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "status": "unreachable", "error": e.to_string() })
                );
            } else {
                eprintln!("ironpost: {e}");
                eprintln!(
                    "Is ironpost-daemon running with the same configuration (socket {})?",
                    socket.display()
                );
            }
            return Ok(EXIT_UNREACHABLE);
        }
        Err(e) => return Err(e.into()),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", render(&doc));
    }
    Ok(if doc["status"] == "healthy" {
        EXIT_OK
    } else {
        EXIT_DEGRADED
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h}h{m}m")
    } else if h > 0 {
        format!("{h}h{m}m{s}s")
    } else {
        format!("{m}m{s}s")
    }
}

/// The human rendering of a status document.
pub fn render(doc: &Value) -> String {
    let mut out = format!(
        "ironpost {} on {}: {} (up {}, pid {})\nstore: {} {}\n\n",
        text(&doc["version"]),
        text(&doc["host"]),
        text(&doc["status"]).to_uppercase(),
        uptime(doc["uptime_secs"].as_u64().unwrap_or(0)),
        text(&doc["pid"]),
        text(&doc["store"]["backend"]),
        text(&doc["store"]["location"]),
    );
    let cfg = &doc["config"];
    if !cfg.is_null() {
        out.insert_str(
            out.len() - 1,
            &format!(
                "config: generation {} loaded {} ({} reloads, {} failed)\n",
                text(&cfg["generation"]),
                text(&cfg["loaded_at"]),
                text(&cfg["reloads"]),
                text(&cfg["failures"]),
            ),
        );
        if let Some(e) = cfg["last_error"].as_object() {
            out.insert_str(
                out.len() - 1,
                &format!(
                    "last reload error ({}, {}): {}\n",
                    text(&e["trigger"]),
                    text(&e["at"]),
                    text(&e["error"]),
                ),
            );
        }
        if let Some(keys) = cfg["restart_required"].as_array().filter(|k| !k.is_empty()) {
            let keys: Vec<String> = keys.iter().map(text).collect();
            out.insert_str(
                out.len() - 1,
                &format!("changed, effective after a restart: {}\n", keys.join(", ")),
            );
        }
    }
    let empty = Vec::new();
    let modules: Vec<Vec<String>> = doc["modules"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|m| {
            let counters = m["counters"]
                .as_object()
                .map(|c| {
                    c.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            vec![
                text(&m["name"]),
                text(&m["state"]),
                text(&m["restarts"]),
                counters,
                text(&m["reason"]),
            ]
        })
        .collect();
    out.push_str(&table::render(
        &["MODULE", "STATE", "RESTARTS", "COUNTERS", "REASON"],
        &modules,
    ));
    out.push('\n');
    let buses: Vec<Vec<String>> = doc["buses"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|b| {
            ["name", "queued", "capacity", "sent", "dropped"]
                .iter()
                .map(|k| text(&b[*k]))
                .collect()
        })
        .collect();
    out.push_str(&table::render(
        &["BUS", "QUEUED", "CAPACITY", "SENT", "DROPPED"],
        &buses,
    ));
    if let Some(sinks) = doc["sinks"].as_array().filter(|s| !s.is_empty()) {
        let rows: Vec<Vec<String>> = sinks
            .iter()
            .map(|s| {
                [
                    "name",
                    "type",
                    "state",
                    "backlog",
                    "delivered",
                    "dropped",
                    "failed",
                    "last_error",
                ]
                .iter()
                .map(|k| text(&s[*k]))
                .collect()
            })
            .collect();
        out.push('\n');
        out.push_str(&table::render(
            &[
                "SINK",
                "TYPE",
                "STATE",
                "BACKLOG",
                "DELIVERED",
                "DROPPED",
                "FAILED",
                "LAST ERROR",
            ],
            &rows,
        ));
    }
    out
}
