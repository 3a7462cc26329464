//! Response policies: which alerts on which containers call for which actions.
//!
//! # Format
//!
//! One TOML file per policy in `container_guard.policies_dir`; the policy's name is the file
//! name without `.toml`. Policies are tried in file-name order and the first that matches an
//! alert decides (name them `10-web.toml`, `90-default.toml` to set the order). Unknown keys are
//! errors, reported with the file, line and column.
//!
//! ```toml
//! description = "Contain a web container that spawned a shell"
//! enabled = true          # default true
//! dry_run = false         # record the plan, do nothing (default false)
//! approval = false        # wait for `ironpost guard approve ID` (default false)
//! cooldown_secs = 600     # overrides container_guard.cooldown_secs for this policy
//!
//! [match]                 # every key given must match; an empty list matches anything
//! rules = ["web_*"]       # globs over the alert's rule id
//! tags = ["attack.t1059"] # at least one of these tags, or one under it (case-insensitive)
//! min_severity = "high"   # informational, low, medium, high, critical
//! containers = ["web-*"]  # globs over the container name
//! images = ["nginx:*"]    # globs over the container's image
//! labels = { tier = "frontend", team = "*" }  # each label equal ("*": present)
//!
//! [[actions]]             # the ladder, carried out in this order
//! type = "network_isolate"
//! networks = []           # names to disconnect from; empty: every network
//!
//! [[actions]]
//! type = "pause"
//!
//! [[actions]]
//! type = "snapshot"       # commit to <snapshot_repository>/<container>:<alert id>
//! export_dir = "/var/lib/ironpost/forensics"  # optional: also a tar of the file system
//!
//! [[actions]]
//! type = "stop"
//! timeout_secs = 10       # before the engine kills (default 10)
//!
//! [[actions]]
//! type = "kill"
//! signal = "SIGKILL"      # default SIGKILL
//! ```
//!
//! Whatever a policy says, the guard never acts on its own container nor on one labelled
//! `ironpost.protect=true`, and the global `dry_run`, cooldown and circuit breaker apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use ironpost_core::{Alert, Severity};
use serde::{Deserialize, Serialize};

use crate::error::GuardError;
use crate::inventory::ContainerInfo;

/// One step of a policy's ladder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionSpec {
    /// Disconnect from the named networks (empty: all), saving how to reconnect.
    NetworkIsolate {
        /// Network names; empty means every network the container is on.
        #[serde(default)]
        networks: Vec<String>,
    },
    /// Freeze every process of the container.
    Pause,
    /// Commit the container's file system to an image tagged with the alert id.
    Snapshot {
        /// Also export the file system as `<dir>/<container>-<alert id>.tar` (unset: no export).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        export_dir: Option<std::path::PathBuf>,
    },
    /// Stop the container, killing it after `timeout_secs`.
    Stop {
        /// Seconds between the stop signal and the kill.
        #[serde(default = "default_stop_timeout")]
        timeout_secs: u32,
    },
    /// Send a signal to the container's init process.
    Kill {
        /// The signal name.
        #[serde(default = "default_signal")]
        signal: String,
    },
}

fn default_stop_timeout() -> u32 {
    10
}

fn default_signal() -> String {
    "SIGKILL".into()
}

impl ActionSpec {
    /// The action's name, as in records (`network_isolate`, `pause`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            ActionSpec::NetworkIsolate { .. } => "network_isolate",
            ActionSpec::Pause => "pause",
            ActionSpec::Snapshot { .. } => "snapshot",
            ActionSpec::Stop { .. } => "stop",
            ActionSpec::Kill { .. } => "kill",
        }
    }
}

/// The `[match]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchSpec {
    /// Globs over the rule id.
    pub rules: Vec<String>,
    /// Tags, any of which must be on the alert.
    pub tags: Vec<String>,
    /// The least severity that matches.
    pub min_severity: Option<Severity>,
    /// Globs over the container name.
    pub containers: Vec<String>,
    /// Globs over the image.
    pub images: Vec<String>,
    /// Labels that must be set to these values (`*`: set to anything).
    pub labels: BTreeMap<String, String>,
}

/// A policy file as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// What the policy is for.
    #[serde(default)]
    pub description: String,
    /// Use the policy.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Record plans without carrying them out.
    #[serde(default)]
    pub dry_run: bool,
    /// Plans wait for `ironpost guard approve`.
    #[serde(default)]
    pub approval: bool,
    /// Cooldown override in seconds.
    #[serde(default)]
    pub cooldown_secs: Option<u64>,
    /// What alerts and containers it applies to.
    #[serde(default, rename = "match")]
    pub matches: MatchSpec,
    /// The ladder.
    pub actions: Vec<ActionSpec>,
}

fn yes() -> bool {
    true
}

/// A loaded policy with its globs compiled.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The name (file name without extension).
    pub name: String,
    /// Where it was read from.
    pub path: PathBuf,
    /// The file's content.
    pub file: PolicyFile,
    rules: Vec<GlobMatcher>,
    containers: Vec<GlobMatcher>,
    images: Vec<GlobMatcher>,
}

fn globs(path: &Path, key: &str, patterns: &[String]) -> Result<Vec<GlobMatcher>, GuardError> {
    patterns
        .iter()
        .map(|p| {
            Glob::new(p)
                .map(|g| g.compile_matcher())
                .map_err(|e| GuardError::Policy {
                    path: path.to_owned(),
                    message: format!("match.{key}: `{p}` is not a valid glob: {e}"),
                })
        })
        .collect()
}

impl Policy {
    /// Parses and checks the policy `name` from `text` (read from `path`).
    pub fn parse(name: &str, path: &Path, text: &str) -> Result<Policy, GuardError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| GuardError::Policy {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        if file.actions.is_empty() {
            return Err(GuardError::Policy {
                path: path.to_owned(),
                message: "actions: a policy needs at least one [[actions]] step".into(),
            });
        }
        for (i, a) in file.actions.iter().enumerate() {
            if file.actions[..i].contains(a) {
                return Err(GuardError::Policy {
                    path: path.to_owned(),
                    message: format!("actions: step {} repeats `{}`", i + 1, a.name()),
                });
            }
            if let ActionSpec::Kill { signal } = a
                && (signal.is_empty() || signal.contains(char::is_whitespace))
            {
                return Err(GuardError::Policy {
                    path: path.to_owned(),
                    message: format!("actions: step {}: `{signal}` is not a signal name", i + 1),
                });
            }
        }
        Ok(Policy {
            name: name.to_owned(),
            path: path.to_owned(),
            rules: globs(path, "rules", &file.matches.rules)?,
            containers: globs(path, "containers", &file.matches.containers)?,
            images: globs(path, "images", &file.matches.images)?,
            file,
        })
    }

    /// True when the policy applies to `alert` on `container`.
    ///
    /// A policy tag covers the alert tag it equals and every tag under it, ignoring case:
    /// `attack.t1059` covers `attack.t1059.004` (a sub-technique), not `attack.t10590`.
    pub fn matches(&self, alert: &Alert, container: &ContainerInfo) -> bool {
        let m = &self.file.matches;
        let any = |globs: &[GlobMatcher], text: &str| {
            globs.is_empty() || globs.iter().any(|g| g.is_match(text))
        };
        self.file.enabled
            && m.min_severity.is_none_or(|s| alert.severity >= s)
            && any(&self.rules, &alert.rule_id)
            && (m.tags.is_empty()
                || m.tags
                    .iter()
                    .any(|t| alert.tags.iter().any(|a| tag_covers(t, a))))
            && any(&self.containers, &container.name)
            && any(&self.images, &container.image)
            && m.labels.iter().all(|(k, v)| {
                container
                    .labels
                    .get(k)
                    .is_some_and(|have| v == "*" || have == v)
            })
    }
}

/// Loads every `*.toml` policy of `dir`, in file-name order. A missing directory holds no policy.
pub fn load_dir(dir: &Path) -> Result<Vec<Policy>, GuardError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(GuardError::PolicyDir {
                path: dir.to_owned(),
                message: e.to_string(),
            });
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| GuardError::Policy {
                path: p.clone(),
                message: e.to_string(),
            })?;
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Policy::parse(&name, p, &text)
        })
        .collect()
}

/// The first policy of `policies` that matches.
pub fn first_match<'a>(
    policies: &'a [Policy],
    alert: &Alert,
    container: &ContainerInfo,
) -> Option<&'a Policy> {
    policies.iter().find(|p| p.matches(alert, container))
}

/// True when policy tag `policy` is `alert` or a dotted prefix of it, ignoring ASCII case.
fn tag_covers(policy: &str, alert: &str) -> bool {
    let (p, a) = (policy.as_bytes(), alert.as_bytes());
    a.len() >= p.len()
        && a[..p.len()].eq_ignore_ascii_case(p)
        && (a.len() == p.len() || (a[p.len()] == b'.' && !p.is_empty()))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use ironpost_core::{AlertId, Attribution};

    use super::*;

    fn alert(rule: &str, severity: Severity, tags: &[&str]) -> Alert {
        let now = Utc::now();
        Alert {
            id: AlertId::derive(rule, "", now),
            rule_id: rule.into(),
            title: "t".into(),
            severity,
            module: "sigma".into(),
            event_time: now,
            detected_at: now,
            window_start: now,
            group: BTreeMap::new(),
            count: 1,
            attribution: Attribution::default(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            evidence: vec![],
        }
    }

    fn container(name: &str, image: &str, labels: &[(&str, &str)]) -> ContainerInfo {
        ContainerInfo {
            id: "a".repeat(64),
            name: name.into(),
            image: image.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            state: "running".into(),
            pid: 1,
            network_mode: "bridge".into(),
            networks: vec![],
            cgroup_path: None,
            cgroup_id: None,
            started_at: None,
        }
    }

    const WEB: &str = r#"
description = "web shells"
[match]
rules = ["web_*"]
tags = ["attack.t1190"]
min_severity = "high"
containers = ["web-*"]
images = ["nginx:*"]
labels = { tier = "frontend", team = "*" }

[[actions]]
type = "network_isolate"

[[actions]]
type = "pause"

[[actions]]
type = "kill"
"#;

    #[test]
    fn every_match_key_must_hold() {
        let p = Policy::parse("web", Path::new("web.toml"), WEB).unwrap();
        let a = alert("web_shell", Severity::Critical, &["ATTACK.T1190"]);
        let c = container(
            "web-1",
            "nginx:1.27",
            &[("tier", "frontend"), ("team", "x")],
        );
        assert!(p.matches(&a, &c));
        assert!(!p.matches(
            &alert("ssh_brute", Severity::Critical, &["attack.t1190"]),
            &c
        ));
        assert!(!p.matches(&alert("web_shell", Severity::Medium, &["attack.t1190"]), &c));
        assert!(!p.matches(&alert("web_shell", Severity::High, &["attack.t1110"]), &c));
        // A sub-technique is under its technique; a longer number is not.
        assert!(p.matches(
            &alert("web_shell", Severity::High, &["attack.T1190.001"]),
            &c
        ));
        assert!(!p.matches(&alert("web_shell", Severity::High, &["attack.t11901"]), &c));
        assert!(!p.matches(&alert("web_shell", Severity::High, &["attack"]), &c));
        assert!(!p.matches(
            &a,
            &container("db-1", "nginx:1.27", &[("tier", "frontend"), ("team", "x")])
        ));
        assert!(!p.matches(
            &a,
            &container("web-1", "httpd:2", &[("tier", "frontend"), ("team", "x")])
        ));
        assert!(!p.matches(
            &a,
            &container("web-1", "nginx:1.27", &[("tier", "frontend")])
        ));
        assert!(!p.matches(
            &a,
            &container("web-1", "nginx:1.27", &[("tier", "back"), ("team", "x")])
        ));
        assert_eq!(
            p.file.actions,
            vec![
                ActionSpec::NetworkIsolate { networks: vec![] },
                ActionSpec::Pause,
                ActionSpec::Kill {
                    signal: "SIGKILL".into()
                }
            ]
        );
    }

    #[test]
    fn an_empty_match_takes_everything_and_disabled_nothing() {
        let p = Policy::parse(
            "all",
            Path::new("all.toml"),
            "[[actions]]\ntype = \"pause\"\n",
        )
        .unwrap();
        assert!(p.matches(
            &alert("x", Severity::Informational, &[]),
            &container("c", "i", &[])
        ));
        let p = Policy::parse(
            "off",
            Path::new("off.toml"),
            "enabled = false\n[[actions]]\ntype = \"pause\"\n",
        )
        .unwrap();
        assert!(!p.matches(
            &alert("x", Severity::Critical, &[]),
            &container("c", "i", &[])
        ));
    }

    #[test]
    fn errors_name_the_file_and_what_is_wrong() {
        let path = Path::new("/etc/ironpost/policies/bad.toml");
        let err = |text: &str| Policy::parse("bad", path, text).unwrap_err().to_string();
        let e = err("[[actions]]\ntype = \"reboot\"\n");
        assert!(e.contains("bad.toml") && e.contains("reboot"), "{e}");
        let e = err("[match]\ncolour = \"red\"\n[[actions]]\ntype = \"pause\"\n");
        assert!(e.contains("colour") && e.contains("line 2"), "{e}");
        assert!(err("description = \"x\"\nactions = []\n").contains("at least one"));
        assert!(
            err("[[actions]]\ntype = \"pause\"\n[[actions]]\ntype = \"pause\"\n")
                .contains("repeats")
        );
        assert!(
            err("[match]\nrules = [\"a[\"]\n[[actions]]\ntype = \"pause\"\n")
                .contains("match.rules")
        );
        assert!(
            err("[match]\nmin_severity = \"urgent\"\n[[actions]]\ntype = \"pause\"\n")
                .contains("urgent")
        );
    }

    #[test]
    fn a_directory_loads_in_name_order_and_the_first_match_decides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("90-all.toml"),
            "[[actions]]\ntype = \"pause\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("10-web.toml"),
            "[match]\ncontainers = [\"web-*\"]\n[[actions]]\ntype = \"stop\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("README.md"), "not a policy").unwrap();
        let ps = load_dir(dir.path()).unwrap();
        assert_eq!(
            ps.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["10-web", "90-all"]
        );
        let a = alert("r", Severity::High, &[]);
        assert_eq!(
            first_match(&ps, &a, &container("web-1", "i", &[]))
                .unwrap()
                .name,
            "10-web"
        );
        assert_eq!(
            first_match(&ps, &a, &container("db", "i", &[]))
                .unwrap()
                .name,
            "90-all"
        );
        assert!(load_dir(&dir.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn the_shipped_example_policies_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        let ps = load_dir(&dir).unwrap();
        assert!(ps.len() >= 2, "expected the examples in {}", dir.display());
    }
}
