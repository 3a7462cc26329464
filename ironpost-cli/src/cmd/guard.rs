//! `ironpost guard list|history|approve|release`: the container guard of the running daemon.

use clap::{Args, Subcommand};
use ironpost_core::ActionRecord;

use super::{Context, EXIT_INVALID, EXIT_OK, EXIT_UNREACHABLE};
use crate::client::{self, ClientError, encode_query};
use crate::table;

/// Container guard commands.
#[derive(Debug, Subcommand)]
pub enum GuardCommand {
    /// Lists the containers the guard knows, with active actions and plans awaiting approval.
    List(JsonArgs),
    /// Lists action records (planned, dry run, done, failed, released, suppressed), newest first.
    History(HistoryArgs),
    /// Approves a plan waiting for approval (its plan id or one of its record ids).
    Approve(ApproveArgs),
    /// Reconnects the networks a container was isolated from and unpauses it.
    Release(ReleaseArgs),
}

/// Options of `guard list`.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the daemon's JSON answer.
    #[arg(long)]
    pub json: bool,
}

/// Options of `guard history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only records of this container (id, short id or name).
    #[arg(long)]
    pub container: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Print `{"actions":[...]}` as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `guard approve`.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The plan id (or a record id `PLAN.STEP`) shown by `guard list` or `guard history`.
    pub id: String,
}

/// Options of `guard release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The container: id, short id or name.
    pub container: String,
    /// Print the daemon's JSON answer.
    #[arg(long)]
    pub json: bool,
}

fn fail(e: ClientError) -> anyhow::Result<i32> {
    eprintln!("ironpost: {e}");
    Ok(match e {
        ClientError::Unreachable(_) => EXIT_UNREACHABLE,
        ClientError::Api { status, .. } if (400..500).contains(&status) => EXIT_INVALID,
        _ => 1,
    })
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn join(v: &serde_json::Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(text).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

/// Runs a guard command.
pub fn run(cmd: GuardCommand, ctx: &Context) -> anyhow::Result<i32> {
    let socket = ctx.config()?.socket_path();
    match cmd {
        GuardCommand::List(a) => {
            let doc = match client::get(&socket, "/v1/guard/containers") {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            if a.json {
                println!("{}", serde_json::to_string(&doc)?);
                return Ok(EXIT_OK);
            }
            let empty = Vec::new();
            let rows: Vec<Vec<String>> = doc["containers"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(|c| {
                    let networks = c["networks"]
                        .as_array()
                        .unwrap_or(&empty)
                        .iter()
                        .map(|n| text(&n["name"]))
                        .collect::<Vec<_>>()
                        .join(",");
                    vec![
                        short(&text(&c["id"])).to_owned(),
                        text(&c["name"]),
                        text(&c["image"]),
                        text(&c["state"]),
                        networks,
                        if c["protected"].as_bool() == Some(true) {
                            "yes"
                        } else {
                            ""
                        }
                        .into(),
                        join(&c["active"]),
                        join(&c["pending"]),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &[
                        "ID",
                        "NAME",
                        "IMAGE",
                        "STATE",
                        "NETWORKS",
                        "PROTECTED",
                        "ACTIVE",
                        "AWAITING APPROVAL"
                    ],
                    &rows
                )
            );
            Ok(EXIT_OK)
        }
        GuardCommand::History(a) => {
            let mut query = vec![format!("limit={}", a.limit)];
            if let Some(c) = &a.container {
                query.push(format!("container={}", encode_query(c)));
            }
            let doc = match client::get(&socket, &format!("/v1/guard/actions?{}", query.join("&")))
            {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            if a.json {
                println!("{}", serde_json::to_string(&doc)?);
                return Ok(EXIT_OK);
            }
            let records: Vec<ActionRecord> = serde_json::from_value(doc["actions"].clone())?;
            let rows: Vec<Vec<String>> = records
                .iter()
                .map(|r| {
                    vec![
                        r.updated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        r.id.clone(),
                        r.details["container_name"]
                            .as_str()
                            .unwrap_or(short(&r.target))
                            .to_owned(),
                        r.action.clone(),
                        r.state.to_string(),
                        r.policy.clone().unwrap_or_default(),
                        r.alert_id.clone().unwrap_or_default(),
                        r.error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &[
                        "UPDATED (UTC)",
                        "ID",
                        "CONTAINER",
                        "ACTION",
                        "STATE",
                        "POLICY",
                        "ALERT",
                        "ERROR"
                    ],
                    &rows
                )
            );
            Ok(EXIT_OK)
        }
        GuardCommand::Approve(a) => {
            let path = format!("/v1/guard/approve/{}", encode_query(&a.id));
            match client::request(&socket, "POST", &path, None) {
                Ok(doc) => {
                    println!("approved plan {}", text(&doc["approved"]));
                    Ok(EXIT_OK)
                }
                Err(e) => fail(e),
            }
        }
        GuardCommand::Release(a) => {
            let path = format!("/v1/guard/release/{}", encode_query(&a.container));
            let doc = match client::request(&socket, "POST", &path, None) {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            if a.json {
                println!("{}", serde_json::to_string(&doc)?);
            } else {
                let empty = Vec::new();
                let released = doc["released"].as_array().unwrap_or(&empty);
                for r in released {
                    println!("released {} ({})", text(&r["action"]), text(&r["id"]));
                }
                if released.is_empty() {
                    println!("nothing to release on {}", a.container);
                }
                for e in doc["errors"].as_array().unwrap_or(&empty) {
                    eprintln!("ironpost: release failed: {}", text(e));
                }
            }
            Ok(if doc["errors"].as_array().is_some_and(|e| !e.is_empty()) {
                1
            } else {
                EXIT_OK
            })
        }
    }
}
