//! The whole configuration schema: one `ironpost.toml`, read the same way by the daemon and the CLI.
//!
//! Loading goes in three steps: the file is deserialized with every section denying unknown
//! keys (an error names file, line, column and key); `IRONPOST_<SECTION>__<KEY>` environment
//! variables override single keys (an error names the variable); then values are checked for
//! meaning (an error names the key and what is accepted).

mod error;
pub mod modules;
pub mod sinks;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use error::{ConfigError, Location};
pub use modules::SelftestConfig;

/// The prefix of environment overrides.
pub const ENV_PREFIX: &str = "IRONPOST_";

/// What `config show` prints in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Paths, host name, logging and queue sizes.
    pub general: GeneralConfig,
    /// Where alerts, actions, findings and checkpoints are kept.
    pub store: StoreConfig,
    /// The control API on a Unix socket.
    pub control: ControlConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// A fault-injection module used to prove supervision; off unless a test turns it on.
    pub selftest: SelftestConfig,
    /// The container guard: response to alerts attributed to Docker containers.
    pub container_guard: modules::ContainerGuardConfig,
    /// The Sigma detection module.
    pub sigma: modules::SigmaConfig,
    /// Lockfile discovery and the offline vulnerability database.
    pub sbom: modules::SbomConfig,
    /// Log sources: file tail, syslog UDP/TCP, JSON lines.
    pub log_pipeline: modules::LogPipelineConfig,
    /// The XDP network sensor.
    pub xdp: modules::XdpConfig,
    /// The exec tracer.
    pub exec: modules::ExecConfig,
    /// Where stored alerts, actions and findings are delivered (`[[sinks]]`); none by default.
    pub sinks: Vec<sinks::SinkConfig>,
}

/// `[general]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeneralConfig {
    /// Directory for the store, the socket, the PID file and state.
    pub data_dir: PathBuf,
    /// This host's name in alerts and records; empty means the system host name.
    pub host_name: String,
    /// Log level: `trace`, `debug`, `info`, `warn` or `error`.
    pub log_level: String,
    /// Log format: `json` or `text`.
    pub log_format: String,
    /// PID file; empty means `<data_dir>/ironpost.pid`.
    pub pid_file: PathBuf,
    /// Capacity of the event bus (events waiting for detection).
    pub event_queue: usize,
    /// Capacity of the alert bus (alerts waiting for the store and responders).
    pub alert_queue: usize,
    /// Seconds the daemon waits for queues to drain on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Milliseconds between two checks of the rule, policy and list files for changes, which
    /// reload the daemon when seen (0: no watching; SIGHUP and `ironpost reload` still work).
    pub watch_interval_ms: u64,
}

impl Default for GeneralConfig {
    fn default() -> Self {
        GeneralConfig {
            data_dir: PathBuf::from("ironpost-data"),
            host_name: String::new(),
            log_level: "info".into(),
            log_format: "json".into(),
            pid_file: PathBuf::new(),
            event_queue: 16_384,
            alert_queue: 8_192,
            shutdown_timeout_secs: 8,
            watch_interval_ms: 2_000,
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://PATH`, `postgres://USER:PASSWORD@HOST:PORT/DB`, or empty for `<data_dir>/ironpost.db`.
    pub url: String,
    /// Most alerts written in one transaction.
    pub batch_size: usize,
    /// PostgreSQL: most connections open at once.
    pub pool_size: usize,
    /// PostgreSQL: PEM file of the authorities that sign the server's certificate (empty: the
    /// system's roots). TLS is chosen by `sslmode` in the URL.
    pub tls_ca_file: PathBuf,
    /// PostgreSQL: where writes wait on disk while the database is unreachable; empty means
    /// `<data_dir>/spool`.
    pub spool_dir: PathBuf,
    /// PostgreSQL: most bytes the spool holds; writes past it are dropped and counted.
    pub spool_max_bytes: u64,
    /// Delete alerts, actions and findings older than this many days (0: keep everything).
    pub retention_days: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: String::new(),
            batch_size: 512,
            pool_size: 4,
            tls_ca_file: PathBuf::new(),
            spool_dir: PathBuf::new(),
            spool_max_bytes: 256 << 20,
            retention_days: 0,
        }
    }
}

/// `[control]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Serve the control API.
    pub enabled: bool,
    /// Socket path; empty means `<data_dir>/ironpost.sock`.
    pub socket: PathBuf,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            enabled: true,
            socket: PathBuf::new(),
        }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve Prometheus metrics.
    pub enabled: bool,
    /// Address to listen on.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            listen: "127.0.0.1:9464".into(),
        }
    }
}

/// The storage backend a store URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

const LOG_LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];
const LOG_FORMATS: [&str; 2] = ["json", "text"];

impl Config {
    /// The configuration the daemon and the CLI use: `explicit` (from `-c`), else the file named
    /// by `IRONPOST_CONFIG`, else `./ironpost.toml`, else `/etc/ironpost/ironpost.toml`, else the
    /// built-in defaults; then the process environment's overrides. Returns the file used.
    pub fn discover(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        match Config::discover_path(explicit) {
            Some(p) => Config::load(&p, env).map(|c| (c, Some(p))),
            None => Config::defaults(env).map(|c| (c, None)),
        }
    }

    /// The file [`Config::discover`] reads, without reading it: `explicit`, else
    /// `IRONPOST_CONFIG`, else `./ironpost.toml`, else `/etc/ironpost/ironpost.toml`; `None`
    /// for the built-in defaults.
    pub fn discover_path(explicit: Option<&Path>) -> Option<PathBuf> {
        explicit.map(Path::to_path_buf).or_else(|| {
            std::env::var_os("IRONPOST_CONFIG")
                .map(PathBuf::from)
                .or_else(|| {
                    ["ironpost.toml", "/etc/ironpost/ironpost.toml"]
                        .into_iter()
                        .map(PathBuf::from)
                        .find(|p| p.is_file())
                })
        })
    }

    /// Reads and checks `path`, then applies environment overrides from `env`.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&text, path, env)
    }

    /// The built-in defaults with environment overrides from `env`, checked.
    pub fn defaults(
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        Config::from_toml("", Path::new("<defaults>"), env)
    }

    /// Parses `text` (read from `path`), applies overrides from `env` and checks the result.
    pub fn from_toml(
        text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let span = e.span();
            ConfigError::Parse {
                path: path.to_owned(),
                location: span.as_ref().map(|s| error::locate(text, s.start)),
                key: span.as_ref().and_then(|s| error::key_at(text, s.start)),
                message: e.message().trim().to_owned(),
            }
        })?;
        let overrides: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX) && k.contains("__"))
            .collect();
        if !overrides.is_empty() {
            config = apply_env(config, &overrides)?;
        }
        config.check(path)?;
        Ok(config)
    }

    /// Checks values for meaning; every error names its key.
    pub fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            key: key.to_owned(),
            message,
        };
        if !LOG_LEVELS.contains(&self.general.log_level.as_str()) {
            return Err(invalid(
                "general.log_level",
                format!(
                    "`{}` is not a level; use one of {}",
                    self.general.log_level,
                    LOG_LEVELS.join(", ")
                ),
            ));
        }
        if !LOG_FORMATS.contains(&self.general.log_format.as_str()) {
            return Err(invalid(
                "general.log_format",
                format!(
                    "`{}` is not a format; use json or text",
                    self.general.log_format
                ),
            ));
        }
        if self.general.data_dir.as_os_str().is_empty() {
            return Err(invalid("general.data_dir", "must not be empty".into()));
        }
        for (key, v) in [
            ("general.event_queue", self.general.event_queue),
            ("general.alert_queue", self.general.alert_queue),
            ("store.batch_size", self.store.batch_size),
            ("store.pool_size", self.store.pool_size),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be at least 1".into()));
            }
        }
        if self.metrics.enabled && self.metrics.listen.parse::<SocketAddr>().is_err() {
            return Err(invalid(
                "metrics.listen",
                format!(
                    "`{}` is not an address:port such as 127.0.0.1:9464",
                    self.metrics.listen
                ),
            ));
        }
        self.store_location().map_err(|m| invalid("store.url", m))?;
        modules::check(self, path)?;
        sinks::check(self, path)?;
        Ok(())
    }

    /// The store backend and where it is.
    pub fn store_location(&self) -> Result<StoreLocation, String> {
        let url = self.store.url.trim();
        if url.is_empty() {
            return Ok(StoreLocation::Sqlite(
                self.general.data_dir.join("ironpost.db"),
            ));
        }
        if let Some(p) = url.strip_prefix("sqlite://") {
            if p.is_empty() {
                return Err(
                    "sqlite:// needs a path, as in sqlite:///var/lib/ironpost/ironpost.db".into(),
                );
            }
            return Ok(StoreLocation::Sqlite(PathBuf::from(p)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreLocation::Postgres(url.to_owned()));
        }
        Err(format!(
            "`{}` is not a store URL; use sqlite://PATH or postgres://USER@HOST/DB",
            redact_url(url)
        ))
    }

    /// The control socket path.
    pub fn socket_path(&self) -> PathBuf {
        if self.control.socket.as_os_str().is_empty() {
            self.general.data_dir.join("ironpost.sock")
        } else {
            self.control.socket.clone()
        }
    }

    /// The spool directory path.
    pub fn spool_path(&self) -> PathBuf {
        if self.store.spool_dir.as_os_str().is_empty() {
            self.general.data_dir.join("spool")
        } else {
            self.store.spool_dir.clone()
        }
    }

    /// The PID file path.
    pub fn pid_path(&self) -> PathBuf {
        if self.general.pid_file.as_os_str().is_empty() {
            self.general.data_dir.join("ironpost.pid")
        } else {
            self.general.pid_file.clone()
        }
    }

    /// This host's name: the configured one, else the system host name.
    pub fn host_name(&self) -> String {
        if !self.general.host_name.is_empty() {
            return self.general.host_name.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    }

    /// The configuration as TOML with every secret replaced by [`REDACTED`].
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.store.url = redact_url(&shown.store.url);
        modules::redact(&mut shown);
        sinks::redact(&mut shown);
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// Replaces the password in a `scheme://user:password@host` URL with [`REDACTED`].
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:{}{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            REDACTED,
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

/// Applies `IRONPOST_<SECTION>__<KEY>` overrides. A value is read as a TOML value (number,
/// boolean, array) when it parses as one and fits the key, else as a string.
fn apply_env(config: Config, overrides: &[(String, String)]) -> Result<Config, ConfigError> {
    let mut tree = toml::Table::try_from(&config).map_err(|e| ConfigError::Env {
        var: "IRONPOST_*".into(),
        message: e.to_string(),
    })?;
    for (var, raw) in overrides {
        let path: Vec<String> = var[ENV_PREFIX.len()..]
            .split("__")
            .map(|p| p.to_ascii_lowercase())
            .collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(ConfigError::Env {
                var: var.clone(),
                message: "expected IRONPOST_<SECTION>__<KEY>".into(),
            });
        }
        let typed = format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"));
        let candidates: Vec<toml::Value> = typed
            .into_iter()
            .chain(std::iter::once(toml::Value::String(raw.clone())))
            .collect();
        let mut last_error = String::new();
        let mut applied = false;
        for candidate in candidates {
            let mut trial = tree.clone();
            set_path(&mut trial, &path, candidate).map_err(|message| ConfigError::Env {
                var: var.clone(),
                message,
            })?;
            match toml::Value::Table(trial.clone()).try_into::<Config>() {
                Ok(_) => {
                    tree = trial;
                    applied = true;
                    break;
                }
                Err(e) => last_error = e.message().trim().to_owned(),
            }
        }
        if !applied {
            return Err(ConfigError::Env {
                var: var.clone(),
                message: format!("key `{}`: {last_error}", path.join(".")),
            });
        }
    }
    toml::Value::Table(tree)
        .try_into::<Config>()
        .map_err(|e| ConfigError::Env {
            var: "IRONPOST_*".into(),
            message: e.message().to_owned(),
        })
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let mut cur = table;
    for p in parents {
        let entry = cur
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{p}` is not a section"))?;
    }
    cur.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("test.toml"), Vec::new())
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(
            c.socket_path(),
            PathBuf::from("ironpost-data/ironpost.sock")
        );
        assert_eq!(
            c.store_location().unwrap(),
            StoreLocation::Sqlite(PathBuf::from("ironpost-data/ironpost.db"))
        );
    }

    #[test]
    fn unknown_key_names_line_column_and_key() {
        let err = parse("[general]\nlog_level = \"info\"\nlog_levle = \"debug\"\n").unwrap_err();
        assert_eq!(err.location(), Some(&Location { line: 3, column: 1 }));
        assert_eq!(err.key(), Some("general.log_levle"));
        let text = err.to_string();
        assert!(
            text.starts_with("test.toml:3:1: key `general.log_levle`"),
            "{text}"
        );
        assert!(text.contains("unknown field"), "{text}");
    }

    #[test]
    fn unknown_section_is_an_error() {
        let err = parse("[genral]\nx = 1\n").unwrap_err();
        assert_eq!(err.location().map(|l| l.line), Some(1));
        assert_eq!(err.key(), Some("genral"));
    }

    #[test]
    fn wrong_type_names_line_and_key() {
        let err = parse("[store]\nbatch_size = \"many\"\n").unwrap_err();
        assert_eq!(err.location().map(|l| l.line), Some(2));
        assert_eq!(err.key(), Some("store.batch_size"));
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    #[test]
    fn bad_toml_names_line() {
        let err = parse("[general\n").unwrap_err();
        assert_eq!(err.location().map(|l| l.line), Some(1));
    }

    #[test]
    fn meaningless_values_name_their_key() {
        for (text, key) in [
            ("[general]\nlog_level = \"loud\"\n", "general.log_level"),
            ("[general]\nlog_format = \"xml\"\n", "general.log_format"),
            ("[general]\nevent_queue = 0\n", "general.event_queue"),
            ("[metrics]\nlisten = \"nowhere\"\n", "metrics.listen"),
            ("[store]\nurl = \"mysql://x\"\n", "store.url"),
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.key(), Some(key), "{text}: {err}");
        }
    }

    #[test]
    fn environment_overrides_keys_with_types() {
        let c = Config::from_toml(
            "[general]\nlog_level = \"info\"\n",
            Path::new("t.toml"),
            env(&[
                ("IRONPOST_GENERAL__LOG_LEVEL", "debug"),
                ("IRONPOST_GENERAL__DATA_DIR", "/tmp/x"),
                ("IRONPOST_GENERAL__EVENT_QUEUE", "10"),
                ("IRONPOST_METRICS__ENABLED", "false"),
                ("IRONPOST_GENERAL__HOST_NAME", "1234"),
                ("IRONPOST_CONFIG", "ignored: no double underscore"),
                ("OTHER__THING", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(c.general.log_level, "debug");
        assert_eq!(c.general.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.general.event_queue, 10);
        assert!(!c.metrics.enabled);
        // A number-looking value still fits a text key.
        assert_eq!(c.general.host_name, "1234");
    }

    #[test]
    fn bad_environment_override_names_the_variable() {
        let err = Config::defaults(env(&[("IRONPOST_GENERAL__EVENT_QUEUE", "lots")])).unwrap_err();
        assert!(
            err.to_string().contains("IRONPOST_GENERAL__EVENT_QUEUE"),
            "{err}"
        );
        let err = Config::defaults(env(&[("IRONPOST_GENERAL__NOPE", "1")])).unwrap_err();
        assert!(err.to_string().contains("IRONPOST_GENERAL__NOPE"), "{err}");
        let err = Config::defaults(env(&[("IRONPOST_GENERAL__LOG_LEVEL", "loud")])).unwrap_err();
        assert_eq!(err.key(), Some("general.log_level"));
    }

    #[test]
    fn redaction_hides_passwords() {
        assert_eq!(
            redact_url("postgres://ironpost:s3cret@db:5432/ironpost"),
            "postgres://ironpost:<redacted>@db:5432/ironpost"
        );
        assert_eq!(
            redact_url("postgres://db/ironpost"),
            "postgres://db/ironpost"
        );
        let mut c = Config::default();
        c.store.url = "postgres://u:hunter2@h/db".into();
        let shown = c.to_redacted_toml();
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains(REDACTED));
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// The shipped example must load and must show every default, so it cannot drift.
    #[test]
    fn the_example_file_loads_and_equals_the_defaults() {
        let text = include_str!("../../../../ironpost.toml.example");
        let config =
            Config::from_toml(text, Path::new("ironpost.toml.example"), Vec::new()).unwrap();
        assert_eq!(
            config,
            Config::default(),
            "ironpost.toml.example and the defaults differ"
        );
        let example: toml::Table = text.parse().unwrap();
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        fn keys(t: &toml::Table, prefix: &str, out: &mut Vec<String>) {
            for (k, v) in t {
                let name = format!("{prefix}{k}");
                match v {
                    toml::Value::Table(inner) => keys(inner, &format!("{name}."), out),
                    _ => out.push(name),
                }
            }
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        keys(&example, "", &mut a);
        keys(&defaults, "", &mut b);
        a.sort();
        b.sort();
        assert_eq!(
            a, b,
            "ironpost.toml.example must list every key, and only real keys"
        );
    }
}
