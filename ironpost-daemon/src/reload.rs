//! Reloading at run time: SIGHUP, `POST /v1/reload` (`ironpost reload`), and a watcher of the
//! rule, policy and list files.
//!
//! A reload reads the configuration again and checks everything it names before changing
//! anything: the TOML, the Sigma rules (compiled into a new engine), the container guard's
//! policies and the XDP list files. Any error keeps what runs as it is; the error, naming the
//! file and line, is logged, counted (`ironpost_config_reloads_total{result="failure"}`) and
//! shown by `ironpost status`. Otherwise the new configuration is applied:
//!
//! - `[sigma]` (but `enabled`) and the rule files: the detection module takes the new engine
//!   between two batches of events;
//! - the container guard's policy files: the running guard uses them for the next alert;
//! - `[xdp]` lists and list files: the blocklist and allowlist change in place, entries added at
//!   run time stay;
//! - `[selftest]`, `[log_pipeline]`, `[exec]`, `[xdp]` (other keys), `[sbom]` and
//!   `store.retention_days`: the module is stopped (a log source saves its checkpoints) and
//!   started again with its new section, started, or stopped;
//! - every other key (`[general]`, `[store]`, `[control]`, `[metrics]`, `[[sinks]]`,
//!   `[container_guard]` but its policy files, `sigma.enabled`): kept as it is, logged and
//!   listed under `restart_required` in the status until the daemon is restarted.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ironpost_core::config::Config;
use ironpost_ebpf_engine::xdp::Blocklist;
use ironpost_store::Store;
use serde::Serialize;

use crate::modules::detection::{self, EngineUpdate};
use crate::modules::xdp::{self as xdp_module, XdpLists};
use crate::modules::{self, REPLACEABLE};
use crate::state::DaemonState;
use crate::supervisor::Supervisor;

/// The last failed reload.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadFailure {
    /// When it failed.
    pub at: DateTime<Utc>,
    /// `sighup`, `api` or `watch`.
    pub trigger: String,
    /// What was wrong, naming the file and line.
    pub error: String,
}

/// Reload state for status and metrics.
#[derive(Debug, Default)]
pub struct ReloadStatus {
    generation: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    detail: Mutex<ReloadDetail>,
}

#[derive(Debug, Default, Clone)]
struct ReloadDetail {
    loaded_at: Option<DateTime<Utc>>,
    last_error: Option<ReloadFailure>,
    restart_required: Vec<String>,
}

/// The reload part of the status document.
#[derive(Debug, Serialize)]
pub struct ReloadDoc {
    /// The loaded configuration's generation: 1 at start, one more per successful reload.
    pub generation: u64,
    /// When that generation was loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded_at: Option<DateTime<Utc>>,
    /// Successful reloads since start.
    pub reloads: u64,
    /// Failed reloads since start.
    pub failures: u64,
    /// The last failed reload, if any failed since the last success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<ReloadFailure>,
    /// Changed keys that take effect only after a restart.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restart_required: Vec<String>,
}

impl ReloadStatus {
    fn lock(&self) -> std::sync::MutexGuard<'_, ReloadDetail> {
        self.detail.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the configuration read at start as generation 1.
    pub fn started(&self) {
        self.generation.store(1, Ordering::Relaxed);
        self.lock().loaded_at = Some(Utc::now());
    }

    /// The loaded generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Successful reloads.
    pub fn succeeded(&self) -> u64 {
        self.succeeded.load(Ordering::Relaxed)
    }

    /// Failed reloads.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// For the status document.
    pub fn doc(&self) -> ReloadDoc {
        let d = self.lock().clone();
        ReloadDoc {
            generation: self.generation(),
            loaded_at: d.loaded_at,
            reloads: self.succeeded(),
            failures: self.failed(),
            last_error: d.last_error,
            restart_required: d.restart_required,
        }
    }
}

/// What a successful reload did.
#[derive(Debug, Serialize)]
pub struct ReloadOutcome {
    /// The new generation.
    pub generation: u64,
    /// What changed and was applied: section names, `rules`, `policies`, `xdp lists`.
    pub applied: Vec<String>,
    /// Changed keys kept as they are until a restart.
    pub restart_required: Vec<String>,
}

/// What the running daemon was built from, to compare a reload with.
struct Applied {
    config: Config,
    rules: u64,
    policies: u64,
    lists: XdpLists,
}

/// Everything a reload changes.
pub struct Reloader {
    config_arg: Option<PathBuf>,
    startup: Config,
    applied: tokio::sync::Mutex<Applied>,
    supervisor: Arc<tokio::sync::Mutex<Supervisor>>,
    state: Arc<DaemonState>,
    store: Arc<dyn Store>,
    sigma: Option<tokio::sync::mpsc::Sender<EngineUpdate>>,
    refused_rules: detection::RefusedRules,
    blocklist: Arc<Blocklist>,
    /// The signature of the watched files when the last reload read them.
    watched: AtomicU64,
}

/// What a reload trigger is called in logs and status.
#[derive(Debug, Clone, Copy)]
pub enum Trigger {
    /// SIGHUP.
    Signal,
    /// `POST /v1/reload`.
    Api,
    /// The file watcher.
    Watch,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Signal => "sighup",
            Trigger::Api => "api",
            Trigger::Watch => "watch",
        }
    }
}

/// A hash of the policy files of `dir` (names and contents).
fn policies_fingerprint(dir: &Path) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|x| x == "toml"));
    paths.sort();
    for p in paths {
        p.hash(&mut h);
        std::fs::read(&p).ok().hash(&mut h);
    }
    h.finish()
}

/// Every file the watcher looks at for `config`.
fn watched_files(config: &Config) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if config.sigma.enabled {
        for p in &config.sigma.rules {
            collect_files(p, &mut files);
        }
        if !config.sigma.logsources.as_os_str().is_empty() {
            files.push(config.sigma.logsources.clone());
        }
    }
    if config.container_guard.enabled {
        collect_files(&config.container_guard.policies_dir, &mut files);
    }
    if config.xdp.enabled {
        for f in [
            &config.xdp.blocklist_file,
            &config.xdp.monitorlist_file,
            &config.xdp.allowlist_file,
        ] {
            if !f.as_os_str().is_empty() {
                files.push(f.clone());
            }
        }
    }
    files.sort();
    files.dedup();
    files
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) {
    match std::fs::read_dir(path) {
        Ok(entries) => {
            // The directory itself: a file added or removed changes its listing.
            out.push(path.to_path_buf());
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    collect_files(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        Err(_) => out.push(path.to_path_buf()),
    }
}

/// Names, sizes and modification times of the watched files, hashed.
fn signature(files: &[PathBuf]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in files {
        f.hash(&mut h);
        match std::fs::metadata(f) {
            Ok(m) => {
                m.len().hash(&mut h);
                m.modified().ok().hash(&mut h);
                if m.is_dir() {
                    let mut names: Vec<_> = std::fs::read_dir(f)
                        .map(|r| r.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
                        .unwrap_or_default();
                    names.sort();
                    names.hash(&mut h);
                }
            }
            Err(_) => 0u8.hash(&mut h),
        }
    }
    h.finish()
}

/// The dotted names of the keys that differ between two values of a section.
fn changed_keys(section: &str, old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    match (old, new) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter()
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| format!("{section}.{k}"))
                .collect()
        }
        _ if old != new => vec![section.to_owned()],
        _ => Vec::new(),
    }
}

/// Keys that differ between `a` and `b` and only take effect at a restart.
fn restart_keys(a: &Config, b: &Config) -> Vec<String> {
    let value = |c: &Config| serde_json::to_value(c).unwrap_or_default();
    let (va, vb) = (value(a), value(b));
    let mut keys = Vec::new();
    for section in [
        "general",
        "store",
        "control",
        "metrics",
        "sinks",
        "container_guard",
        "sigma",
    ] {
        let mut changed = changed_keys(section, &va[section], &vb[section]);
        changed.retain(|k| match section {
            "general" => k != "general.watch_interval_ms",
            "store" => k != "store.retention_days",
            "sigma" => k == "sigma.enabled",
            _ => true,
        });
        keys.extend(changed);
    }
    keys
}

/// Reads and checks what a configuration names; nothing runs yet.
struct Checked {
    config: Config,
    rules: Option<detection::LoadedRules>,
    rules_fingerprint: u64,
    policies: Option<Vec<ironpost_container_guard::Policy>>,
    policies_fingerprint: u64,
    lists: XdpLists,
}

fn check(
    config_arg: Option<&Path>,
    applied_rules: u64,
    applied_policies: u64,
    refused_before: &BTreeSet<String>,
    host: &str,
) -> Result<Checked, String> {
    let (config, path) = Config::discover(config_arg).map_err(|e| e.to_string())?;
    let _ = path;
    let rules_fingerprint = detection::rules_fingerprint(&config.sigma);
    let rules = if config.sigma.enabled && rules_fingerprint != applied_rules {
        let loaded = detection::load_rules(&config.sigma, host).map_err(|e| e.to_string())?;
        let new: Vec<&String> = loaded
            .refused
            .iter()
            .filter(|r| !refused_before.contains(*r))
            .collect();
        if !new.is_empty() {
            let shown: Vec<&str> = new.iter().take(3).map(|s| s.as_str()).collect();
            let more = if new.len() > 3 {
                format!(" (and {} more)", new.len() - 3)
            } else {
                String::new()
            };
            return Err(format!("rules refused: {}{more}", shown.join("; ")));
        }
        Some(loaded)
    } else {
        None
    };
    let policies_fingerprint = policies_fingerprint(&config.container_guard.policies_dir);
    let policies = if config.container_guard.enabled && policies_fingerprint != applied_policies {
        Some(
            ironpost_container_guard::policy::load_dir(&config.container_guard.policies_dir)
                .map_err(|e| e.to_string())?,
        )
    } else {
        None
    };
    let lists = if config.xdp.enabled {
        xdp_module::read_lists(&config.xdp)?
    } else {
        XdpLists::default()
    };
    Ok(Checked {
        config,
        rules,
        rules_fingerprint,
        policies,
        policies_fingerprint,
        lists,
    })
}

/// The reloader of this daemon, for the control API; one daemon per process, so one slot.
static RELOADER: std::sync::RwLock<Option<Arc<Reloader>>> = std::sync::RwLock::new(None);

/// The running daemon's reloader, once it has started.
pub fn current() -> Option<Arc<Reloader>> {
    RELOADER.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Handles given to the reloader at start.
pub struct ReloaderParts {
    /// The `--config` argument, read again by each reload.
    pub config_arg: Option<PathBuf>,
    /// The configuration the daemon started with.
    pub config: Config,
    /// The supervisor.
    pub supervisor: Arc<tokio::sync::Mutex<Supervisor>>,
    /// Daemon state (for the reload status).
    pub state: Arc<DaemonState>,
    /// The store as modules see it.
    pub store: Arc<dyn Store>,
    /// The detection module's update channel.
    pub sigma: Option<tokio::sync::mpsc::Sender<EngineUpdate>>,
    /// The rule files the running engine refused.
    pub refused_rules: detection::RefusedRules,
    /// The XDP blocklist.
    pub blocklist: Arc<Blocklist>,
    /// The XDP lists the daemon started with.
    pub lists: XdpLists,
}

impl Reloader {
    /// The reloader of a daemon started from `parts.config`; published for the control API.
    pub fn install(parts: ReloaderParts) -> Arc<Reloader> {
        let config = parts.config;
        let applied = Applied {
            rules: detection::rules_fingerprint(&config.sigma),
            policies: policies_fingerprint(&config.container_guard.policies_dir),
            lists: parts.lists,
            config: config.clone(),
        };
        let reloader = Arc::new(Reloader {
            config_arg: parts.config_arg,
            watched: AtomicU64::new(signature(&watched_files(&config))),
            startup: config,
            applied: tokio::sync::Mutex::new(applied),
            supervisor: parts.supervisor,
            state: parts.state,
            store: parts.store,
            sigma: parts.sigma,
            refused_rules: parts.refused_rules,
            blocklist: parts.blocklist,
        });
        reloader.state.reload.started();
        *RELOADER.write().unwrap_or_else(|e| e.into_inner()) = Some(reloader.clone());
        reloader
    }

    /// Reads the configuration again and applies it, or keeps everything as it is and says
    /// why.
    pub async fn reload(&self, trigger: Trigger) -> Result<ReloadOutcome, String> {
        let mut applied = self.applied.lock().await;
        tracing::info!(trigger = trigger.as_str(), "reloading");
        // Taken before anything is read: a file changed while this reload reads it is seen by
        // the watcher's next look.
        let files = watched_files(&applied.config);
        let seen = tokio::task::spawn_blocking(move || signature(&files))
            .await
            .unwrap_or_default();
        let (arg, rules, policies, refused, host) = (
            self.config_arg.clone(),
            applied.rules,
            applied.policies,
            self.refused_rules
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            self.state.host.clone(),
        );
        let checked = tokio::task::spawn_blocking(move || {
            check(arg.as_deref(), rules, policies, &refused, &host)
        })
        .await
        .map_err(|e| format!("reload check panicked: {e}"))
        .and_then(|r| r);
        let checked = match checked {
            Ok(c) => c,
            Err(error) => {
                self.watched.store(seen, Ordering::Relaxed);
                let status = &self.state.reload;
                status.failed.fetch_add(1, Ordering::Relaxed);
                status.lock().last_error = Some(ReloadFailure {
                    at: Utc::now(),
                    trigger: trigger.as_str().to_owned(),
                    error: error.clone(),
                });
                tracing::error!(trigger = trigger.as_str(), error = %error, "reload refused; the running configuration stays");
                return Err(error);
            }
        };
        let before = watched_files(&applied.config);
        let outcome = self.apply(&mut applied, checked).await;
        let after = watched_files(&applied.config);
        // Other files are watched now: start from what they are.
        let seen = if after == before {
            seen
        } else {
            tokio::task::spawn_blocking(move || signature(&after))
                .await
                .unwrap_or_default()
        };
        self.watched.store(seen, Ordering::Relaxed);
        Ok(outcome)
    }

    async fn apply(&self, applied: &mut Applied, checked: Checked) -> ReloadOutcome {
        let new = checked.config;
        let mut done = Vec::new();
        if let Some(loaded) = checked.rules {
            if let Some(tx) = &self.sigma {
                let update = EngineUpdate {
                    config: new.sigma.clone(),
                    engine: loaded.engine,
                    problems: loaded.problems,
                };
                if tx.send(update).await.is_ok() {
                    done.push("rules".to_owned());
                }
            }
            *self.refused_rules.lock().unwrap_or_else(|e| e.into_inner()) =
                loaded.refused.into_iter().collect();
        }
        applied.rules = checked.rules_fingerprint;
        // A guard not connected yet reads the directory itself when Docker answers.
        if let Some(policies) = checked.policies
            && let Some(Some(guard)) = modules::container_guard::current()
        {
            guard.set_policies(policies);
            done.push("policies".to_owned());
        }
        applied.policies = checked.policies_fingerprint;
        if checked.lists != applied.lists {
            xdp_module::apply_lists(&self.blocklist, &checked.lists);
            applied.lists = checked.lists;
            done.push("xdp lists".to_owned());
        }
        let old = &applied.config;
        {
            let mut supervisor = self.supervisor.lock().await;
            for (name, stage) in REPLACEABLE {
                let section = |c: &Config| -> serde_json::Value {
                    let v = serde_json::to_value(c).unwrap_or_default();
                    match *name {
                        "log_pipeline" | "exec" | "sbom" | "selftest" => v[*name].clone(),
                        // The lists are applied in place: only the other keys restart it.
                        "xdp" => {
                            let mut x = v["xdp"].clone();
                            if let Some(o) = x.as_object_mut() {
                                for k in [
                                    "blocklist",
                                    "monitorlist",
                                    "allowlist",
                                    "blocklist_file",
                                    "monitorlist_file",
                                    "allowlist_file",
                                ] {
                                    o.remove(k);
                                }
                            }
                            x
                        }
                        "retention" => v["store"]["retention_days"].clone(),
                        _ => serde_json::Value::Null,
                    }
                };
                // The sbom module also depends on the data directory of the vulnerability db.
                if section(old) == section(&new) {
                    continue;
                }
                match modules::build_replaceable(name, &new, &self.store, &self.blocklist) {
                    Some(module) => {
                        if *name == "xdp" {
                            crate::control_block::register(self.blocklist.clone());
                        }
                        supervisor.replace(*stage, module).await;
                    }
                    None => supervisor.stop(name).await,
                }
                done.push((*name).to_owned());
            }
        }
        let restart_required = restart_keys(&self.startup, &new);
        if !restart_required.is_empty() {
            tracing::warn!(keys = ?restart_required, "changed keys take effect after a restart");
        }
        applied.config = new;
        let status = &self.state.reload;
        let generation = status.generation.fetch_add(1, Ordering::Relaxed) + 1;
        status.succeeded.fetch_add(1, Ordering::Relaxed);
        {
            let mut d = status.lock();
            d.loaded_at = Some(Utc::now());
            d.last_error = None;
            d.restart_required = restart_required.clone();
        }
        tracing::info!(generation, applied = ?done, "configuration reloaded");
        ReloadOutcome {
            generation,
            applied: done,
            restart_required,
        }
    }

    /// Watches the rule, policy and list files of the running configuration every
    /// `general.watch_interval_ms` and reloads when they changed and then stayed the same for
    /// one more interval (an editor's write is complete).
    pub async fn watch(self: Arc<Self>) {
        let mut pending: Option<u64> = None;
        loop {
            // The interval of the loaded configuration: a reload may change it.
            let ms = self.applied.lock().await.config.general.watch_interval_ms;
            if ms == 0 {
                pending = None;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let files = watched_files(&self.applied.lock().await.config);
            let now = tokio::task::spawn_blocking(move || signature(&files))
                .await
                .unwrap_or_default();
            if now == self.watched.load(Ordering::Relaxed) {
                pending = None;
                continue;
            }
            if pending != Some(now) {
                pending = Some(now);
                continue;
            }
            pending = None;
            tracing::info!("watched files changed");
            let _ = self.reload(Trigger::Watch).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_keys_name_changed_keys_and_skip_live_ones() {
        let a = Config::default();
        let mut b = a.clone();
        b.general.event_queue += 1;
        b.general.watch_interval_ms += 1;
        b.store.retention_days += 1;
        b.sigma.suppression_secs += 1;
        b.sigma.enabled = !b.sigma.enabled;
        b.metrics.listen = "127.0.0.1:1".into();
        assert_eq!(
            restart_keys(&a, &b),
            vec![
                "general.event_queue".to_owned(),
                "metrics.listen".to_owned(),
                "sigma.enabled".to_owned()
            ]
        );
        assert!(restart_keys(&a, &a).is_empty());
    }

    #[test]
    fn signature_sees_content_and_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.yml");
        std::fs::write(&f, "x").unwrap();
        let mut files = Vec::new();
        collect_files(dir.path(), &mut files);
        let s1 = signature(&files);
        std::fs::write(&f, "xy").unwrap();
        let s2 = signature(&files);
        assert_ne!(s1, s2);
        std::fs::write(dir.path().join("b.yml"), "x").unwrap();
        assert_ne!(signature(&files), s2, "a new file changes the listing");
    }
}
