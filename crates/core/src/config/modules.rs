//! The config sections of the daemon's modules, one struct each.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError};

/// `[selftest]`: a fault-injection module that proves the supervisor's isolation and restart.
///
/// When enabled it reports healthy, then after `panic_after_ms` panics, or after
/// `fail_after_ms` returns an error, or reports degraded with `degraded_reason`; the supervisor
/// restarts it with backoff while the other modules keep running. It can also emit synthetic
/// alerts to exercise the store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelftestConfig {
    /// Run the module.
    pub enabled: bool,
    /// Panic this many milliseconds after each start (0: never).
    pub panic_after_ms: u64,
    /// Return an error this many milliseconds after each start (0: never).
    pub fail_after_ms: u64,
    /// Report degraded with this reason (empty: healthy).
    pub degraded_reason: String,
    /// Put this many synthetic alerts (rule `ironpost.selftest`, deterministic ids) on the alert
    /// bus at each start, to exercise the store and the shutdown drain.
    pub emit_alerts: u64,
    /// Most synthetic alerts per second (0: unthrottled).
    pub emit_rate: u64,
}

/// `[container_guard]`: responds to alerts attributed to a Docker container with the action
/// ladder of the first matching policy (network isolate, pause, snapshot, stop, kill).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContainerGuardConfig {
    /// Run the module.
    pub enabled: bool,
    /// The Docker Engine API socket.
    pub docker_socket: std::path::PathBuf,
    /// Record what would be done without doing it, for every policy.
    pub dry_run: bool,
    /// Directory of response policies (one `.toml` file each).
    pub policies_dir: std::path::PathBuf,
    /// Seconds after a response during which the same policy does not act on the same container again.
    pub cooldown_secs: u64,
    /// Most responses (one policy's ladder on one container) carried out per breaker window.
    pub breaker_max_actions: u32,
    /// Length of the circuit breaker's window in seconds.
    pub breaker_window_secs: u64,
    /// Seconds one Docker call of an action may take before it counts as failed.
    pub action_timeout_secs: u64,
    /// Workers carrying out responses in parallel.
    pub workers: usize,
    /// Capacity of the queue of alerts waiting for the guard.
    pub queue: usize,
    /// Repository of forensic snapshot images (tagged with the alert id).
    pub snapshot_repository: String,
    /// Follow the logs of containers whose name matches one of these globs (empty: by name, none).
    pub log_containers: Vec<String>,
    /// Follow the logs of containers carrying one of these labels (`key` or `key=value`).
    pub log_labels: Vec<String>,
    /// Format of followed container log lines (`auto`, `access_log`, `json`, ...).
    pub log_format: String,
}

impl Default for ContainerGuardConfig {
    fn default() -> Self {
        ContainerGuardConfig {
            enabled: false,
            docker_socket: std::path::PathBuf::from("/var/run/docker.sock"),
            dry_run: false,
            policies_dir: std::path::PathBuf::from("/etc/ironpost/policies"),
            cooldown_secs: 300,
            breaker_max_actions: 10,
            breaker_window_secs: 60,
            action_timeout_secs: 10,
            workers: 4,
            queue: 1024,
            snapshot_repository: "ironpost-forensics".into(),
            log_containers: Vec::new(),
            log_labels: Vec::new(),
            log_format: "auto".into(),
        }
    }
}

/// `[sigma]`: the Sigma detection module (rules over log records and process events).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigmaConfig {
    /// Run the module.
    pub enabled: bool,
    /// Rule files or directories (searched recursively for `.yml`/`.yaml`); empty runs no rule
    /// (the packages point it at the installed pack, e.g. `/etc/ironpost/rules`).
    pub rules: Vec<std::path::PathBuf>,
    /// An extra log-source mapping file added after the shipped one (empty: none).
    pub logsources: std::path::PathBuf,
    /// Seconds during which repeats of an alert for the same rule and group are suppressed.
    pub suppression_secs: u64,
    /// Memory cap of correlation windows in MiB; beyond it the least recently used group is evicted.
    pub correlation_memory_mb: u64,
    /// Values of `%name%` placeholders for the `expand` modifier.
    pub placeholders: std::collections::BTreeMap<String, Vec<String>>,
}

impl Default for SigmaConfig {
    fn default() -> Self {
        SigmaConfig {
            enabled: true,
            rules: Vec::new(),
            logsources: std::path::PathBuf::new(),
            suppression_secs: 300,
            correlation_memory_mb: 64,
            placeholders: std::collections::BTreeMap::new(),
        }
    }
}

/// `[sbom]`: lockfile discovery and the offline vulnerability database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SbomConfig {
    /// Directory of the vulnerability index; empty means `<data_dir>/vulndb`.
    pub db_dir: std::path::PathBuf,
    /// Days after the advisories' as-of date past which `scan` and `db status` warn.
    pub max_db_age_days: u64,
    /// Directory names never entered when looking for lockfiles.
    pub skip_dirs: Vec<String>,
    /// Ignore file (advisories accepted with a reason and an expiry); empty: none.
    pub ignore_file: std::path::PathBuf,
    /// Files or directories the daemon scans for lockfiles periodically; empty: no scanning.
    pub scan_paths: Vec<std::path::PathBuf>,
    /// Seconds between two periodic scans.
    pub scan_interval_secs: u64,
    /// Also scan the filesystem of every running container at each periodic scan, through the
    /// Docker Engine's export stream (`DOCKER_HOST` or /var/run/docker.sock).
    pub scan_containers: bool,
}

impl Default for SbomConfig {
    fn default() -> Self {
        SbomConfig {
            db_dir: std::path::PathBuf::new(),
            max_db_age_days: 7,
            skip_dirs: [
                ".git",
                ".hg",
                ".svn",
                "target",
                "node_modules",
                ".venv",
                "venv",
                "__pycache__",
                ".tox",
                "vendor",
            ]
            .map(String::from)
            .to_vec(),
            ignore_file: std::path::PathBuf::new(),
            scan_paths: Vec::new(),
            scan_interval_secs: 3600,
            scan_containers: false,
        }
    }
}

/// `[log_pipeline]`: log sources (file tail, syslog UDP/TCP, JSON lines) feeding detection.
///
/// Each `[[log_pipeline.sources]]` entry is one source; `type` selects which keys apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogPipelineConfig {
    /// Run the configured sources.
    pub enabled: bool,
    /// The sources; none by default.
    pub sources: Vec<LogSourceConfig>,
}

impl Default for LogPipelineConfig {
    fn default() -> Self {
        LogPipelineConfig {
            enabled: true,
            sources: Vec::new(),
        }
    }
}

/// The kinds of log source.
pub const LOG_SOURCE_TYPES: [&str; 4] = ["file", "json_file", "syslog_udp", "syslog_tcp"];
/// The log formats a source may name.
pub const LOG_FORMATS_ACCEPTED: [&str; 8] = [
    "auto",
    "rfc5424",
    "rfc3164",
    "json",
    "auditd",
    "cisco",
    "fortigate",
    "access_log",
];

/// One `[[log_pipeline.sources]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSourceConfig {
    /// Unique name: checkpoint key prefix, metric label, `source` of its records.
    pub name: String,
    /// `file`, `json_file` (a file source with format `json`), `syslog_udp` or `syslog_tcp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Line format: auto, rfc5424, rfc3164, json, auditd, cisco, fortigate, access_log.
    pub format: String,
    /// Time zone of timestamps without one: `UTC` or an offset such as `+02:00`.
    pub timezone: String,
    /// file: glob patterns of the files to tail.
    pub paths: Vec<String>,
    /// file: where files found at start begin without a checkpoint, `end` or `beginning`.
    pub start_at: String,
    /// file: longer lines are cut to this many bytes (and counted).
    pub max_line_bytes: usize,
    /// file: milliseconds between looks for new data and rotation.
    pub poll_interval_ms: u64,
    /// syslog_udp, syslog_tcp: address to listen on.
    pub listen: String,
    /// syslog_udp: receive buffer requested from the kernel.
    pub recv_buffer_bytes: usize,
    /// syslog_tcp: most connections at once.
    pub max_connections: usize,
    /// syslog_tcp: seconds of silence before a connection is closed.
    pub idle_timeout_secs: u64,
    /// syslog_tcp: seconds one frame may take to arrive (stops slow-loris peers).
    pub frame_timeout_secs: u64,
    /// syslog_tcp: largest frame; a larger octet count closes the connection.
    pub max_frame_bytes: usize,
    /// syslog_tcp: PEM certificate chain; with `tls_key`, the listener speaks TLS (RFC 5425).
    pub tls_cert: std::path::PathBuf,
    /// syslog_tcp: PEM private key of `tls_cert`.
    pub tls_key: std::path::PathBuf,
}

impl Default for LogSourceConfig {
    fn default() -> Self {
        LogSourceConfig {
            name: String::new(),
            kind: String::new(),
            format: "auto".into(),
            timezone: "UTC".into(),
            paths: Vec::new(),
            start_at: "end".into(),
            max_line_bytes: 65_536,
            poll_interval_ms: 250,
            listen: "127.0.0.1:5514".into(),
            recv_buffer_bytes: 8 << 20,
            max_connections: 256,
            idle_timeout_secs: 300,
            frame_timeout_secs: 30,
            max_frame_bytes: 65_536,
            tls_cert: std::path::PathBuf::new(),
            tls_key: std::path::PathBuf::new(),
        }
    }
}

/// Checks `[log_pipeline]`; errors name `log_pipeline.sources[N].key`.
fn check_log_pipeline(config: &Config, path: &Path) -> Result<(), ConfigError> {
    let mut names = std::collections::BTreeSet::new();
    for (i, s) in config.log_pipeline.sources.iter().enumerate() {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            key: format!("log_pipeline.sources[{i}].{key}"),
            message,
        };
        if s.name.is_empty() {
            return Err(invalid("name", "every source needs a name".into()));
        }
        if !names.insert(s.name.as_str()) {
            return Err(invalid(
                "name",
                format!("`{}` is used by two sources; names must be unique", s.name),
            ));
        }
        if !LOG_SOURCE_TYPES.contains(&s.kind.as_str()) {
            return Err(invalid(
                "type",
                format!(
                    "`{}` is not a source type; use one of {}",
                    s.kind,
                    LOG_SOURCE_TYPES.join(", ")
                ),
            ));
        }
        if !LOG_FORMATS_ACCEPTED.contains(&s.format.as_str()) {
            return Err(invalid(
                "format",
                format!(
                    "`{}` is not a format; use one of {}",
                    s.format,
                    LOG_FORMATS_ACCEPTED.join(", ")
                ),
            ));
        }
        match s.kind.as_str() {
            "file" | "json_file" => {
                if s.paths.is_empty() {
                    return Err(invalid(
                        "paths",
                        "a file source needs at least one path or glob".into(),
                    ));
                }
                if !matches!(s.start_at.as_str(), "end" | "beginning") {
                    return Err(invalid(
                        "start_at",
                        format!("`{}` is not `end` or `beginning`", s.start_at),
                    ));
                }
                if s.max_line_bytes == 0 {
                    return Err(invalid("max_line_bytes", "must be at least 1".into()));
                }
            }
            _ => {
                if s.listen.parse::<std::net::SocketAddr>().is_err() {
                    return Err(invalid(
                        "listen",
                        format!("`{}` is not an address such as 127.0.0.1:5514", s.listen),
                    ));
                }
                if s.tls_cert.as_os_str().is_empty() != s.tls_key.as_os_str().is_empty() {
                    return Err(invalid(
                        "tls_key",
                        "tls_cert and tls_key go together: set both or neither".into(),
                    ));
                }
                if s.kind == "syslog_tcp" && (s.max_connections == 0 || s.max_frame_bytes == 0) {
                    return Err(invalid(
                        "max_connections",
                        "max_connections and max_frame_bytes must be at least 1".into(),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// How the XDP program is attached to its interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XdpAttachMode {
    /// Native (in the driver), falling back to generic when the driver lacks XDP.
    #[default]
    Auto,
    /// Native only.
    Native,
    /// Generic (in the network stack) only.
    Generic,
}

/// `[xdp]`: the XDP network sensor (packet counters, blocklist, port-scan and SYN-flood
/// detection in the kernel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct XdpConfig {
    /// Run the module.
    pub enabled: bool,
    /// The interface to attach to (required when enabled).
    pub interface: String,
    /// `auto`, `native` or `generic`.
    pub attach_mode: XdpAttachMode,
    /// The detection window in seconds.
    pub window_secs: u64,
    /// SYNs from one source within the window that make a SYN flood (0: off).
    pub syn_threshold: u32,
    /// Distinct destination ports from one source within the window that make a port scan (0: off).
    pub port_threshold: u32,
    /// Least seconds between two reports of traffic from the same block entry.
    pub cooldown_secs: u64,
    /// Addresses and CIDR prefixes whose traffic is dropped.
    pub blocklist: Vec<String>,
    /// Addresses and CIDR prefixes whose traffic passes but is reported.
    pub monitorlist: Vec<String>,
    /// Addresses and CIDR prefixes never blocked, checked before the blocklist.
    pub allowlist: Vec<String>,
    /// Seconds a port-scan or SYN-flood source is blocked by the auto-block responder (0: off).
    pub auto_block_ttl_secs: u64,
    /// A file of addresses and CIDR prefixes to drop, one per line, `#` starting a comment
    /// (empty: none); watched and reloaded when it changes.
    pub blocklist_file: std::path::PathBuf,
    /// A file of addresses and prefixes to report without dropping, like `blocklist_file`.
    pub monitorlist_file: std::path::PathBuf,
    /// A file of addresses and prefixes never blocked, like `blocklist_file`.
    pub allowlist_file: std::path::PathBuf,
}

impl Default for XdpConfig {
    fn default() -> Self {
        XdpConfig {
            enabled: false,
            interface: String::new(),
            attach_mode: XdpAttachMode::Auto,
            window_secs: 10,
            syn_threshold: 1000,
            port_threshold: 50,
            cooldown_secs: 60,
            blocklist: Vec::new(),
            monitorlist: Vec::new(),
            allowlist: Vec::new(),
            auto_block_ttl_secs: 0,
            blocklist_file: std::path::PathBuf::new(),
            monitorlist_file: std::path::PathBuf::new(),
            allowlist_file: std::path::PathBuf::new(),
        }
    }
}

/// `[exec]`: the exec tracer (every exec on the host as a `process_creation` event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecConfig {
    /// Run the module.
    pub enabled: bool,
    /// Executables whose path starts with one of these are not reported.
    pub exclude_path_prefixes: Vec<String>,
    /// Execs by these user ids are not reported.
    pub exclude_uids: Vec<u32>,
    /// Execs inside these containers (full or 12-character ids) are not reported.
    pub exclude_containers: Vec<String>,
    /// Bytes of the argument vector kept per exec (1 to 1024); a longer one is cut and the
    /// event flagged.
    pub max_args_bytes: usize,
}

/// The most argument bytes an exec record holds.
pub const EXEC_MAX_ARGS_BYTES: usize = 1024;

impl Default for ExecConfig {
    fn default() -> Self {
        ExecConfig {
            enabled: false,
            exclude_path_prefixes: Vec::new(),
            exclude_uids: Vec::new(),
            exclude_containers: Vec::new(),
            max_args_bytes: EXEC_MAX_ARGS_BYTES,
        }
    }
}

/// Checks `text` is `ADDR` or `ADDR/LEN` with no bits set beyond the prefix.
fn check_ip_prefix(text: &str) -> Result<(), String> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("`{text}` is not an IPv4 or IPv6 address or CIDR prefix"))?;
    let (bits, max) = match addr {
        std::net::IpAddr::V4(a) => (u128::from(u32::from(a)) << 96, 32u32),
        std::net::IpAddr::V6(a) => (u128::from(a), 128u32),
    };
    let len = match len {
        None => max,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("`{text}`: the prefix length must be 0..={max}"))?,
    };
    let host_mask = if len == 0 {
        u128::MAX
    } else {
        u128::MAX >> len
    };
    let host_mask = if max == 32 {
        host_mask & (u128::MAX << 96)
    } else {
        host_mask
    };
    if bits & host_mask != 0 {
        return Err(format!("`{text}` has bits set beyond the /{len} prefix"));
    }
    Ok(())
}

fn check_xdp(config: &Config, path: &Path) -> Result<(), ConfigError> {
    let x = &config.xdp;
    let invalid = |key: String, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        key,
        message,
    };
    if x.enabled && x.interface.trim().is_empty() {
        return Err(invalid(
            "xdp.interface".into(),
            "must name the interface to attach to when xdp.enabled is true".into(),
        ));
    }
    if x.window_secs == 0 {
        return Err(invalid(
            "xdp.window_secs".into(),
            "must be at least 1".into(),
        ));
    }
    for (name, list) in [
        ("blocklist", &x.blocklist),
        ("monitorlist", &x.monitorlist),
        ("allowlist", &x.allowlist),
    ] {
        for (i, entry) in list.iter().enumerate() {
            check_ip_prefix(entry.trim()).map_err(|m| invalid(format!("xdp.{name}[{i}]"), m))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod xdp_tests {
    use std::path::Path;

    use crate::config::{Config, ConfigError};

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("t.toml"), Vec::new())
    }

    #[test]
    fn xdp_entries_are_checked_and_errors_name_the_entry() {
        let c = load("[xdp]\nenabled = true\ninterface = \"eth0\"\nattach_mode = \"generic\"\nblocklist = [\"192.0.2.1\", \"10.0.0.0/8\", \"2001:db8::/32\"]\n").unwrap();
        assert_eq!(c.xdp.attach_mode, super::XdpAttachMode::Generic);
        let e = load("[xdp]\nblocklist = [\"10.0.0.0/8\", \"10.1.2.3/8\"]\n").unwrap_err();
        assert_eq!(e.key(), Some("xdp.blocklist[1]"));
        let e = load("[xdp]\nallowlist = [\"nope\"]\n").unwrap_err();
        assert_eq!(e.key(), Some("xdp.allowlist[0]"));
        let e = load("[xdp]\nmonitorlist = [\"::/129\"]\n").unwrap_err();
        assert_eq!(e.key(), Some("xdp.monitorlist[0]"));
        let e = load("[xdp]\nenabled = true\n").unwrap_err();
        assert_eq!(e.key(), Some("xdp.interface"));
        assert_eq!(
            load("[exec]\nmax_args_bytes = 64\n")
                .unwrap()
                .exec
                .max_args_bytes,
            64
        );
        for bad in ["0", "1025"] {
            let e = load(&format!("[exec]\nmax_args_bytes = {bad}\n")).unwrap_err();
            assert_eq!(e.key(), Some("exec.max_args_bytes"));
        }
        assert!(load("[xdp]\nattach_mode = \"fast\"\n").is_err());
    }
}

/// Checks the module sections; errors name their key.
pub(super) fn check(config: &Config, path: &Path) -> Result<(), ConfigError> {
    check_log_pipeline(config, path)?;
    check_xdp(config, path)?;
    let n = config.exec.max_args_bytes;
    if n == 0 || n > EXEC_MAX_ARGS_BYTES {
        return Err(ConfigError::Invalid {
            path: path.to_owned(),
            key: "exec.max_args_bytes".into(),
            message: format!("must be 1..={EXEC_MAX_ARGS_BYTES}, not {n}"),
        });
    }
    Ok(())
}

/// Replaces the secrets of module sections with the redaction marker.
pub(super) fn redact(_config: &mut Config) {}

#[cfg(test)]
mod log_pipeline_tests {
    use std::path::Path;

    use crate::config::{Config, ConfigError};

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("t.toml"), Vec::new())
    }

    #[test]
    fn sources_load_and_errors_name_the_entry() {
        let c = load("[[log_pipeline.sources]]\nname = \"auth\"\ntype = \"file\"\npaths = [\"/var/log/auth.log\"]\n").unwrap();
        assert_eq!(c.log_pipeline.sources[0].start_at, "end");
        let e = load("[[log_pipeline.sources]]\nname = \"a\"\ntype = \"file\"\npaths = [\"x\"]\n[[log_pipeline.sources]]\nname = \"b\"\ntype = \"syslog_udp\"\nlisten = \"nowhere\"\n").unwrap_err();
        assert_eq!(e.key(), Some("log_pipeline.sources[1].listen"));
        let e = load("[[log_pipeline.sources]]\nname = \"a\"\ntype = \"pipe\"\n").unwrap_err();
        assert!(
            e.to_string().contains("log_pipeline.sources[0].type"),
            "{e}"
        );
    }
}
