//! `ironpost alerts list|show`.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use ironpost_core::config::{Config, redact_url};
use ironpost_core::{Alert, Severity};
use ironpost_store::{AlertQuery, PostgresOptions, PostgresStore, SqliteStore, Store};

use super::{Context, EXIT_INVALID, EXIT_OK, EXIT_UNREACHABLE};
use crate::client::{self, ClientError, encode_query};
use crate::table;

/// Alert commands.
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Lists alerts, newest first.
    List(ListArgs),
    /// Shows one alert with its evidence.
    Show(ShowArgs),
}

/// Options of `alerts list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only alerts detected since this RFC 3339 time or duration ago (30s, 15m, 2h, 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// Only alerts at least this severe (informational, low, medium, high, critical).
    #[arg(long)]
    pub severity: Option<Severity>,
    /// Only alerts of this rule id.
    #[arg(long)]
    pub rule: Option<String>,
    /// Only alerts of this host.
    #[arg(long)]
    pub host: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Read this store directly instead of asking the daemon: `sqlite://PATH` or
    /// `postgres://USER:PASSWORD@HOST/DB` (sees every host of a fleet).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Print `{"alerts":[...]}` as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `alerts show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The alert id.
    pub id: String,
    /// Read this store directly instead of asking the daemon (see `alerts list --store`).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Print the alert as JSON.
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

/// Opens the store named by `url` for reading.
fn open_store(url: &str, config: &Config) -> anyhow::Result<Box<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut options = PostgresOptions::new(url, config.host_name());
        options.ca_file =
            Some(config.store.tls_ca_file.clone()).filter(|p| !p.as_os_str().is_empty());
        let store = PostgresStore::open(&options)
            .with_context(|| format!("opening {}", redact_url(url)))?;
        return Ok(Box::new(store));
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    if !std::path::Path::new(path).is_file() {
        anyhow::bail!("--store: no SQLite database at {path}");
    }
    Ok(Box::new(SqliteStore::open(std::path::Path::new(path))?))
}

/// Reads alerts straight from a store, in the daemon's JSON shape.
fn list_from_store(url: &str, a: &ListArgs, config: &Config) -> anyhow::Result<serde_json::Value> {
    let since = a
        .since
        .as_deref()
        .map(|s| ironpost_core::time::parse_since(s, chrono::Utc::now()))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let store = open_store(url, config)?;
    let alerts = store.alerts(&AlertQuery {
        since,
        min_severity: a.severity,
        rule: a.rule.clone(),
        host: a.host.clone(),
        limit: a.limit.min(10_000),
    })?;
    Ok(serde_json::json!({ "alerts": alerts }))
}

/// Runs an alert command.
pub fn run(cmd: AlertsCommand, ctx: &Context) -> anyhow::Result<i32> {
    let config = ctx.config()?;
    let socket = config.socket_path();
    match cmd {
        AlertsCommand::List(a) if a.store.is_some() => {
            let doc = list_from_store(a.store.as_deref().unwrap_or_default(), &a, &config)?;
            print_list(&doc, a.json)
        }
        AlertsCommand::Show(a) if a.store.is_some() => {
            let store = open_store(a.store.as_deref().unwrap_or_default(), &config)?;
            match store.alert(&a.id)? {
                Some(al) => print_alert(serde_json::to_value(al)?, a.json),
                None => {
                    eprintln!("ironpost: no alert with id {}", a.id);
                    Ok(EXIT_INVALID)
                }
            }
        }
        AlertsCommand::List(a) => {
            let mut query = vec![format!("limit={}", a.limit)];
            if let Some(s) = &a.since {
                query.push(format!("since={}", encode_query(s)));
            }
            if let Some(s) = a.severity {
                query.push(format!("severity={s}"));
            }
            if let Some(r) = &a.rule {
                query.push(format!("rule={}", encode_query(r)));
            }
            if let Some(h) = &a.host {
                query.push(format!("host={}", encode_query(h)));
            }
            let doc = match client::get(&socket, &format!("/v1/alerts?{}", query.join("&"))) {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            print_list(&doc, a.json)
        }
        AlertsCommand::Show(a) => {
            let doc = match client::get(&socket, &format!("/v1/alerts/{}", encode_query(&a.id))) {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            print_alert(doc, a.json)
        }
    }
}

fn print_list(doc: &serde_json::Value, json: bool) -> anyhow::Result<i32> {
    if json {
        println!("{}", serde_json::to_string(doc)?);
        return Ok(EXIT_OK);
    }
    let alerts: Vec<Alert> = serde_json::from_value(doc["alerts"].clone())?;
    let rows: Vec<Vec<String>> = alerts
        .iter()
        .map(|al| {
            vec![
                al.detected_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                al.severity.to_string(),
                al.rule_id.clone(),
                al.title.clone(),
                al.attribution.host.clone(),
                al.attribution
                    .container_name
                    .clone()
                    .or(al.attribution.container_id.clone())
                    .unwrap_or_default(),
                al.attribution
                    .src_ip
                    .map(|i| i.to_string())
                    .unwrap_or_default(),
                al.id.to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &[
                "DETECTED (UTC)",
                "SEVERITY",
                "RULE",
                "TITLE",
                "HOST",
                "CONTAINER",
                "SOURCE",
                "ID"
            ],
            &rows
        )
    );
    eprintln!("{} alert(s)", rows.len());
    Ok(EXIT_OK)
}

fn print_alert(doc: serde_json::Value, json: bool) -> anyhow::Result<i32> {
    if json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(EXIT_OK);
    }
    let al: Alert = serde_json::from_value(doc)?;
    println!("id:          {}", al.id);
    println!("rule:        {} ({})", al.rule_id, al.title);
    println!("severity:    {}", al.severity);
    println!("module:      {}", al.module);
    println!("event time:  {}", al.event_time.to_rfc3339());
    println!("detected:    {}", al.detected_at.to_rfc3339());
    println!("count:       {}", al.count);
    println!("host:        {}", al.attribution.host);
    for (k, v) in [
        (
            "container",
            al.attribution
                .container_name
                .clone()
                .or(al.attribution.container_id.clone()),
        ),
        ("source", al.attribution.src_ip.map(|i| i.to_string())),
        ("destination", al.attribution.dst_ip.map(|i| i.to_string())),
        ("user", al.attribution.user.clone()),
        ("process", al.attribution.process.clone()),
    ] {
        if let Some(v) = v {
            println!("{:<13}{v}", format!("{k}:"));
        }
    }
    if !al.group.is_empty() {
        println!("group:       {}", Alert::group_key(&al.group));
    }
    if !al.tags.is_empty() {
        println!("tags:        {}", al.tags.join(", "));
    }
    println!("evidence:    {} event(s)", al.evidence.len());
    for ev in &al.evidence {
        println!("  {}", serde_json::to_string(ev)?);
    }
    Ok(EXIT_OK)
}
