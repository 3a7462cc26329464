//! `type = "alertmanager"`: records POSTed to Prometheus Alertmanager's `/api/v2/alerts`, so
//! its routing, grouping, inhibition and silences apply.
//!
//! Labels: `alertname` (the rule id; `ironpost.action.<action>` for actions, the advisory id for
//! findings), `severity`, `host`, `container` (when attributed), `module`, `kind`, the alert's
//! group-by values (a finding's package, version and location; an action's target), plus the
//! sink's `labels`. Annotations: `title`, `alert_id`. `startsAt` is the detection time and
//! `endsAt` `resolve_after_secs` from now, so an alert no longer sent resolves by itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::deliver::DeliveryError;
use crate::http::HttpClient;
use crate::record::{Record, SinkRecord};

/// The Alertmanager sink.
pub(crate) struct Alertmanager {
    client: HttpClient,
    path: String,
    resolve_after: chrono::Duration,
    labels: BTreeMap<String, String>,
}

/// A label name as Prometheus accepts it (`[a-zA-Z_][a-zA-Z0-9_]*`).
fn label_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

impl Alertmanager {
    pub(crate) fn new(
        client: HttpClient,
        resolve_after_secs: u64,
        labels: BTreeMap<String, String>,
    ) -> Alertmanager {
        let base = client.target.path.split('?').next().unwrap_or("/");
        let path = format!("{}/api/v2/alerts", base.trim_end_matches('/'));
        Alertmanager {
            client,
            path,
            resolve_after: chrono::Duration::seconds(resolve_after_secs.max(1) as i64),
            labels: labels
                .into_iter()
                .map(|(k, v)| (label_name(&k), v))
                .collect(),
        }
    }

    /// The JSON document of `batch` (an array of postable alerts).
    pub(crate) fn body(&self, batch: &[Arc<Record>]) -> Value {
        let now = Utc::now();
        let ends = now + self.resolve_after;
        let alerts: Vec<Value> = batch
            .iter()
            .map(|r| {
                let b = &r.body;
                let mut labels = Map::new();
                // Alertmanager tells alerts apart by their labels: the group-by values keep two
                // groups of one rule apart, while repeats of one group stay one alert.
                match b {
                    SinkRecord::Alert(a) => {
                        for (k, v) in &a.group {
                            labels.insert(label_name(k), Value::String(v.clone()));
                        }
                    }
                    SinkRecord::Finding(f) => {
                        labels.insert("package".into(), Value::String(f.package.clone()));
                        labels.insert("version".into(), Value::String(f.version.clone()));
                        labels.insert("location".into(), Value::String(f.location.clone()));
                    }
                    SinkRecord::Action(a) => {
                        labels.insert("target".into(), Value::String(a.target.clone()));
                    }
                }
                for (k, v) in &self.labels {
                    labels.insert(k.clone(), Value::String(v.clone()));
                }
                let mut put = |k: &str, v: &str| {
                    if !v.is_empty() {
                        labels.insert(k.to_owned(), Value::String(v.to_owned()));
                    }
                };
                put("alertname", &b.rule());
                put(
                    "severity",
                    b.severity().map(|s| s.as_str()).unwrap_or("informational"),
                );
                put("host", b.host());
                put("container", b.container().unwrap_or(""));
                put("module", b.module());
                put("kind", b.kind());
                let starts = b.time().min(now);
                json!({
                    "labels": labels,
                    "annotations": {
                        "title": b.title(),
                        "alert_id": b.id(),
                    },
                    "startsAt": starts.to_rfc3339_opts(SecondsFormat::Millis, true),
                    "endsAt": ends.to_rfc3339_opts(SecondsFormat::Millis, true),
                })
            })
            .collect();
        Value::Array(alerts)
    }

    pub(crate) async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<(), DeliveryError> {
        let body = Bytes::from(self.body(batch).to_string());
        let path = self.path.clone();
        self.client.post(&path, body).await
    }

    pub(crate) fn reset(&mut self) {
        self.client.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironpost_core::Severity;

    #[test]
    fn alerts_become_labelled_postable_alerts() {
        let client = HttpClient::new(
            "http://127.0.0.1:9093/am/",
            Vec::new(),
            std::path::Path::new(""),
            "",
        )
        .unwrap();
        let am = Alertmanager::new(
            client,
            60,
            BTreeMap::from([("team-name".to_owned(), "sec".to_owned())]),
        );
        assert_eq!(am.path, "/am/api/v2/alerts");
        let mut a = crate::tests::alert("ssh.brute", Severity::High, 1);
        a.attribution.container_name = Some("web-1".into());
        let batch = vec![
            Arc::new(Record::new(SinkRecord::Alert(a.clone()))),
            Arc::new(Record::new(SinkRecord::Action(
                crate::record::tests::action(),
            ))),
        ];
        let v = am.body(&batch);
        let l = &v[0]["labels"];
        assert_eq!(l["alertname"], "ssh.brute");
        assert_eq!(l["severity"], "high");
        assert_eq!(l["host"], "h1");
        assert_eq!(l["container"], "web-1");
        assert_eq!(l["team_name"], "sec");
        assert_eq!(v[0]["annotations"]["alert_id"], a.id.as_str());
        assert_eq!(
            v[1]["labels"]["alertname"],
            "ironpost.action.network_isolate"
        );
        assert_eq!(v[1]["labels"]["kind"], "action");
        let starts =
            chrono::DateTime::parse_from_rfc3339(v[0]["startsAt"].as_str().unwrap()).unwrap();
        let ends = chrono::DateTime::parse_from_rfc3339(v[0]["endsAt"].as_str().unwrap()).unwrap();
        assert!(ends > starts);
    }
}
