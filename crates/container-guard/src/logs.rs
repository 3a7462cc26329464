//! Container logs as a log source: the output of selected containers, parsed like any other
//! log line, reaches detection with the container attached, so a web server's access log
//! inside a container meets the Sigma web rules and the alert names the container.
//!
//! Containers are selected by name glob or label. The follower watches the inventory: a
//! selected container that runs gets a reader of its log stream, one that stops or goes loses
//! it. Containers already running when the guard starts are read from that moment on; those
//! that start later are read from their first line.

use std::collections::HashMap;
use std::sync::Arc;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;
use globset::{Glob, GlobMatcher};
use ironpost_core::bus::BusSender;
use ironpost_core::event::{ContainerRef, Event, LogRecord};
use ironpost_core::module::Counters;
use ironpost_log_pipeline::{Format, parse_line};
use tokio::task::JoinHandle;

use crate::error::GuardError;
use crate::inventory::{ContainerInfo, Inventory};

/// Which containers' logs to follow, and how to parse them.
#[derive(Debug, Clone)]
pub struct LogSelection {
    names: Vec<GlobMatcher>,
    labels: Vec<(String, Option<String>)>,
    format: Format,
}

impl LogSelection {
    /// Containers named like one of `names` (globs) or carrying one of `labels` (`key` or
    /// `key=value`), parsed as `format`.
    pub fn new(names: &[String], labels: &[String], format: &str) -> Result<Self, GuardError> {
        let bad = |key: &str, message: String| GuardError::Policy {
            path: format!("[container_guard] {key}").into(),
            message,
        };
        let names = names
            .iter()
            .map(|n| {
                Glob::new(n)
                    .map(|g| g.compile_matcher())
                    .map_err(|e| bad("log_containers", format!("`{n}` is not a valid glob: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let labels = labels
            .iter()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (l.clone(), None),
            })
            .collect();
        let format = format
            .parse::<Format>()
            .map_err(|e| bad("log_format", e.to_string()))?;
        Ok(LogSelection {
            names,
            labels,
            format,
        })
    }

    /// True when nothing is selected.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.labels.is_empty()
    }

    /// True when `c`'s logs are to be followed.
    pub fn selects(&self, c: &ContainerInfo) -> bool {
        self.names.iter().any(|g| g.is_match(&c.name))
            || self.labels.iter().any(|(k, v)| match (c.labels.get(k), v) {
                (Some(have), Some(want)) => have == want,
                (Some(_), None) => true,
                (None, _) => false,
            })
    }
}

/// Turns one log line of `container` into an event: parsed as `format` when it parses, else
/// kept as plain text; either way with the container attached.
pub fn record(line: &str, format: Format, container: &ContainerInfo) -> LogRecord {
    let source = format!("docker:{}", container.name);
    let mut rec =
        parse_line(line, format, &source).unwrap_or_else(|_| LogRecord::new(&source, "text", line));
    if rec.service.is_none() {
        rec.service = Some(container.name.as_str().into());
    }
    rec.container = Some(ContainerRef {
        id: container.id.clone(),
        name: Some(container.name.clone()),
        image: Some(container.image.clone()),
    });
    rec
}

/// Reads the log stream of `container` from `since` (seconds since the epoch, 0: the start)
/// and puts each line on `events`, waiting when the bus is full.
async fn read(
    docker: Docker,
    container: Arc<ContainerInfo>,
    since: i32,
    format: Format,
    events: BusSender<Event>,
    counters: Counters,
) {
    let options = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        since,
        ..Default::default()
    };
    let lines = counters.counter("log_lines");
    let mut stream = Box::pin(docker.logs(&container.id, Some(options)));
    let mut partial = String::new();
    while let Some(chunk) = stream.next().await {
        let bytes = match chunk {
            Ok(LogOutput::StdOut { message } | LogOutput::StdErr { message }) => message,
            Ok(LogOutput::Console { message }) => message,
            Ok(LogOutput::StdIn { .. }) => continue,
            Err(e) => {
                tracing::debug!(container = %container.name, error = %e, "container log stream ended");
                return;
            }
        };
        partial.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = partial.find('\n') {
            let line: String = partial.drain(..=end).collect();
            if line.trim().is_empty() {
                continue;
            }
            lines.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if events
                .send(Event::Log(record(&line, format, &container)))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// Keeps one log reader per selected running container until the task is aborted.
pub async fn follow(
    docker: Docker,
    inventory: Inventory,
    selection: LogSelection,
    events: BusSender<Event>,
    counters: Counters,
) {
    counters.counter("log_lines");
    let mut readers: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut changes = inventory.changes();
    // Containers seen running at start are read from now on; later ones from their start.
    let started = chrono::Utc::now().timestamp() as i32;
    let mut initial = true;
    loop {
        let wanted: HashMap<String, Arc<ContainerInfo>> = inventory
            .list()
            .into_iter()
            .filter(|c| c.state == "running" && selection.selects(c))
            .map(|c| (c.id.clone(), c))
            .collect();
        readers.retain(|id, task| {
            let keep = wanted.contains_key(id) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for (id, c) in wanted {
            if readers.contains_key(&id) {
                continue;
            }
            // A restarted container is read from its new start, not from its old lines.
            let since = if initial {
                started
            } else {
                c.started_at
                    .and_then(|t| i32::try_from(t).ok())
                    .unwrap_or(0)
            };
            tracing::info!(container = %c.name, "following container logs");
            readers.insert(
                id,
                tokio::spawn(read(
                    docker.clone(),
                    c,
                    since,
                    selection.format,
                    events.clone(),
                    counters.clone(),
                )),
            );
        }
        // The inventory is empty until its first listing: that listing is the initial set.
        if initial && !inventory.is_empty() {
            initial = false;
        }
        if changes.changed().await.is_err() {
            break;
        }
    }
    for (_, task) in readers {
        task.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ironpost_core::FieldSource;

    use super::*;

    fn container(name: &str, labels: &[(&str, &str)]) -> ContainerInfo {
        ContainerInfo {
            id: "c".repeat(64),
            name: name.into(),
            image: "nginx:1.27".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            state: "running".into(),
            pid: 1,
            network_mode: "bridge".into(),
            networks: vec![],
            cgroup_path: None,
            cgroup_id: None,
            started_at: None,
        }
    }

    #[test]
    fn selects_by_name_glob_or_label() {
        let s = LogSelection::new(
            &["web-*".into()],
            &["logs=on".into(), "ironpost.logs".into()],
            "auto",
        )
        .unwrap();
        assert!(s.selects(&container("web-1", &[])));
        assert!(s.selects(&container("db", &[("logs", "on")])));
        assert!(!s.selects(&container("db", &[("logs", "off")])));
        assert!(s.selects(&container("db", &[("ironpost.logs", "")])));
        assert!(!s.selects(&container("db", &[])));
        assert!(LogSelection::new(&[], &[], "auto").unwrap().is_empty());
        assert!(LogSelection::new(&[], &[], "klingon").is_err());
        assert!(LogSelection::new(&["a[".into()], &[], "auto").is_err());
    }

    #[test]
    fn an_access_log_line_keeps_its_fields_and_gains_the_container() {
        let c = container("web-1", &[]);
        let line = "203.0.113.7 - - [27/Nov/2026:06:00:00 +0000] \"GET /../../etc/passwd HTTP/1.1\" 404 153 \"-\" \"curl/8\"\n";
        let rec = record(line, Format::AccessLog, &c);
        assert_eq!(rec.format, "access_log");
        assert_eq!(
            rec.field("container.name")
                .and_then(|v| v.as_str().map(str::to_owned))
                .as_deref(),
            Some("web-1")
        );
        assert_eq!(rec.container.as_ref().unwrap().id, c.id);
        // A line that is not in the format is kept as text rather than lost.
        let rec = record("plain words\n", Format::AccessLog, &c);
        assert_eq!(rec.format, "text");
        assert_eq!(rec.container.as_ref().unwrap().id, c.id);
    }
}
