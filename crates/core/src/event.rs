//! The event model: what sensors observe, and the one interface detection reads it through.
//!
//! Four kinds of event exist: [`LogRecord`], [`ProcessEvent`], [`NetworkEvent`] and
//! [`ContainerEvent`]. Each implements [`FieldSource`], which answers a field by name with a
//! borrowed [`FieldValue`], so the Sigma engine never copies an event into a map to evaluate it.
//!
//! A [`LogRecord`]'s short texts (source, format, host, service, field names and text values)
//! are [`CompactString`]s, stored inline up to 24 bytes: a parsed line allocates its message and
//! its field vector, not one `String` per name and value. They serialize as plain strings.

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The text type of a log record's short texts and field values: inline up to 24 bytes.
pub use compact_str::CompactString;

/// A borrowed view of one field of an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// Text.
    Str(&'a str),
    /// A signed integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// An IP address.
    Ip(IpAddr),
    /// An explicit null (the field exists but has no value).
    Null,
}

impl FieldValue<'_> {
    /// The value as text, if it is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an integer, parsing text when it holds one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            FieldValue::Int(i) => Some(*i),
            FieldValue::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            FieldValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a float, parsing text when it holds a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            FieldValue::Int(i) => Some(*i as f64),
            FieldValue::Float(f) => Some(*f),
            FieldValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

impl fmt::Display for FieldValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Str(s) => f.write_str(s),
            FieldValue::Int(i) => write!(f, "{i}"),
            FieldValue::Float(x) => write!(f, "{x}"),
            FieldValue::Bool(b) => write!(f, "{b}"),
            FieldValue::Ip(ip) => write!(f, "{ip}"),
            FieldValue::Null => Ok(()),
        }
    }
}

/// Read access to the fields of an event by name.
///
/// Names are case-sensitive and follow the documented field names of each event kind
/// (docs/architecture.md). Implementations must not allocate on [`FieldSource::field`].
pub trait FieldSource {
    /// The value of the field `name`, or `None` when the event has no such field.
    fn field(&self, name: &str) -> Option<FieldValue<'_>>;

    /// Calls `visit` for every field the event has, in a stable order.
    fn for_each_field(&self, visit: &mut dyn FnMut(&str, FieldValue<'_>));

    /// The free text that Sigma keyword searches look in (a log line's message, a command line).
    fn keyword_text(&self) -> Option<&str>;
}

/// An owned field value, as stored in a log record's extracted fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Str(CompactString),
    /// Null.
    Null,
}

impl Value {
    /// A borrowed view of this value.
    pub fn view(&self) -> FieldValue<'_> {
        match self {
            Value::Bool(b) => FieldValue::Bool(*b),
            Value::Int(i) => FieldValue::Int(*i),
            Value::Float(f) => FieldValue::Float(*f),
            Value::Str(s) => FieldValue::Str(s),
            Value::Null => FieldValue::Null,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(CompactString::new(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(CompactString::from(s))
    }
}

impl From<CompactString> for Value {
    fn from(s: CompactString) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

/// Named fields extracted from a record, in insertion order.
///
/// A small vector: records carry a handful of fields, and a linear scan over them is faster
/// than hashing the name. A name known at compile time is best built there, once
/// ([`CompactString::const_new`] in a `const` or `static`): called at run time, `const_new`
/// copies a short name byte by byte.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fields(Vec<(CompactString, Value)>);

impl Fields {
    /// An empty set of fields.
    pub fn new() -> Self {
        Fields(Vec::new())
    }

    /// Sets `name` to `value`, replacing an earlier value of the same name.
    pub fn insert(&mut self, name: impl Into<CompactString>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// Fields from a vector whose names are already distinct (a parser's field buffer), which
    /// [`Fields::insert`] would compare one by one. A name held twice would stay twice: debug
    /// builds panic on it.
    #[inline]
    pub fn from_distinct(fields: Vec<(CompactString, Value)>) -> Self {
        debug_assert!(
            fields
                .iter()
                .enumerate()
                .all(|(k, (n, _))| fields[..k].iter().all(|(m, _)| m != n)),
            "a field name is held twice: build the fields with Fields::insert"
        );
        Fields(fields)
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Iterates over the fields in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The container an event happened in, when known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRef {
    /// The full container id.
    pub id: String,
    /// The container name, without the leading slash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The image the container runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// One log line or log record, parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// When the event happened, as the record says (or when it was received, if it says nothing).
    pub timestamp: DateTime<Utc>,
    /// When Ironpost received it.
    pub received: DateTime<Utc>,
    /// The name of the configured source it came from (`auth`, `syslog-udp`, ...).
    pub source: CompactString,
    /// The format it was parsed as (`rfc5424`, `rfc3164`, `auditd`, `json`, ...).
    pub format: CompactString,
    /// The host name the record names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<CompactString>,
    /// The service (program, app name) that wrote it, used by log-source routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<CompactString>,
    /// The process id of the writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Syslog facility, 0..=23.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility: Option<u8>,
    /// Syslog severity, 0..=7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<u8>,
    /// The free-text message.
    pub message: String,
    /// Fields extracted by the parser and by normalization.
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub fields: Fields,
    /// The container the record came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerRef>,
}

impl LogRecord {
    /// A record with only a message, received now from `source`.
    pub fn new(
        source: impl Into<CompactString>,
        format: impl Into<CompactString>,
        message: impl Into<String>,
    ) -> Self {
        let now = Utc::now();
        LogRecord {
            timestamp: now,
            received: now,
            source: source.into(),
            format: format.into(),
            hostname: None,
            service: None,
            pid: None,
            facility: None,
            severity: None,
            message: message.into(),
            fields: Fields::new(),
            container: None,
        }
    }
}

fn opt_str<S: std::ops::Deref<Target = str>>(v: &Option<S>) -> Option<FieldValue<'_>> {
    v.as_deref().map(FieldValue::Str)
}

impl FieldSource for LogRecord {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        match name {
            "message" => Some(FieldValue::Str(&self.message)),
            "source" => Some(FieldValue::Str(&self.source)),
            "format" => Some(FieldValue::Str(&self.format)),
            "hostname" => opt_str(&self.hostname),
            "service" => opt_str(&self.service),
            "pid" => self.pid.map(|p| FieldValue::Int(p as i64)),
            "facility" => self.facility.map(|p| FieldValue::Int(p as i64)),
            "severity" => self.severity.map(|p| FieldValue::Int(p as i64)),
            "container.id" => self.container.as_ref().map(|c| FieldValue::Str(&c.id)),
            "container.name" => self.container.as_ref().and_then(|c| opt_str(&c.name)),
            "container.image" => self.container.as_ref().and_then(|c| opt_str(&c.image)),
            other => self.fields.get(other).map(Value::view),
        }
    }

    fn for_each_field(&self, visit: &mut dyn FnMut(&str, FieldValue<'_>)) {
        for name in [
            "message",
            "source",
            "format",
            "hostname",
            "service",
            "pid",
            "facility",
            "severity",
            "container.id",
            "container.name",
            "container.image",
        ] {
            if let Some(v) = self.field(name) {
                visit(name, v);
            }
        }
        for (name, value) in self.fields.iter() {
            visit(name, value.view());
        }
    }

    fn keyword_text(&self) -> Option<&str> {
        Some(&self.message)
    }
}

/// One process execution.
///
/// Field names follow Sigma's `process_creation` taxonomy (`Image`, `CommandLine`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessEvent {
    /// When the exec happened.
    pub timestamp: DateTime<Utc>,
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Real user id.
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// User name of `uid`, when resolvable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Path of the executable.
    pub image: String,
    /// The argument vector, possibly truncated.
    pub argv: Vec<String>,
    /// True when `argv` was cut at the configured bound.
    #[serde(default)]
    pub argv_truncated: bool,
    /// The arguments joined by spaces.
    pub command_line: String,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Path of the parent's executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_image: Option<String>,
    /// The parent's command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_command_line: Option<String>,
    /// The cgroup id (kernfs inode) of the process.
    #[serde(default)]
    pub cgroup_id: u64,
    /// The container the process runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerRef>,
}

impl FieldSource for ProcessEvent {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        match name {
            "Image" => Some(FieldValue::Str(&self.image)),
            "CommandLine" => Some(FieldValue::Str(&self.command_line)),
            "ParentImage" => opt_str(&self.parent_image),
            "ParentCommandLine" => opt_str(&self.parent_command_line),
            "User" => opt_str(&self.user),
            "CurrentDirectory" => opt_str(&self.cwd),
            "ProcessId" => Some(FieldValue::Int(self.pid as i64)),
            "ParentProcessId" => Some(FieldValue::Int(self.ppid as i64)),
            "uid" => Some(FieldValue::Int(self.uid as i64)),
            "gid" => Some(FieldValue::Int(self.gid as i64)),
            "cgroup_id" => Some(FieldValue::Int(self.cgroup_id as i64)),
            "container.id" => self.container.as_ref().map(|c| FieldValue::Str(&c.id)),
            "container.name" => self.container.as_ref().and_then(|c| opt_str(&c.name)),
            "container.image" => self.container.as_ref().and_then(|c| opt_str(&c.image)),
            _ => None,
        }
    }

    fn for_each_field(&self, visit: &mut dyn FnMut(&str, FieldValue<'_>)) {
        for name in [
            "Image",
            "CommandLine",
            "ParentImage",
            "ParentCommandLine",
            "User",
            "CurrentDirectory",
            "ProcessId",
            "ParentProcessId",
            "uid",
            "gid",
            "cgroup_id",
            "container.id",
            "container.name",
            "container.image",
        ] {
            if let Some(v) = self.field(name) {
                visit(name, v);
            }
        }
    }

    fn keyword_text(&self) -> Option<&str> {
        Some(&self.command_line)
    }
}

/// What a network observation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkEventKind {
    /// A source touched more distinct destination ports than the threshold within the window.
    PortScan,
    /// A source sent more SYNs than the threshold within the window.
    SynFlood,
    /// Traffic from a blocklisted source was seen (first hit per cooldown).
    BlockedSource,
    /// A plain flow observation.
    Flow,
}

impl NetworkEventKind {
    /// The snake_case name, as in field values and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkEventKind::PortScan => "port_scan",
            NetworkEventKind::SynFlood => "syn_flood",
            NetworkEventKind::BlockedSource => "blocked_source",
            NetworkEventKind::Flow => "flow",
        }
    }
}

/// A network observation from the XDP sensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkEvent {
    /// When it was observed.
    pub timestamp: DateTime<Utc>,
    /// What was observed.
    pub kind: NetworkEventKind,
    /// Source address.
    pub src_ip: IpAddr,
    /// Destination address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_ip: Option<IpAddr>,
    /// Source port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    /// Destination port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u16>,
    /// IP protocol name (`tcp`, `udp`, `icmp`, ...).
    pub protocol: String,
    /// The count behind the observation (SYNs, distinct ports, packets).
    #[serde(default)]
    pub count: u64,
    /// The interface it was seen on.
    pub interface: String,
    /// The container owning the source or destination address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerRef>,
}

impl FieldSource for NetworkEvent {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        match name {
            "kind" => Some(FieldValue::Str(self.kind.as_str())),
            "src_ip" => Some(FieldValue::Ip(self.src_ip)),
            "dst_ip" => self.dst_ip.map(FieldValue::Ip),
            "src_port" => self.src_port.map(|p| FieldValue::Int(p as i64)),
            "dst_port" => self.dst_port.map(|p| FieldValue::Int(p as i64)),
            "protocol" => Some(FieldValue::Str(&self.protocol)),
            "count" => Some(FieldValue::Int(self.count as i64)),
            "interface" => Some(FieldValue::Str(&self.interface)),
            "container.id" => self.container.as_ref().map(|c| FieldValue::Str(&c.id)),
            "container.name" => self.container.as_ref().and_then(|c| opt_str(&c.name)),
            _ => None,
        }
    }

    fn for_each_field(&self, visit: &mut dyn FnMut(&str, FieldValue<'_>)) {
        for name in [
            "kind",
            "src_ip",
            "dst_ip",
            "src_port",
            "dst_port",
            "protocol",
            "count",
            "interface",
            "container.id",
            "container.name",
        ] {
            if let Some(v) = self.field(name) {
                visit(name, v);
            }
        }
    }

    fn keyword_text(&self) -> Option<&str> {
        None
    }
}

/// A container lifecycle change from the Docker events stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerEvent {
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// The container.
    pub container: ContainerRef,
    /// The Docker action (`start`, `die`, `pause`, `network_disconnect`, ...).
    pub action: String,
    /// The container's labels.
    #[serde(default, skip_serializing_if = "Fields::is_empty")]
    pub labels: Fields,
}

impl FieldSource for ContainerEvent {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        match name {
            "action" => Some(FieldValue::Str(&self.action)),
            "container.id" => Some(FieldValue::Str(&self.container.id)),
            "container.name" => opt_str(&self.container.name),
            "container.image" => opt_str(&self.container.image),
            other => other
                .strip_prefix("label.")
                .and_then(|l| self.labels.get(l))
                .map(Value::view),
        }
    }

    fn for_each_field(&self, visit: &mut dyn FnMut(&str, FieldValue<'_>)) {
        for name in [
            "action",
            "container.id",
            "container.name",
            "container.image",
        ] {
            if let Some(v) = self.field(name) {
                visit(name, v);
            }
        }
        for (name, value) in self.labels.iter() {
            visit(&format!("label.{name}"), value.view());
        }
    }

    fn keyword_text(&self) -> Option<&str> {
        None
    }
}

/// Anything a sensor observed.
///
/// Serialized with an `event` tag (`log`, `process`, `network`, `container`) beside the event's
/// own fields; the tag is not `kind`, which a network event uses for what it observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A log record.
    Log(LogRecord),
    /// A process execution.
    Process(ProcessEvent),
    /// A network observation.
    Network(NetworkEvent),
    /// A container lifecycle change.
    Container(ContainerEvent),
}

impl Event {
    /// When the event happened.
    pub fn timestamp(&self) -> DateTime<Utc> {
        match self {
            Event::Log(e) => e.timestamp,
            Event::Process(e) => e.timestamp,
            Event::Network(e) => e.timestamp,
            Event::Container(e) => e.timestamp,
        }
    }

    /// The container the event is attributed to, when known.
    pub fn container(&self) -> Option<&ContainerRef> {
        match self {
            Event::Log(e) => e.container.as_ref(),
            Event::Process(e) => e.container.as_ref(),
            Event::Network(e) => e.container.as_ref(),
            Event::Container(e) => Some(&e.container),
        }
    }

    /// The kind name: `log`, `process`, `network` or `container`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Event::Log(_) => "log",
            Event::Process(_) => "process",
            Event::Network(_) => "network",
            Event::Container(_) => "container",
        }
    }
}

impl FieldSource for Event {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        match self {
            Event::Log(e) => e.field(name),
            Event::Process(e) => e.field(name),
            Event::Network(e) => e.field(name),
            Event::Container(e) => e.field(name),
        }
    }

    fn for_each_field(&self, visit: &mut dyn FnMut(&str, FieldValue<'_>)) {
        match self {
            Event::Log(e) => e.for_each_field(visit),
            Event::Process(e) => e.for_each_field(visit),
            Event::Network(e) => e.for_each_field(visit),
            Event::Container(e) => e.for_each_field(visit),
        }
    }

    fn keyword_text(&self) -> Option<&str> {
        match self {
            Event::Log(e) => e.keyword_text(),
            Event::Process(e) => e.keyword_text(),
            Event::Network(e) => e.keyword_text(),
            Event::Container(e) => e.keyword_text(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_fields_are_reachable_by_name() {
        let mut rec = LogRecord::new("auth", "rfc3164", "Failed password for root");
        rec.service = Some("sshd".into());
        rec.fields.insert("user", "root");
        rec.fields.insert("src_port", 22i64);
        let ev = Event::Log(rec);
        assert_eq!(ev.field("service"), Some(FieldValue::Str("sshd")));
        assert_eq!(ev.field("user"), Some(FieldValue::Str("root")));
        assert_eq!(ev.field("src_port").and_then(|v| v.as_i64()), Some(22));
        assert_eq!(ev.field("nope"), None);
        assert_eq!(ev.keyword_text(), Some("Failed password for root"));
        let mut names = Vec::new();
        ev.for_each_field(&mut |n, _| names.push(n.to_owned()));
        assert!(names.contains(&"user".to_owned()));
    }

    #[test]
    fn process_fields_follow_sigma_taxonomy() {
        let ev = ProcessEvent {
            timestamp: Utc::now(),
            pid: 10,
            ppid: 1,
            uid: 0,
            gid: 0,
            user: Some("root".into()),
            image: "/usr/bin/base64".into(),
            argv: vec!["base64".into(), "-d".into()],
            argv_truncated: false,
            command_line: "base64 -d".into(),
            cwd: Some("/tmp".into()),
            parent_image: Some("/bin/sh".into()),
            parent_command_line: None,
            cgroup_id: 5,
            container: None,
        };
        assert_eq!(ev.field("Image"), Some(FieldValue::Str("/usr/bin/base64")));
        assert_eq!(ev.field("ParentProcessId"), Some(FieldValue::Int(1)));
        assert_eq!(ev.field("ParentCommandLine"), None);
    }

    #[test]
    fn a_network_event_round_trips_with_its_own_kind() {
        let ev = Event::Network(NetworkEvent {
            timestamp: Utc::now(),
            kind: NetworkEventKind::PortScan,
            src_ip: "192.0.2.7".parse().unwrap(),
            dst_ip: None,
            src_port: None,
            dst_port: Some(22),
            protocol: "tcp".into(),
            count: 100,
            interface: "eth0".into(),
            container: None,
        });
        let text = serde_json::to_string(&ev).unwrap();
        assert!(
            text.contains("\"event\":\"network\"") && text.contains("\"kind\":\"port_scan\""),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), ev);
    }

    #[test]
    fn log_record_json_is_plain_strings_whatever_their_length() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut rec = LogRecord::new("auth", "rfc3164", "Accepted password for root");
        rec.timestamp = at;
        rec.received = at;
        // 25 bytes: one more than a CompactString holds inline.
        rec.hostname = Some("calvisitor-10-105-162-105".into());
        rec.service = Some("sshd".into());
        rec.fields.insert("user", "root");
        rec.fields
            .insert("program", "a-program-name-of-30-bytes-xyz");
        rec.fields.insert("src_port", 22i64);
        rec.fields.insert("invalid_user", Value::Bool(false));
        let text = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"timestamp":"2023-11-14T22:13:20Z","received":"2023-11-14T22:13:20Z","#,
                r#""source":"auth","format":"rfc3164","hostname":"calvisitor-10-105-162-105","#,
                r#""service":"sshd","message":"Accepted password for root","fields":[["user","root"],"#,
                r#"["program","a-program-name-of-30-bytes-xyz"],["src_port",22],["invalid_user",false]]}"#
            )
        );
        assert_eq!(serde_json::from_str::<LogRecord>(&text).unwrap(), rec);
    }

    #[test]
    fn events_round_trip_through_json() {
        let ev = Event::Log(LogRecord::new("s", "json", "m"));
        let text = serde_json::to_string(&ev).unwrap();
        assert!(text.contains("\"event\":\"log\""));
        let back: Event = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ev);
    }
}
