//! `[[sinks]]`: where alerts, container guard actions and scan findings are delivered once stored.
//!
//! Each entry is one sink with its own bounded queue and filter; `type` selects which keys
//! apply. Secrets (`token`, `password`, header values, `url`) may be written as
//! `secret:env:NAME` or `secret:file:PATH` so the file itself holds none.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError, REDACTED, redact_url};
use crate::alert::Severity;

/// The kinds of sink.
pub const SINK_TYPES: [&str; 5] = ["jsonl", "webhook", "alertmanager", "syslog", "stdout"];
/// The kinds of record a sink may take.
pub const RECORD_KINDS: [&str; 3] = ["alert", "action", "finding"];
/// The transports of the syslog sink.
pub const SYSLOG_PROTOCOLS: [&str; 3] = ["udp", "tcp", "tls"];

/// One `[[sinks]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinkConfig {
    /// Unique name: status key, metric label, dead-letter record field.
    pub name: String,
    /// `jsonl`, `webhook`, `alertmanager`, `syslog` or `stdout`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Records of lower severity are not delivered (actions have none and always pass).
    pub min_severity: Severity,
    /// Alert rule ids to deliver; a trailing `*` matches a prefix (empty: every rule).
    pub rules: Vec<String>,
    /// Deliver alerts carrying one of these tags (empty: any tags).
    pub tags: Vec<String>,
    /// Deliver records raised by one of these modules (empty: any module).
    pub modules: Vec<String>,
    /// Record kinds to deliver: `alert`, `action` (container guard), `finding` (SBOM scan).
    pub kinds: Vec<String>,
    /// Capacity of the sink's queue; records offered to a full queue are dropped and counted.
    pub queue: usize,
    /// Most records per delivery (one request, one write).
    pub batch_size: usize,
    /// Attempts of one delivery before its records go to the dead-letter file.
    pub max_attempts: u32,
    /// Milliseconds before the first retry; doubled at each retry.
    pub backoff_initial_ms: u64,
    /// Longest wait between two retries, in milliseconds.
    pub backoff_max_ms: u64,
    /// Seconds one delivery attempt may take.
    pub timeout_secs: u64,
    /// JSON-lines file of records that could not be delivered (empty: they are only counted).
    pub dead_letter: PathBuf,
    /// jsonl: the file written.
    pub path: PathBuf,
    /// jsonl: size in bytes at which the file is rotated.
    pub max_bytes: u64,
    /// jsonl: rotated files kept (`path.1` newest .. `path.N` oldest).
    pub keep_files: usize,
    /// webhook: the URL posted to; alertmanager: its base URL (`/api/v2/alerts` is appended).
    pub url: String,
    /// webhook, alertmanager: extra request headers.
    pub headers: BTreeMap<String, String>,
    /// webhook, alertmanager: bearer token sent as `Authorization: Bearer TOKEN`.
    pub token: String,
    /// webhook, alertmanager: basic-auth user name (with `password`).
    pub username: String,
    /// webhook, alertmanager: basic-auth password.
    pub password: String,
    /// webhook, alertmanager, syslog over TLS: PEM file of the authorities to trust (empty: the
    /// system's roots).
    pub ca_file: PathBuf,
    /// webhook: body per record with `{{field.path}}` replaced from the record's JSON (empty:
    /// the batch as a JSON array of records).
    pub body_template: String,
    /// webhook: the request's content type.
    pub content_type: String,
    /// alertmanager: seconds after delivery at which Alertmanager resolves the alert.
    pub resolve_after_secs: u64,
    /// alertmanager: labels added to every alert.
    pub labels: BTreeMap<String, String>,
    /// syslog: `udp`, `tcp` (octet-counting framing) or `tls` (RFC 5425).
    pub protocol: String,
    /// syslog: the collector's `host:port`.
    pub address: String,
    /// syslog: the APP-NAME field.
    pub app_name: String,
    /// syslog: the facility number (4: auth, 10: authpriv, 13: log audit, 16..23: local0..7).
    pub facility: u8,
    /// syslog over TLS: the name checked in the collector's certificate (empty: the host of
    /// `address`).
    pub server_name: String,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            name: String::new(),
            kind: String::new(),
            min_severity: Severity::Informational,
            rules: Vec::new(),
            tags: Vec::new(),
            modules: Vec::new(),
            kinds: RECORD_KINDS.iter().map(|k| (*k).to_owned()).collect(),
            queue: 8192,
            batch_size: 100,
            max_attempts: 5,
            backoff_initial_ms: 500,
            backoff_max_ms: 30_000,
            timeout_secs: 10,
            dead_letter: PathBuf::new(),
            path: PathBuf::new(),
            max_bytes: 64 << 20,
            keep_files: 5,
            url: String::new(),
            headers: BTreeMap::new(),
            token: String::new(),
            username: String::new(),
            password: String::new(),
            ca_file: PathBuf::new(),
            body_template: String::new(),
            content_type: "application/json".into(),
            resolve_after_secs: 300,
            labels: BTreeMap::new(),
            protocol: "udp".into(),
            address: String::new(),
            app_name: "ironpost".into(),
            facility: 4,
            server_name: String::new(),
        }
    }
}

/// A secret that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// `secret:env:NAME` names an unset variable.
    #[error("environment variable `{0}` named by secret:env: is not set")]
    MissingEnv(String),
    /// `secret:file:PATH` names an unreadable file.
    #[error("cannot read the secret file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The value starts with `secret:` but is neither form.
    #[error("`{0}` is not secret:env:NAME or secret:file:PATH")]
    Syntax(String),
}

/// Whether `value` is a `secret:` reference rather than the secret itself.
pub fn is_secret_reference(value: &str) -> bool {
    value.starts_with("secret:")
}

/// The value itself, or what its `secret:env:NAME` / `secret:file:PATH` reference names (a
/// file's trailing newline removed).
pub fn resolve_secret(value: &str) -> Result<String, SecretError> {
    resolve_secret_with(value, |name| std::env::var(name).ok())
}

/// [`resolve_secret`] with environment lookups through `env`.
pub fn resolve_secret_with(
    value: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, SecretError> {
    let Some(rest) = value.strip_prefix("secret:") else {
        return Ok(value.to_owned());
    };
    if let Some(name) = rest.strip_prefix("env:") {
        return env(name).ok_or_else(|| SecretError::MissingEnv(name.to_owned()));
    }
    if let Some(path) = rest.strip_prefix("file:") {
        let text = std::fs::read_to_string(path).map_err(|e| SecretError::File {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_owned());
    }
    Err(SecretError::Syntax(value.to_owned()))
}

/// Checks every `[[sinks]]` entry; errors name `sinks[N].key`.
pub(super) fn check(config: &Config, path: &Path) -> Result<(), ConfigError> {
    let mut names = BTreeSet::new();
    for (i, s) in config.sinks.iter().enumerate() {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            key: format!("sinks[{i}].{key}"),
            message,
        };
        if s.name.is_empty() {
            return Err(invalid("name", "every sink needs a name".into()));
        }
        if !names.insert(s.name.as_str()) {
            return Err(invalid(
                "name",
                format!("`{}` is used by two sinks; names must be unique", s.name),
            ));
        }
        if !SINK_TYPES.contains(&s.kind.as_str()) {
            return Err(invalid(
                "type",
                format!(
                    "`{}` is not a sink type; use one of {}",
                    s.kind,
                    SINK_TYPES.join(", ")
                ),
            ));
        }
        for k in &s.kinds {
            if !RECORD_KINDS.contains(&k.as_str()) {
                return Err(invalid(
                    "kinds",
                    format!(
                        "`{k}` is not a record kind; use {}",
                        RECORD_KINDS.join(", ")
                    ),
                ));
            }
        }
        for (key, v) in [
            ("queue", s.queue),
            ("batch_size", s.batch_size),
            ("max_attempts", s.max_attempts as usize),
            ("timeout_secs", s.timeout_secs as usize),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be at least 1".into()));
            }
        }
        if s.username.is_empty() != s.password.is_empty() {
            return Err(invalid(
                "password",
                "username and password go together: set both or neither".into(),
            ));
        }
        for (key, value) in [
            ("token", &s.token),
            ("password", &s.password),
            ("url", &s.url),
        ] {
            if is_secret_reference(value)
                && !value.starts_with("secret:env:")
                && !value.starts_with("secret:file:")
            {
                return Err(invalid(key, SecretError::Syntax(value.clone()).to_string()));
            }
        }
        match s.kind.as_str() {
            "jsonl" => {
                if s.path.as_os_str().is_empty() {
                    return Err(invalid(
                        "path",
                        "a jsonl sink needs the file to write".into(),
                    ));
                }
                if s.max_bytes == 0 {
                    return Err(invalid("max_bytes", "must be at least 1".into()));
                }
            }
            "webhook" | "alertmanager"
                if !(is_secret_reference(&s.url)
                    || s.url.starts_with("http://")
                    || s.url.starts_with("https://")) =>
            {
                return Err(invalid(
                    "url",
                    format!("`{}` is not an http:// or https:// URL", redact_url(&s.url)),
                ));
            }
            "syslog" => {
                if !SYSLOG_PROTOCOLS.contains(&s.protocol.as_str()) {
                    return Err(invalid(
                        "protocol",
                        format!("`{}` is not udp, tcp or tls", s.protocol),
                    ));
                }
                if s.address
                    .rsplit_once(':')
                    .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
                {
                    return Err(invalid(
                        "address",
                        format!("`{}` is not host:port, as in 127.0.0.1:514", s.address),
                    ));
                }
                if s.facility > 23 {
                    return Err(invalid("facility", "must be 0..=23".into()));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Replaces literal secrets of `[[sinks]]` with the redaction marker; references stay, since
/// they name where the secret is, not the secret.
pub(super) fn redact(config: &mut Config) {
    let hide = |v: &mut String| {
        if !v.is_empty() && !is_secret_reference(v) {
            *v = REDACTED.to_owned();
        }
    };
    for s in &mut config.sinks {
        hide(&mut s.token);
        hide(&mut s.password);
        for v in s.headers.values_mut() {
            hide(v);
        }
        if !is_secret_reference(&s.url) {
            s.url = redact_url(&s.url);
            // Chat webhooks carry their token in the path or query: show only scheme and host.
            if let Some(start) = s.url.find("://").map(|i| i + 3)
                && let Some(slash) = s.url[start..].find(['/', '?'])
                && s.url.len() > start + slash + 1
            {
                s.url.truncate(start + slash);
                s.url.push('/');
                s.url.push_str(REDACTED);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("t.toml"), Vec::new())
    }

    #[test]
    fn sinks_load_with_defaults_and_errors_name_the_entry() {
        let c = load("[[sinks]]\nname = \"file\"\ntype = \"jsonl\"\npath = \"/tmp/a.jsonl\"\n[[sinks]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"https://h/x\"\nmin_severity = \"high\"\n").unwrap();
        assert_eq!(c.sinks.len(), 2);
        assert_eq!(c.sinks[0].kinds, vec!["alert", "action", "finding"]);
        assert_eq!(c.sinks[1].min_severity, Severity::High);
        let e = load("[[sinks]]\nname = \"a\"\ntype = \"jsonl\"\n").unwrap_err();
        assert_eq!(e.key(), Some("sinks[0].path"));
        let e = load("[[sinks]]\nname = \"a\"\ntype = \"stdout\"\n[[sinks]]\nname = \"a\"\ntype = \"stdout\"\n").unwrap_err();
        assert_eq!(e.key(), Some("sinks[1].name"));
        let e = load("[[sinks]]\nname = \"a\"\ntype = \"pager\"\n").unwrap_err();
        assert_eq!(e.key(), Some("sinks[0].type"));
        let e = load("[[sinks]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"nowhere\"\n")
            .unwrap_err();
        assert_eq!(e.key(), Some("sinks[0].address"));
        let e =
            load("[[sinks]]\nname = \"a\"\ntype = \"webhook\"\nurl = \"ftp://x\"\n").unwrap_err();
        assert_eq!(e.key(), Some("sinks[0].url"));
        let e =
            load("[[sinks]]\nname = \"a\"\ntype = \"stdout\"\nkinds = [\"event\"]\n").unwrap_err();
        assert_eq!(e.key(), Some("sinks[0].kinds"));
        let e = load("[[sinks]]\nname = \"a\"\ntype = \"stdout\"\ntoken = \"secret:vault:x\"\n")
            .unwrap_err();
        assert_eq!(e.key(), Some("sinks[0].token"));
        assert!(load("[[sinks]]\nname = \"a\"\ntype = \"stdout\"\nlevel = 1\n").is_err());
    }

    #[test]
    fn secrets_resolve_from_env_and_files() {
        let env = |n: &str| (n == "HOOK_TOKEN").then(|| "t0k".to_owned());
        assert_eq!(resolve_secret_with("plain", env).unwrap(), "plain");
        assert_eq!(
            resolve_secret_with("secret:env:HOOK_TOKEN", env).unwrap(),
            "t0k"
        );
        assert_eq!(
            resolve_secret_with("secret:env:NOPE", env),
            Err(SecretError::MissingEnv("NOPE".into()))
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "hunter2\n").unwrap();
        let v = format!("secret:file:{}", f.display());
        assert_eq!(resolve_secret_with(&v, env).unwrap(), "hunter2");
        assert!(matches!(
            resolve_secret_with("secret:file:/nonexistent/x", env),
            Err(SecretError::File { .. })
        ));
        assert!(matches!(
            resolve_secret_with("secret:x", env),
            Err(SecretError::Syntax(_))
        ));
    }

    #[test]
    fn redaction_hides_literal_sink_secrets() {
        let c = load("[[sinks]]\nname = \"h\"\ntype = \"webhook\"\nurl = \"https://u:pw1@hooks.example/services/T000/XYZSECRET\"\ntoken = \"tok-literal\"\nusername = \"u\"\npassword = \"pw-literal\"\nheaders = { X-Api-Key = \"key-literal\" }\n[[sinks]]\nname = \"e\"\ntype = \"webhook\"\nurl = \"secret:env:HOOK_URL\"\ntoken = \"secret:env:HOOK_TOKEN\"\n").unwrap();
        let shown = c.to_redacted_toml();
        for secret in [
            "tok-literal",
            "pw-literal",
            "key-literal",
            "pw1",
            "XYZSECRET",
        ] {
            assert!(!shown.contains(secret), "{secret} shown in:\n{shown}");
        }
        assert!(shown.contains("secret:env:HOOK_TOKEN"), "{shown}");
        assert!(
            shown.contains("https://u:<redacted>@hooks.example/<redacted>"),
            "{shown}"
        );
    }
}
