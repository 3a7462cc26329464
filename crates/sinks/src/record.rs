//! What a sink delivers: an alert, a container guard action or a scan finding, marked by `kind`.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use ironpost_core::{ActionRecord, Alert, ScanFinding, Severity};
use serde::Serialize;

/// One record for the sinks; its JSON is the record's own with a `kind` field added.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SinkRecord {
    /// A stored alert.
    Alert(Alert),
    /// A container guard action (planned, done, failed, released...).
    Action(ActionRecord),
    /// A new vulnerability finding of an SBOM scan.
    Finding(ScanFinding),
}

impl SinkRecord {
    /// `alert`, `action` or `finding`.
    pub fn kind(&self) -> &'static str {
        match self {
            SinkRecord::Alert(_) => "alert",
            SinkRecord::Action(_) => "action",
            SinkRecord::Finding(_) => "finding",
        }
    }

    /// The severity, for alerts and findings.
    pub fn severity(&self) -> Option<Severity> {
        match self {
            SinkRecord::Alert(a) => Some(a.severity),
            SinkRecord::Action(_) => None,
            SinkRecord::Finding(f) => Some(f.severity),
        }
    }

    /// The module that raised it (`sbom` for findings).
    pub fn module(&self) -> &str {
        match self {
            SinkRecord::Alert(a) => &a.module,
            SinkRecord::Action(a) => &a.module,
            SinkRecord::Finding(_) => "sbom",
        }
    }

    /// Its id.
    pub fn id(&self) -> &str {
        match self {
            SinkRecord::Alert(a) => a.id.as_str(),
            SinkRecord::Action(a) => &a.id,
            SinkRecord::Finding(f) => &f.id,
        }
    }

    /// The host it concerns.
    pub fn host(&self) -> &str {
        match self {
            SinkRecord::Alert(a) => &a.attribution.host,
            SinkRecord::Action(a) => &a.host,
            SinkRecord::Finding(f) => &f.host,
        }
    }

    /// What names it for grouping: the rule id, `ironpost.action.<action>`, or the advisory id.
    pub fn rule(&self) -> String {
        match self {
            SinkRecord::Alert(a) => a.rule_id.clone(),
            SinkRecord::Action(a) => format!("ironpost.action.{}", a.action),
            SinkRecord::Finding(f) => f.advisory_id.clone(),
        }
    }

    /// A one-line human title.
    pub fn title(&self) -> String {
        match self {
            SinkRecord::Alert(a) => a.title.clone(),
            SinkRecord::Action(a) => {
                format!("{} {} on {}: {}", a.module, a.action, a.target, a.state)
            }
            SinkRecord::Finding(f) => format!(
                "{} in {} {} ({})",
                f.advisory_id, f.package, f.version, f.location
            ),
        }
    }

    /// The container it concerns, when known.
    pub fn container(&self) -> Option<&str> {
        match self {
            SinkRecord::Alert(a) => a
                .attribution
                .container_name
                .as_deref()
                .or(a.attribution.container_id.as_deref()),
            SinkRecord::Action(a) if a.module == "container_guard" => Some(&a.target),
            _ => None,
        }
    }

    /// When it happened: detection, last state change, or first sight.
    pub fn time(&self) -> DateTime<Utc> {
        match self {
            SinkRecord::Alert(a) => a.detected_at,
            SinkRecord::Action(a) => a.updated_at,
            SinkRecord::Finding(f) => f.first_seen,
        }
    }
}

/// A record shared by every sink that takes it, with its JSON rendered at most once.
#[derive(Debug)]
pub struct Record {
    /// The record.
    pub body: SinkRecord,
    json: OnceLock<String>,
}

impl Record {
    /// Wraps `body`.
    pub fn new(body: SinkRecord) -> Record {
        Record {
            body,
            json: OnceLock::new(),
        }
    }

    /// The record as one line of JSON.
    pub fn json(&self) -> &str {
        self.json.get_or_init(|| {
            serde_json::to_string(&self.body).unwrap_or_else(|e| {
                format!(
                    "{{\"kind\":\"{}\",\"id\":\"{}\",\"error\":\"not serializable: {e}\"}}",
                    self.body.kind(),
                    self.body.id()
                )
            })
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn action() -> ActionRecord {
        let t = Utc::now();
        ActionRecord {
            id: "act-1".into(),
            alert_id: Some("a1".into()),
            host: "h1".into(),
            module: "container_guard".into(),
            action: "network_isolate".into(),
            target: "web-1".into(),
            state: ironpost_core::ActionState::Done,
            policy: Some("isolate-web".into()),
            error: None,
            details: serde_json::Value::Null,
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn records_are_marked_with_their_kind() {
        let r = Record::new(SinkRecord::Action(action()));
        let v: serde_json::Value = serde_json::from_str(r.json()).unwrap();
        assert_eq!(v["kind"], "action");
        assert_eq!(v["action"], "network_isolate");
        assert_eq!(r.body.rule(), "ironpost.action.network_isolate");
        assert_eq!(r.body.container(), Some("web-1"));
        let a = crate::tests::alert("r1", Severity::High, 3);
        let r = Record::new(SinkRecord::Alert(a.clone()));
        let v: serde_json::Value = serde_json::from_str(r.json()).unwrap();
        assert_eq!(v["kind"], "alert");
        assert_eq!(v["rule_id"], "r1");
        assert_eq!(v["id"], a.id.as_str());
    }
}
