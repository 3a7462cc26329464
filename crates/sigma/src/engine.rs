//! The runtime: routes each event to the rules of its log sources, evaluates them, feeds
//! correlations and hands alerts to a sink after suppression.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use ironpost_core::alert::MAX_EVIDENCE;
use ironpost_core::{Alert, AlertId, Attribution, Event, FieldSource, FieldValue};

use crate::correlation::{CorrelationState, Fired};
use crate::logsource::{LogSourceMap, RouteCache};
use crate::matcher::Scratch;
use crate::prefilter::{FieldScan, Owner, Prefilter};
use crate::rule::{CorrelationRule, CorrelationType, Detection, DetectionRule, RuleMeta};

/// How the engine evaluates, suppresses and bounds its state.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// After an alert for (rule, group key), further alerts for the same pair within this many
    /// seconds of event time are suppressed and counted (0: never suppress).
    pub suppression_secs: u64,
    /// The most bytes correlation windows may hold (estimated); beyond it the least recently
    /// used group is evicted and counted.
    pub correlation_memory_bytes: usize,
    /// Values of `%name%` placeholders for the `expand` modifier.
    pub placeholders: HashMap<String, Vec<String>>,
    /// The host name put in alert attributions.
    pub host: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            suppression_secs: 300,
            correlation_memory_bytes: 64 * 1024 * 1024,
            placeholders: HashMap::new(),
            host: String::new(),
        }
    }
}

/// An alert with the event time of its last evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct SigmaAlert {
    /// The alert.
    pub alert: Alert,
    /// Event time of the last event the alert covers.
    pub last_seen: DateTime<Utc>,
}

/// Counters the daemon exports as metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Events processed.
    pub events: u64,
    /// Events no log source carries (no rule can run on them).
    pub unrouted: u64,
    /// Rule matches (before suppression and correlation).
    pub matches: u64,
    /// Alerts handed to the sink.
    pub alerts: u64,
    /// Alerts suppressed.
    pub suppressed: u64,
    /// Correlation groups evicted to stay under the memory cap.
    pub correlation_evictions: u64,
    /// Correlation groups held now.
    pub correlation_groups: u64,
    /// Estimated bytes held by correlation groups.
    pub correlation_bytes: u64,
}

/// What a correlation reference resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Rule(usize),
    Correlation(usize),
}

/// A detection rule compiled for each event source it routes to.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub meta: RuleMeta,
    variants: Vec<Detection>,
    /// (entry, variant index) for each mapping entry the rule routes to.
    routes: Vec<(usize, usize)>,
    /// Referenced by a correlation that does not `generate` it: no alerts of its own.
    pub silent: bool,
    /// (correlation, step) pairs this rule's matches feed.
    pub feeds: Vec<(usize, usize)>,
}

impl CompiledRule {
    pub(crate) fn compile(
        rule: DetectionRule,
        entries: Vec<usize>,
        map: &LogSourceMap,
        placeholders: &HashMap<String, Vec<String>>,
    ) -> CompiledRule {
        let mut variants = Vec::new();
        let mut by_naming: Vec<(Vec<String>, usize)> = Vec::new();
        let mut routes = Vec::new();
        let fields: Vec<String> = rule.detection.fields().map(str::to_owned).collect();
        for e in entries {
            let naming: Vec<String> = fields.iter().map(|f| map.field_name(e, f)).collect();
            let v = match by_naming.iter().find(|(n, _)| *n == naming) {
                Some((_, v)) => *v,
                None => {
                    // The same detection compiled before loading; it cannot fail differently
                    // here except through renamed fields, which cannot fail.
                    let Ok(d) = rule
                        .detection
                        .compile(&|n| map.field_name(e, n), placeholders)
                    else {
                        continue;
                    };
                    variants.push(d);
                    by_naming.push((naming, variants.len() - 1));
                    variants.len() - 1
                }
            };
            routes.push((e, v));
        }
        CompiledRule {
            meta: rule.meta,
            variants,
            routes,
            silent: false,
            feeds: Vec::new(),
        }
    }
}

/// A correlation rule with its links.
#[derive(Debug)]
pub(crate) struct CompiledCorrelation {
    pub rule: CorrelationRule,
    /// Per step, per group-by field: the field to read for that step's matches.
    group_fields: Vec<Vec<String>>,
    value_field: Option<String>,
    pub feeds: Vec<(usize, usize)>,
}

impl CompiledCorrelation {
    pub(crate) fn new(rule: CorrelationRule, map: &LogSourceMap) -> CompiledCorrelation {
        let group_fields = rule
            .rules
            .iter()
            .map(|reference| {
                rule.group_by
                    .iter()
                    .map(|g| {
                        let f = rule
                            .aliases
                            .get(g)
                            .and_then(|a| a.get(reference))
                            .unwrap_or(g);
                        map.field_name(usize::MAX, f)
                    })
                    .collect()
            })
            .collect();
        let value_field = rule.field.as_deref().map(|f| map.field_name(usize::MAX, f));
        CompiledCorrelation {
            rule,
            group_fields,
            value_field,
            feeds: Vec::new(),
        }
    }
}

/// Where a correlation step reads its group-by values.
enum GroupSource<'a> {
    Event(&'a Event),
    Upstream(&'a BTreeMap<String, String>),
}

fn field_text(event: &Event, name: &str) -> Option<String> {
    match event.field(name)? {
        FieldValue::Null => None,
        v => Some(v.to_string()),
    }
}

fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn from_nanos(n: i64) -> DateTime<Utc> {
    Utc.timestamp_nanos(n)
}

fn attribution(host: &str, event: Option<&Event>) -> Attribution {
    let mut a = Attribution {
        host: host.to_owned(),
        ..Attribution::default()
    };
    let Some(e) = event else { return a };
    if let Some(c) = e.container() {
        a.container_id = Some(c.id.clone());
        a.container_name = c.name.clone();
    }
    let ip = |names: &[&str]| {
        names.iter().find_map(|n| match e.field(n)? {
            FieldValue::Ip(ip) => Some(ip),
            FieldValue::Str(s) => s.parse::<IpAddr>().ok(),
            _ => None,
        })
    };
    a.src_ip = ip(&["src_ip", "c-ip", "rhost", "SourceIp"]);
    a.dst_ip = ip(&["dst_ip", "DestinationIp"]);
    a.user = ["user", "User", "TargetUserName"]
        .iter()
        .find_map(|n| field_text(e, n));
    a.process = ["Image", "exe", "comm"]
        .iter()
        .find_map(|n| field_text(e, n))
        .or_else(|| field_text(e, "service"));
    a
}

/// Fields that name who or what a single-event alert is about, by kind of value: the first
/// present field of each list joins the alert's group, so suppression holds back repeats from
/// the same source, user, program and container, not every match of the rule.
const SINGLE_EVENT_GROUP: [&[&str]; 4] = [
    &["src_ip", "c-ip", "rhost", "SourceIp"],
    &["user", "User", "TargetUserName"],
    &["Image"],
    &["container.id"],
];

fn single_event_group(event: &Event) -> BTreeMap<String, String> {
    let mut group = BTreeMap::new();
    for names in SINGLE_EVENT_GROUP {
        if let Some((name, value)) = names
            .iter()
            .find_map(|n| field_text(event, n).map(|v| (*n, v)))
        {
            group.insert(name.to_owned(), value);
        }
    }
    group
}

/// The Sigma engine: immutable compiled rules plus mutable correlation and suppression state.
pub struct Engine {
    map: LogSourceMap,
    config: EngineConfig,
    rules: Vec<CompiledRule>,
    corrs: Vec<CompiledCorrelation>,
    /// Plans per routing mask; an event stream sees a handful of masks, so a scan beats hashing.
    plans: Vec<(u64, Arc<Plan>)>,
    /// Per plan position, the clause bits of its prefilter hit by the current event; all zero
    /// between events.
    hits: Vec<u64>,
    /// The positions of `hits` the current event touched.
    touched: Vec<u32>,
    /// The plan positions to evaluate for the current event, in plan order.
    candidates: Vec<u32>,
    /// Recent routes, so that repeated (kind, service, format) combinations skip the index.
    route_cache: RouteCache,
    /// Merged keyword-and-field scans by (plan mask, field scan index), built on first use.
    merged: Vec<(MergedKey, Option<Arc<FieldScan>>)>,
    scratch: Scratch,
    matched: Vec<usize>,
    state: CorrelationState,
    suppress: HashMap<(usize, String), i64>,
    stats: EngineStats,
}

/// (plan mask, index of the field scan merged with the plan's keyword scan).
type MergedKey = (u64, u32);

/// The rules one combination of log sources runs, with their prefilter.
#[derive(Debug)]
struct Plan {
    /// (rule, variant) pairs.
    rules: Vec<(u32, u32)>,
    prefilter: Prefilter,
}

/// Adds the clause bits of a pattern's `owners` to `hits`, noting first touches in `touched`.
fn record(hits: &mut [u64], touched: &mut Vec<u32>, owners: &[Owner]) {
    for &(pos, bits) in owners {
        let h = &mut hits[pos as usize];
        if *h == 0 {
            touched.push(pos);
        }
        *h |= bits;
    }
}

/// The most (rule, group) suppression entries kept; expired ones are dropped first.
const SUPPRESSION_CAP: usize = 100_000;

impl Engine {
    pub(crate) fn new(
        map: LogSourceMap,
        config: EngineConfig,
        rules: Vec<CompiledRule>,
        corrs: Vec<CompiledCorrelation>,
    ) -> Engine {
        let mut rules = rules;
        // One cache slot per distinct field name; slot 0 is the keyword text.
        let mut slots: HashMap<Option<String>, usize> = HashMap::new();
        slots.insert(None, 0);
        for r in &mut rules {
            for d in &mut r.variants {
                for t in d.tests_mut() {
                    let next = slots.len();
                    t.slot = *slots.entry(t.field.clone()).or_insert(next);
                }
            }
        }
        let state = CorrelationState::new(config.correlation_memory_bytes);
        Engine {
            map,
            config,
            rules,
            corrs,
            plans: Vec::new(),
            hits: Vec::new(),
            touched: Vec::new(),
            candidates: Vec::new(),
            merged: Vec::new(),
            route_cache: RouteCache::default(),
            scratch: Scratch::default(),
            matched: Vec::new(),
            state,
            suppress: HashMap::new(),
            stats: EngineStats::default(),
        }
    }

    /// The number of detection rules loaded.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The number of correlation rules loaded.
    pub fn correlation_count(&self) -> usize {
        self.corrs.len()
    }

    /// The counters so far.
    pub fn stats(&self) -> EngineStats {
        let mut s = self.stats;
        s.correlation_evictions = self.state.evictions();
        s.correlation_groups = self.state.groups() as u64;
        s.correlation_bytes = self.state.bytes() as u64;
        s
    }

    fn plan(&mut self, mask: u64) -> Arc<Plan> {
        if let Some((_, p)) = self.plans.iter().find(|(m, _)| *m == mask) {
            return p.clone();
        }
        let mut rules: Vec<(u32, u32)> = Vec::new();
        let mut seen = vec![false; self.rules.len()];
        for entry in 0..64 {
            if mask & (1 << entry) == 0 {
                continue;
            }
            for (ri, r) in self.rules.iter().enumerate() {
                if seen[ri] {
                    continue;
                }
                if let Some(&(_, v)) = r.routes.iter().find(|(e, _)| *e == entry) {
                    seen[ri] = true;
                    rules.push((ri as u32, v as u32));
                }
            }
        }
        let dets: Vec<&Detection> = rules
            .iter()
            .map(|(r, v)| &self.rules[*r as usize].variants[*v as usize])
            .collect();
        let prefilter = Prefilter::build(&dets);
        let plan = Arc::new(Plan { rules, prefilter });
        self.plans.push((mask, plan.clone()));
        plan
    }

    /// The scan of plan `mask` reporting what its keyword scan `kw` and field scan `field`
    /// report, built on first use (only the fields that are the keyword text of some event need
    /// one); `None` when it cannot be built.
    fn merged_scan(
        &mut self,
        mask: u64,
        plan: &Plan,
        kw: usize,
        field: usize,
    ) -> Option<Arc<FieldScan>> {
        let key = (mask, field as u32);
        if let Some((_, m)) = self.merged.iter().find(|(k, _)| *k == key) {
            return m.clone();
        }
        let scans = &plan.prefilter.scans;
        let m = scans[kw].merged(&scans[field]).map(Arc::new);
        self.merged.push((key, m.clone()));
        m
    }

    /// Fills `self.candidates` with the plan positions worth evaluating on `event`: those whose
    /// prefilter clauses all occur, and those without a prefilter, in plan order.
    fn select(&mut self, mask: u64, plan: &Plan, event: &Event) {
        self.scratch.next_event();
        if self.hits.len() < plan.rules.len() {
            self.hits.resize(plan.rules.len(), 0);
        }
        self.touched.clear();
        let scans = &plan.prefilter.scans;
        let kw = scans.iter().position(|s| s.field.is_none());
        let kw_text = event.keyword_text();
        // The keyword text is usually also a field (a log line's `message`, a process's
        // `CommandLine`): one merged scan then reads it once instead of twice.
        let mut kw_done = false;
        for (j, scan) in scans.iter().enumerate() {
            let Some(name) = scan.field.as_deref() else {
                continue;
            };
            let Some(value) = event.field(name) else {
                continue;
            };
            if let (Some(k), Some(kt), false, FieldValue::Str(s)) = (kw, kw_text, kw_done, value)
                && std::ptr::eq(s, kt)
                && let Some(merged) = self.merged_scan(mask, plan, k, j)
            {
                merged.scan(s, &mut |o| record(&mut self.hits, &mut self.touched, o));
                kw_done = true;
                continue;
            }
            let Engine {
                hits,
                touched,
                scratch,
                ..
            } = self;
            if let Some(text) = scratch.value_text(value) {
                scan.scan(text, &mut |o| record(hits, touched, o));
            }
        }
        if let (Some(k), Some(kt), false) = (kw, kw_text, kw_done) {
            scans[k].scan(kt, &mut |o| record(&mut self.hits, &mut self.touched, o));
        }
        let Engine {
            hits,
            touched,
            candidates,
            ..
        } = self;
        touched.sort_unstable();
        candidates.clear();
        let need = &plan.prefilter.need;
        let mut always = plan.prefilter.always.iter().copied().peekable();
        for &pos in touched.iter() {
            while let Some(a) = always.next_if(|&a| a < pos) {
                candidates.push(a);
            }
            let n = need[pos as usize];
            // A position both always evaluated and touched (its scan failed to build) is
            // pushed once, by this branch.
            if hits[pos as usize] & n == n {
                always.next_if_eq(&pos);
                candidates.push(pos);
            }
            hits[pos as usize] = 0;
        }
        candidates.extend(always);
    }

    /// Evaluates every routed detection rule on `event` and returns the matching rules' ids,
    /// ignoring correlation and suppression (for tests and diagnostics).
    pub fn matching_rules(&mut self, event: &Event) -> Vec<String> {
        let mask = self.map.route_cached(event, &mut self.route_cache);
        let plan = self.plan(mask);
        self.select(mask, &plan, event);
        let mut out = Vec::new();
        for &pos in &self.candidates {
            let (r, v) = plan.rules[pos as usize];
            if self.rules[r as usize].variants[v as usize].matches(event, &mut self.scratch) {
                out.push(self.rules[r as usize].meta.id.clone());
            }
        }
        out
    }

    /// [`Engine::matching_rules`] without the literal prefilter: every routed rule is
    /// evaluated. The two must always agree; tests hold them to it.
    pub fn matching_rules_unfiltered(&mut self, event: &Event) -> Vec<String> {
        // Routed without the cache too: this is the reference the fast paths are held to.
        let mask = self.map.route(event);
        let plan = self.plan(mask);
        self.scratch.next_event();
        let mut out = Vec::new();
        for (r, v) in plan.rules.iter() {
            if self.rules[*r as usize].variants[*v as usize].matches(event, &mut self.scratch) {
                out.push(self.rules[*r as usize].meta.id.clone());
            }
        }
        out
    }

    /// Processes one event, handing every resulting alert to `sink`.
    pub fn process(&mut self, event: &Event, sink: &mut dyn FnMut(SigmaAlert)) {
        self.stats.events += 1;
        let mask = self.map.route_cached(event, &mut self.route_cache);
        if mask == 0 {
            self.stats.unrouted += 1;
            return;
        }
        let plan = self.plan(mask);
        self.select(mask, &plan, event);
        let mut matched = std::mem::take(&mut self.matched);
        matched.clear();
        for &pos in &self.candidates {
            let (r, v) = plan.rules[pos as usize];
            if self.rules[r as usize].variants[v as usize].matches(event, &mut self.scratch) {
                matched.push(r as usize);
            }
        }
        for &r in &matched {
            self.on_rule_match(r, event, sink);
        }
        self.matched = matched;
    }

    fn on_rule_match(&mut self, r: usize, event: &Event, sink: &mut dyn FnMut(SigmaAlert)) {
        self.stats.matches += 1;
        let t = event.timestamp();
        if !self.rules[r].silent {
            let group = single_event_group(event);
            if self.is_suppressed(r, &Alert::group_key(&group), nanos(t)) {
                self.stats.suppressed += 1;
            } else {
                let meta = self.rules[r].meta.clone();
                self.emit(r, &meta, group, 1, t, t, vec![event.clone()], sink);
            }
        }
        // By index: `feed` needs `self` mutably, and cloning the list would allocate per match.
        for i in 0..self.rules[r].feeds.len() {
            let (ci, step) = self.rules[r].feeds[i];
            self.feed(ci, step, GroupSource::Event(event), event, sink, 0);
        }
    }

    fn feed(
        &mut self,
        ci: usize,
        step: usize,
        src: GroupSource<'_>,
        event: &Event,
        sink: &mut dyn FnMut(SigmaAlert),
        depth: usize,
    ) {
        // Chains deeper than this can only be cycles.
        if depth > 8 {
            return;
        }
        let corr = &self.corrs[ci];
        let mut group = BTreeMap::new();
        for (g, field) in corr.rule.group_by.iter().zip(&corr.group_fields[step]) {
            let v = match &src {
                GroupSource::Event(e) => field_text(e, field),
                GroupSource::Upstream(m) => m.get(g).or_else(|| m.get(field)).cloned(),
            };
            group.insert(g.clone(), v.unwrap_or_default());
        }
        let value = match (&src, &corr.value_field) {
            (GroupSource::Event(e), Some(f)) => field_text(e, f),
            (GroupSource::Upstream(m), Some(f)) => m.get(f).cloned(),
            _ => None,
        };
        if matches!(
            corr.rule.kind,
            CorrelationType::ValueCount | CorrelationType::ValueSum | CorrelationType::ValueAvg
        ) && value.is_none()
        {
            return;
        }
        let key = Alert::group_key(&group);
        let t = nanos(event.timestamp());
        let Some(Fired {
            count,
            window_start,
            last_seen,
            evidence,
        }) = self.state.feed(ci, &corr.rule, step, key, t, value, event)
        else {
            return;
        };
        let meta = corr.rule.meta.clone();
        let idx = self.rules.len() + ci;
        self.emit(
            idx,
            &meta,
            group.clone(),
            count,
            from_nanos(window_start),
            from_nanos(last_seen),
            evidence,
            sink,
        );
        for i in 0..self.corrs[ci].feeds.len() {
            let (next, next_step) = self.corrs[ci].feeds[i];
            self.feed(
                next,
                next_step,
                GroupSource::Upstream(&group),
                event,
                sink,
                depth + 1,
            );
        }
    }

    fn is_suppressed(&self, idx: usize, key: &str, t: i64) -> bool {
        // The lookup key is owned; only build it when something is suppressed at all.
        self.config.suppression_secs > 0
            && !self.suppress.is_empty()
            && self
                .suppress
                .get(&(idx, key.to_owned()))
                .is_some_and(|&until| t < until)
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        idx: usize,
        meta: &RuleMeta,
        group: BTreeMap<String, String>,
        count: u64,
        window_start: DateTime<Utc>,
        last_seen: DateTime<Utc>,
        mut evidence: Vec<Event>,
        sink: &mut dyn FnMut(SigmaAlert),
    ) {
        let key = Alert::group_key(&group);
        let t = nanos(last_seen);
        if self.config.suppression_secs > 0 {
            let slot = (idx, key.clone());
            if self.suppress.get(&slot).is_some_and(|&until| t < until) {
                self.stats.suppressed += 1;
                return;
            }
            if self.suppress.len() >= SUPPRESSION_CAP {
                self.suppress.retain(|_, until| *until > t);
                while self.suppress.len() >= SUPPRESSION_CAP {
                    let Some(k) = self.suppress.keys().next().cloned() else {
                        break;
                    };
                    self.suppress.remove(&k);
                }
            }
            let window = i64::try_from(self.config.suppression_secs)
                .unwrap_or(i64::MAX / 2)
                .saturating_mul(1_000_000_000);
            self.suppress.insert(slot, t.saturating_add(window));
        }
        evidence.truncate(MAX_EVIDENCE);
        let event_time = evidence
            .first()
            .map(Event::timestamp)
            .unwrap_or(window_start);
        let alert = Alert {
            id: AlertId::derive(&meta.id, &key, window_start),
            rule_id: meta.id.clone(),
            title: meta.title.clone(),
            severity: meta.level,
            module: "sigma".to_owned(),
            event_time,
            detected_at: Utc::now(),
            window_start,
            group,
            count,
            attribution: attribution(&self.config.host, evidence.first()),
            tags: meta.tags.clone(),
            evidence,
        };
        self.stats.alerts += 1;
        sink(SigmaAlert { alert, last_seen });
    }
}
