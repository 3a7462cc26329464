//! Example events carried by rules, under the custom attribute `ironpost-examples`.
//!
//! Format, in any document of a rule file:
//!
//! ```yaml
//! ironpost-examples:
//!   match:        # each item must raise the rule (detection) or the correlation
//!     - { service: sshd, message: "Failed password for root from 1.2.3.4 port 22 ssh2", src_ip: 1.2.3.4 }
//!     - [ {at: 0, ...}, {at: 10, ...} ]   # a list is a sequence of events fed in order
//!   nomatch:      # each item must not
//!     - { service: sshd, message: "Accepted password for root from 1.2.3.4 port 22 ssh2" }
//! ```
//!
//! An event is a map. `kind` is `log` (the default) or `process`; `at` is the event time in
//! seconds after 2026-01-01T00:00:00Z (default 0). Log events take `service`, `message`, `format`
//! (default `rfc3164`), `source` and `hostname`; every other key becomes an extracted field.
//! Process events take `Image`, `CommandLine`, `ParentImage`, `ParentCommandLine`, `User`,
//! `CurrentDirectory` and `uid`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ironpost_core::Event;
use ironpost_core::event::{Fields, LogRecord, ProcessEvent, Value};
use serde_yaml::Value as Yaml;

use crate::rule::parse_documents;

/// The examples of one rule document.
#[derive(Debug, Clone)]
pub struct RuleExamples {
    /// The id of the rule (or correlation) the examples belong to.
    pub rule_id: String,
    /// Whether the document is a correlation rule.
    pub correlation: bool,
    /// Event sequences that must raise the rule.
    pub must_match: Vec<Vec<Event>>,
    /// Event sequences that must not.
    pub must_not_match: Vec<Vec<Event>>,
}

/// The time `at: 0` stands for.
pub fn example_epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn text(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Builds an event from its example map.
pub fn event_from_yaml(v: &Yaml) -> Result<Event, String> {
    let m = v.as_mapping().ok_or("an example event must be a map")?;
    let get = |k: &str| m.get(k).and_then(text);
    let at = m.get("at").and_then(Yaml::as_f64).unwrap_or(0.0);
    let time = example_epoch() + Duration::milliseconds((at * 1000.0) as i64);
    match get("kind").as_deref().unwrap_or("log") {
        "log" => {
            let mut rec = LogRecord::new(
                get("source").unwrap_or_else(|| "example".into()),
                get("format").unwrap_or_else(|| "rfc3164".into()),
                get("message").unwrap_or_default(),
            );
            rec.timestamp = time;
            rec.received = time;
            rec.service = get("service").map(Into::into);
            rec.hostname = get("hostname").map(Into::into);
            let mut fields = Fields::new();
            for (k, val) in m {
                let Some(k) = k.as_str() else { continue };
                if matches!(
                    k,
                    "kind" | "at" | "source" | "format" | "message" | "service" | "hostname"
                ) {
                    continue;
                }
                let val = match val {
                    Yaml::Bool(b) => Value::Bool(*b),
                    Yaml::Number(n) if n.is_i64() => Value::Int(n.as_i64().unwrap_or_default()),
                    Yaml::Number(n) => Value::Float(n.as_f64().unwrap_or_default()),
                    Yaml::Null => Value::Null,
                    other => text(other)
                        .ok_or_else(|| format!("example field `{k}` must be a scalar"))?
                        .into(),
                };
                fields.insert(k, val);
            }
            rec.fields = fields;
            Ok(Event::Log(rec))
        }
        "process" => {
            let command_line = get("CommandLine").unwrap_or_default();
            Ok(Event::Process(ProcessEvent {
                timestamp: time,
                pid: 1000,
                ppid: 1,
                uid: get("uid").and_then(|u| u.parse().ok()).unwrap_or(0),
                gid: 0,
                user: get("User"),
                image: get("Image").unwrap_or_default(),
                argv: command_line.split_whitespace().map(str::to_owned).collect(),
                argv_truncated: false,
                command_line,
                cwd: get("CurrentDirectory"),
                parent_image: get("ParentImage"),
                parent_command_line: get("ParentCommandLine"),
                cgroup_id: 0,
                container: None,
            }))
        }
        other => Err(format!(
            "example event kind `{other}` is not log or process"
        )),
    }
}

fn sequences(v: Option<&Yaml>) -> Result<Vec<Vec<Event>>, String> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let items = v
        .as_sequence()
        .ok_or("`match` and `nomatch` must be lists")?;
    items
        .iter()
        .map(|item| match item {
            Yaml::Sequence(seq) => seq.iter().map(event_from_yaml).collect(),
            single => event_from_yaml(single).map(|e| vec![e]),
        })
        .collect()
}

/// Reads the examples of every document of a rule file.
pub fn examples_from_yaml(text: &str) -> Result<Vec<RuleExamples>, String> {
    let docs = parse_documents(text).map_err(|e| e.reason)?;
    let mut out = Vec::new();
    for d in docs {
        let Some(m) = d.as_mapping() else { continue };
        let Some(ex) = m.get("ironpost-examples") else {
            continue;
        };
        let title = m.get("title").and_then(Yaml::as_str).unwrap_or_default();
        let rule_id = m
            .get("id")
            .and_then(Yaml::as_str)
            .or_else(|| m.get("name").and_then(Yaml::as_str))
            .unwrap_or(title)
            .to_owned();
        out.push(RuleExamples {
            rule_id,
            correlation: m.contains_key("correlation"),
            must_match: sequences(ex.get("match")).map_err(|e| format!("{title}: {e}"))?,
            must_not_match: sequences(ex.get("nomatch")).map_err(|e| format!("{title}: {e}"))?,
        });
    }
    Ok(out)
}
