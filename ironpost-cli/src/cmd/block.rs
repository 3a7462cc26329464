//! `ironpost block add|remove|list`: the XDP blocklist of the running daemon, changed without a
//! restart through the control socket.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Context, EXIT_INVALID, EXIT_OK, EXIT_UNREACHABLE};
use crate::client::{self, ClientError};
use crate::table;

/// `ironpost block ...`.
#[derive(Debug, Subcommand)]
pub enum BlockCommand {
    /// Block an address or CIDR prefix (IPv4 or IPv6).
    Add(AddArgs),
    /// Remove a block entry.
    Remove(RemoveArgs),
    /// List the block entries and the allowlist.
    List(ListArgs),
}

/// Options of `block add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The address or prefix: 192.0.2.7, 198.51.100.0/24, 2001:db8::/32.
    pub target: String,
    /// Remove the entry after this long: 90s, 10m, 2h, 7d (default: never).
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// Why it is blocked, kept with the entry.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Let the traffic pass but report it, instead of dropping it.
    #[arg(long)]
    pub monitor: bool,
}

/// Options of `block remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The address or prefix, as it was added.
    pub target: String,
}

/// Options of `block list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parses a duration such as `90s`, `10m`, `2h`, `7d` or a number of seconds.
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let bad = || format!("`{text}` is not a duration such as 90s, 10m, 2h or 7d");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(factor).ok_or_else(bad)?;
    if secs == 0 {
        return Err(format!("`{text}`: a time to live must be longer than zero"));
    }
    Ok(secs)
}

/// Runs a `block` command.
pub fn run(command: BlockCommand, ctx: &Context) -> anyhow::Result<i32> {
    let config = ctx.config()?;
    let socket = config.socket_path();
    let answer = match &command {
        BlockCommand::Add(a) => {
            let ttl = match a.ttl.as_deref().map(parse_ttl).transpose() {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("ironpost: --ttl: {e}");
                    return Ok(EXIT_INVALID);
                }
            };
            let body = json!({
                "target": a.target,
                "ttl_secs": ttl,
                "reason": a.reason,
                "action": if a.monitor { "monitor" } else { "drop" },
            });
            client::request(&socket, "POST", "/v1/block", Some(&body))
        }
        BlockCommand::Remove(r) => client::request(
            &socket,
            "DELETE",
            &format!("/v1/block?target={}", client::encode_query(&r.target)),
            None,
        ),
        BlockCommand::List(_) => client::get(&socket, "/v1/block"),
    };
    let doc = match answer {
        Ok(doc) => doc,
        Err(e @ ClientError::Unreachable(_)) => {
            eprintln!("ironpost: {e}");
            eprintln!(
                "Is ironpost-daemon running with the same configuration (socket {})?",
                socket.display()
            );
            return Ok(EXIT_UNREACHABLE);
        }
        Err(ClientError::Api { status, message }) if (400..500).contains(&status) => {
            eprintln!("ironpost: {message}");
            return Ok(EXIT_INVALID);
        }
        Err(e) => return Err(e.into()),
    };
    match command {
        BlockCommand::Add(_) => {
            let e = &doc["entry"];
            println!(
                "{} {}{}",
                if e["action"] == "monitor" {
                    "monitoring"
                } else {
                    "blocked"
                },
                text(&e["target"]),
                match e["expires_at"].as_str() {
                    Some(t) => format!(" until {t}"),
                    None => String::new(),
                }
            );
        }
        BlockCommand::Remove(_) => println!("removed {}", text(&doc["removed"]["target"])),
        BlockCommand::List(a) if a.json => println!("{}", serde_json::to_string_pretty(&doc)?),
        BlockCommand::List(_) => print!("{}", render(&doc)),
    }
    Ok(EXIT_OK)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The human rendering of `GET /v1/block`.
pub fn render(doc: &Value) -> String {
    let empty = Vec::new();
    let rows: Vec<Vec<String>> = doc["entries"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|e| {
            ["target", "action", "origin", "hits", "expires_at", "reason"]
                .iter()
                .map(|k| text(&e[*k]))
                .collect()
        })
        .collect();
    let mut out = table::render(
        &["TARGET", "ACTION", "ORIGIN", "HITS", "EXPIRES", "REASON"],
        &rows,
    );
    let allow: Vec<String> = doc["allowlist"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(text)
        .collect();
    if !allow.is_empty() {
        out.push_str(&format!("\nallowlist: {}\n", allow.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_accepts_units_and_refuses_the_rest() {
        assert_eq!(parse_ttl("90s"), Ok(90));
        assert_eq!(parse_ttl("10m"), Ok(600));
        assert_eq!(parse_ttl("2h"), Ok(7200));
        assert_eq!(parse_ttl("7d"), Ok(604_800));
        assert_eq!(parse_ttl("45"), Ok(45));
        for bad in ["", "m", "10y", "0s", "-1m", "99999999999999999999d"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn list_renders_entries_and_the_allowlist() {
        let doc = json!({
            "entries": [{"target": "192.0.2.7", "action": "drop", "origin": "control", "hits": 4242, "reason": "scan"}],
            "allowlist": ["10.0.0.0/8"],
        });
        let out = render(&doc);
        assert!(out.contains("192.0.2.7"), "{out}");
        assert!(out.contains("scan"), "{out}");
        assert!(out.contains("4242"), "{out}");
        assert!(out.contains("allowlist: 10.0.0.0/8"), "{out}");
    }
}
