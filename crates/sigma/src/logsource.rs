//! Log-source routing: which Sigma `logsource` each of our events carries, and how Sigma field
//! names map to ours.
//!
//! The mapping is a YAML file; the default one ([`DEFAULT_MAPPING`]) documents its own format
//! and can be extended with a user file through [`LogSourceMap::extend_yaml`].

use std::collections::{BTreeMap, HashMap};

use ironpost_core::{Event, FieldSource, FieldValue};
use serde::Deserialize;

use crate::error::MappingError;

/// The shipped mapping, with the documentation of its format in its comments.
pub const DEFAULT_MAPPING: &str = include_str!("logsources.yaml");

/// A Sigma log source: the three keys routing looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
pub struct LogSource {
    /// `product`, e.g. `linux`.
    #[serde(default)]
    pub product: Option<String>,
    /// `category`, e.g. `process_creation`.
    #[serde(default)]
    pub category: Option<String>,
    /// `service`, e.g. `sshd`.
    #[serde(default)]
    pub service: Option<String>,
}

impl LogSource {
    /// True when every key `rule` names is present here with the same value (ignoring case);
    /// our value `*` stands for any value (a catch-all entry).
    pub fn satisfies(&self, rule: &LogSource) -> bool {
        fn key(rule: &Option<String>, ours: &Option<String>) -> bool {
            match (rule, ours) {
                (None, _) => true,
                (Some(_), Some(o)) if o == "*" => true,
                (Some(r), Some(o)) => r.eq_ignore_ascii_case(o),
                (Some(_), None) => false,
            }
        }
        key(&rule.product, &self.product)
            && key(&rule.category, &self.category)
            && key(&rule.service, &self.service)
    }
}

impl std::fmt::Display for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (k, v) in [
            ("product", &self.product),
            ("category", &self.category),
            ("service", &self.service),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}: {v}"));
            }
        }
        write!(f, "{{{}}}", parts.join(", "))
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    name: String,
    logsource: LogSource,
    #[serde(default)]
    when: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    fields: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(default)]
    sources: Vec<EntryFile>,
    #[serde(default)]
    fields: HashMap<String, String>,
}

/// One mapping entry: events it matches, the log source they carry, field renames.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    /// The entry's name, shown in diagnostics.
    pub name: String,
    /// The Sigma log source of matching events.
    pub logsource: LogSource,
    kinds: Vec<&'static str>,
    /// Field name to accepted values (lowercased).
    when: Vec<(String, Vec<String>)>,
    fields: HashMap<String, String>,
}

impl SourceEntry {
    fn matches(&self, event: &Event) -> bool {
        if !self.kinds.is_empty() && !self.kinds.contains(&event.kind_name()) {
            return false;
        }
        self.when
            .iter()
            .all(|(field, values)| match event.field(field) {
                Some(FieldValue::Str(s)) => values.iter().any(|v| v.eq_ignore_ascii_case(s)),
                Some(other) => {
                    let t = other.to_string();
                    values.iter().any(|v| v.eq_ignore_ascii_case(&t))
                }
                None => false,
            })
    }
}

/// The whole mapping: entries in order plus top-level field renames.
#[derive(Debug, Clone)]
pub struct LogSourceMap {
    entries: Vec<SourceEntry>,
    fields: HashMap<String, String>,
    index: RouteIndex,
}

/// FNV-1a: routing looks up short service names per event, where SipHash's setup dominates.
#[derive(Debug, Clone, Copy, Default)]
struct Fnv;

#[derive(Debug, Clone, Copy)]
struct FnvHasher(u64);

impl std::hash::BuildHasher for Fnv {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

const KINDS: [&str; 4] = ["log", "process", "network", "container"];

/// Routing as bit masks: per event kind, and per `when` field a value → entries table, so an
/// event is routed with one lookup per field instead of one comparison per entry and value.
#[derive(Debug, Clone, Default)]
struct RouteIndex {
    kinds: [u64; 4],
    /// (field, lowercased value → entries accepting it, entries not constraining the field).
    fields: Vec<(String, HashMap<String, u64, Fnv>, u64)>,
}

impl RouteIndex {
    fn build(entries: &[SourceEntry]) -> RouteIndex {
        let mut index = RouteIndex::default();
        let n = entries.len().min(64);
        for (k, kind) in KINDS.iter().enumerate() {
            for (i, e) in entries.iter().enumerate().take(n) {
                if e.kinds.is_empty() || e.kinds.contains(kind) {
                    index.kinds[k] |= 1 << i;
                }
            }
        }
        let mut names: Vec<&str> = entries
            .iter()
            .take(n)
            .flat_map(|e| e.when.iter().map(|(f, _)| f.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let mut values: HashMap<String, u64, Fnv> = HashMap::default();
            let mut free = 0u64;
            for (i, e) in entries.iter().enumerate().take(n) {
                match e.when.iter().find(|(f, _)| f == name) {
                    Some((_, accepted)) => {
                        for v in accepted {
                            *values.entry(v.to_lowercase()).or_default() |= 1 << i;
                        }
                    }
                    None => free |= 1 << i,
                }
            }
            index.fields.push((name.to_owned(), values, free));
        }
        index
    }

    fn route(&self, event: &Event) -> u64 {
        let k = KINDS
            .iter()
            .position(|k| *k == event.kind_name())
            .unwrap_or(0);
        let mut mask = self.kinds[k];
        for (name, values, free) in &self.fields {
            if mask == 0 {
                break;
            }
            let hit = match event.field(name) {
                Some(FieldValue::Str(s)) => match values.get(s) {
                    Some(m) => *m,
                    None if s.chars().any(char::is_uppercase) => {
                        values.get(&s.to_lowercase()).copied().unwrap_or(0)
                    }
                    None => 0,
                },
                Some(FieldValue::Null) | None => 0,
                Some(other) => values
                    .get(&other.to_string().to_lowercase())
                    .copied()
                    .unwrap_or(0),
            };
            mask &= hit | free;
        }
        mask
    }
}

/// Recent routes by (event kind, values of the fields routing reads): an event stream repeats a
/// handful of (kind, service, format) combinations, and comparing a few short strings costs
/// less than hashing them into the index again.
#[derive(Debug, Default)]
pub(crate) struct RouteCache {
    /// (kind index, the text of each index field or `None` when absent, mask).
    entries: Vec<(usize, Vec<Option<String>>, u64)>,
    /// The entry the next miss replaces once the cache is full.
    next: usize,
}

/// Entries kept by a [`RouteCache`].
const ROUTE_CACHE_SIZE: usize = 8;

impl LogSourceMap {
    /// [`LogSourceMap::route`] through `cache`; the two always agree.
    pub(crate) fn route_cached(&self, event: &Event, cache: &mut RouteCache) -> u64 {
        let kind = KINDS
            .iter()
            .position(|k| *k == event.kind_name())
            .unwrap_or(0);
        let fields = &self.index.fields;
        // The values routing reads, fetched once; the cache serves mappings that route on at
        // most four fields and text values only (other values are formatted for routing).
        let mut probe: [Option<&str>; 4] = [None; 4];
        if fields.len() > probe.len() {
            return self.route(event);
        }
        for ((name, _, _), slot) in fields.iter().zip(&mut probe) {
            *slot = match event.field(name) {
                Some(FieldValue::Str(s)) => Some(s),
                Some(FieldValue::Null) | None => None,
                Some(_) => return self.route(event),
            };
        }
        let probe = &probe[..fields.len()];
        let hit = cache.entries.iter().find(|(k, values, _)| {
            *k == kind && values.iter().zip(probe).all(|(v, p)| v.as_deref() == *p)
        });
        if let Some(&(_, _, mask)) = hit {
            debug_assert_eq!(mask, self.route(event), "route cache disagrees");
            return mask;
        }
        let mask = self.route(event);
        let values = probe.iter().map(|v| v.map(str::to_owned)).collect();
        if cache.entries.len() < ROUTE_CACHE_SIZE {
            cache.entries.push((kind, values, mask));
        } else {
            cache.entries[cache.next] = (kind, values, mask);
            cache.next = (cache.next + 1) % ROUTE_CACHE_SIZE;
        }
        mask
    }

    /// The shipped mapping.
    pub fn default_map() -> LogSourceMap {
        let mut map = LogSourceMap {
            entries: Vec::new(),
            fields: HashMap::new(),
            index: RouteIndex::default(),
        };
        // The shipped file is tested; a failure here is a build defect, not a user error.
        map.extend_yaml(DEFAULT_MAPPING, "<default logsources.yaml>")
            .unwrap_or_else(|e| panic!("the shipped log-source mapping is broken: {e}"));
        map
    }

    /// A mapping made only of the given file (without the shipped entries).
    pub fn from_yaml(text: &str, path: &str) -> Result<LogSourceMap, MappingError> {
        let mut map = LogSourceMap {
            entries: Vec::new(),
            fields: HashMap::new(),
            index: RouteIndex::default(),
        };
        map.extend_yaml(text, path)?;
        Ok(map)
    }

    /// Adds the entries and field renames of a mapping file (same format as the default).
    pub fn extend_yaml(&mut self, text: &str, path: &str) -> Result<(), MappingError> {
        let file: MappingFile =
            serde_yaml::from_str(text).map_err(|source| MappingError::Yaml {
                path: path.to_owned(),
                source,
            })?;
        for (index, e) in file.sources.into_iter().enumerate() {
            let mut kinds = Vec::new();
            let mut when = Vec::new();
            for (k, v) in e.when {
                if k == "kind" {
                    for kind in v.into_vec() {
                        let known = ["log", "process", "network", "container"]
                            .into_iter()
                            .find(|k| k.eq_ignore_ascii_case(&kind))
                            .ok_or_else(|| MappingError::UnknownKind {
                                path: path.to_owned(),
                                index,
                                kind: kind.clone(),
                            })?;
                        kinds.push(known);
                    }
                } else {
                    when.push((k, v.into_vec()));
                }
            }
            self.entries.push(SourceEntry {
                name: e.name,
                logsource: e.logsource,
                kinds,
                when,
                fields: e.fields,
            });
        }
        self.fields.extend(file.fields);
        self.index = RouteIndex::build(&self.entries);
        Ok(())
    }

    /// The entries, in order.
    pub fn entries(&self) -> &[SourceEntry] {
        &self.entries
    }

    /// A bit set of the entries `event` matches (bit i = entry i; at most 64 entries route).
    pub(crate) fn route(&self, event: &Event) -> u64 {
        let mask = self.index.route(event);
        debug_assert_eq!(
            mask,
            self.route_slow(event),
            "route index disagrees with the entries"
        );
        mask
    }

    /// Routing by testing every entry, the reference the index must agree with.
    fn route_slow(&self, event: &Event) -> u64 {
        let mut mask = 0u64;
        for (i, e) in self.entries.iter().enumerate().take(64) {
            if e.matches(event) {
                mask |= 1 << i;
            }
        }
        mask
    }

    /// Our name of the Sigma field `name` under entry `entry`.
    pub(crate) fn field_name(&self, entry: usize, name: &str) -> String {
        self.entries
            .get(entry)
            .and_then(|e| e.fields.get(name))
            .or_else(|| self.fields.get(name))
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    }
}

impl Default for LogSourceMap {
    fn default() -> Self {
        LogSourceMap::default_map()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironpost_core::event::LogRecord;

    #[test]
    fn default_mapping_routes_sshd_lines() {
        let map = LogSourceMap::default_map();
        let mut rec = LogRecord::new("auth", "rfc3164", "Failed password");
        rec.service = Some("sshd".into());
        let mask = map.route(&Event::Log(rec));
        let names: Vec<&str> = map
            .entries()
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, e)| e.name.as_str())
            .collect();
        assert_eq!(names, vec!["sshd", "auth", "syslog"]);
        let rule = LogSource {
            product: Some("linux".into()),
            service: Some("sshd".into()),
            category: None,
        };
        assert!(map.entries()[0].logsource.satisfies(&rule));
        assert!(!map.entries()[1].logsource.satisfies(&rule));
    }

    #[test]
    fn cached_routes_equal_uncached_ones() {
        use ironpost_core::event::ProcessEvent;
        let map = LogSourceMap::default_map();
        let log = |service: Option<&str>, format: &str| {
            let mut rec = LogRecord::new("auth", format, "m");
            rec.service = service.map(Into::into);
            Event::Log(rec)
        };
        let mut events = vec![
            log(Some("sshd"), "rfc3164"),
            log(Some("SSHD"), "rfc3164"),
            log(Some("sshd"), "auditd"),
            log(Some("cron"), "rfc5424"),
            log(Some("crond"), "rfc3164"),
            log(None, "rfc3164"),
            log(None, "auditd"),
            log(Some("sudo"), "json"),
            log(Some("nginx"), "access_log"),
            log(Some("su"), "rfc3164"),
            log(Some("useradd"), "rfc3164"),
        ];
        // A non-text value of a routing field is routed without the cache.
        let mut rec = LogRecord::new("auth", "rfc3164", "m");
        rec.fields.insert("service", 5i64);
        events.push(Event::Log(rec));
        events.push(Event::Process(ProcessEvent {
            timestamp: chrono::Utc::now(),
            pid: 1,
            ppid: 0,
            uid: 0,
            gid: 0,
            user: None,
            image: "/bin/true".into(),
            argv: Vec::new(),
            argv_truncated: false,
            command_line: String::new(),
            cwd: None,
            parent_image: None,
            parent_command_line: None,
            cgroup_id: 0,
            container: None,
        }));
        // More distinct keys than the cache holds, twice over, so entries are both hit and
        // replaced.
        let mut cache = RouteCache::default();
        for _ in 0..3 {
            for e in &events {
                assert_eq!(map.route_cached(e, &mut cache), map.route(e), "{e:?}");
            }
        }
    }

    #[test]
    fn user_mapping_extends_and_rejects_unknown_kinds() {
        let mut map = LogSourceMap::default_map();
        let n = map.entries().len();
        map.extend_yaml("sources:\n  - name: app\n    logsource: {product: myapp}\n    when: {kind: log, source: app}\n", "u.yaml")
            .unwrap();
        assert_eq!(map.entries().len(), n + 1);
        let err = map
            .extend_yaml(
                "sources:\n  - name: x\n    logsource: {product: p}\n    when: {kind: packet}\n",
                "u.yaml",
            )
            .unwrap_err();
        assert!(err.to_string().contains("unknown kind `packet`"), "{err}");
    }
}
