//! The rule model: Sigma detection rules, correlation rules and global filters, parsed from YAML
//! documents and validated, before any compilation for an event source.

use std::collections::HashMap;

use ironpost_core::{FieldSource, Severity};
use serde_yaml::{Mapping, Value as Yaml};

use crate::condition::{self, Cond};
use crate::error::Refusal;
use crate::logsource::LogSource;
use crate::matcher::{FieldTest, Matcher, Modifiers, Scratch};

/// One field test before compilation: the field, its modifiers and its values.
#[derive(Debug, Clone)]
pub(crate) struct RawTest {
    field: Option<String>,
    mods: Modifiers,
    values: Vec<Yaml>,
}

/// A detection before compilation: named searches (each an OR of AND groups) and a condition.
#[derive(Debug, Clone)]
pub(crate) struct RawDetection {
    names: Vec<String>,
    searches: Vec<Vec<Vec<RawTest>>>,
    pub(crate) cond: Cond,
}

/// A detection compiled against one field naming.
#[derive(Debug, Clone)]
pub(crate) struct Detection {
    searches: Vec<Vec<Vec<FieldTest>>>,
    cond: Cond,
}

impl Detection {
    /// The searches and the condition, for the prefilter.
    pub(crate) fn parts(&self) -> (&[Vec<Vec<FieldTest>>], &Cond) {
        (&self.searches, &self.cond)
    }

    /// Visits every field test, to assign cache slots.
    pub(crate) fn tests_mut(&mut self) -> impl Iterator<Item = &mut FieldTest> {
        self.searches.iter_mut().flatten().flatten()
    }

    pub(crate) fn matches(&self, event: &dyn FieldSource, scratch: &mut Scratch) -> bool {
        let searches = &self.searches;
        self.cond.eval(&mut |i| {
            searches[i]
                .iter()
                .any(|group| group.iter().all(|t| t.eval(event, scratch)))
        })
    }
}

impl RawDetection {
    fn parse(det: &Mapping) -> Result<RawDetection, Refusal> {
        let mut names = Vec::new();
        let mut searches = Vec::new();
        let mut conditions = Vec::new();
        for (k, v) in det {
            let key = k
                .as_str()
                .ok_or_else(|| Refusal::invalid("detection: keys must be text"))?;
            match key {
                "condition" => match v {
                    Yaml::String(s) => conditions.push(s.clone()),
                    Yaml::Sequence(list) => {
                        for c in list {
                            let s = c.as_str().ok_or_else(|| {
                                Refusal::invalid("detection.condition: must be text")
                            })?;
                            conditions.push(s.to_owned());
                        }
                    }
                    _ => return Err(Refusal::invalid("detection.condition: must be text")),
                },
                "timeframe" => {}
                name => {
                    let search =
                        parse_search(v).map_err(|e| e.in_key(&format!("detection.{name}")))?;
                    names.push(name.to_owned());
                    searches.push(search);
                }
            }
        }
        if conditions.is_empty() {
            return Err(Refusal::invalid("detection.condition: missing"));
        }
        let mut conds = conditions
            .iter()
            .map(|c| condition::parse(c, &names))
            .collect::<Result<Vec<_>, _>>()?;
        let cond = if conds.len() == 1 {
            conds.pop().unwrap_or(Cond::Or(Vec::new()))
        } else {
            Cond::Or(conds)
        };
        Ok(RawDetection {
            names,
            searches,
            cond,
        })
    }

    /// Adds a global filter: the rule then matches only where the filter's condition does not.
    pub(crate) fn add_filter(&mut self, filter: &RawDetection, filter_id: &str) {
        let offset = self.searches.len();
        for (n, s) in filter.names.iter().zip(&filter.searches) {
            self.names.push(format!("filter:{filter_id}:{n}"));
            self.searches.push(s.clone());
        }
        let orig = std::mem::replace(&mut self.cond, Cond::Or(Vec::new()));
        self.cond = Cond::And(vec![orig, Cond::Not(Box::new(filter.cond.shifted(offset)))]);
    }

    pub(crate) fn compile(
        &self,
        field_map: &dyn Fn(&str) -> String,
        placeholders: &HashMap<String, Vec<String>>,
    ) -> Result<Detection, Refusal> {
        let mut searches = Vec::with_capacity(self.searches.len());
        for (name, groups) in self.names.iter().zip(&self.searches) {
            let mut out_groups = Vec::with_capacity(groups.len());
            for group in groups {
                let mut tests = Vec::with_capacity(group.len());
                for t in group {
                    let matchers: Vec<Matcher> = t
                        .mods
                        .compile(&t.values, field_map, placeholders)
                        .map_err(|e| {
                            e.in_key(&format!(
                                "detection.{name}.{}",
                                t.field.as_deref().unwrap_or("<keywords>")
                            ))
                        })?;
                    let field = t.field.as_deref().map(field_map);
                    tests.push(FieldTest::new(field, matchers, t.mods.all));
                }
                out_groups.push(tests);
            }
            searches.push(out_groups);
        }
        Ok(Detection {
            searches,
            cond: self.cond.clone(),
        })
    }

    /// Every field name the detection reads, in Sigma naming.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &str> {
        self.searches
            .iter()
            .flatten()
            .flatten()
            .filter_map(|t| t.field.as_deref())
    }
}

fn scalar_list(v: &Yaml) -> Result<Vec<Yaml>, Refusal> {
    match v {
        Yaml::Sequence(items) => {
            for i in items {
                if matches!(i, Yaml::Sequence(_) | Yaml::Mapping(_)) {
                    return Err(Refusal::invalid("a value list may only hold scalars"));
                }
            }
            Ok(items.clone())
        }
        Yaml::Mapping(_) => Err(Refusal::invalid("a field value cannot be a map")),
        other => Ok(vec![other.clone()]),
    }
}

fn parse_map(m: &Mapping) -> Result<Vec<RawTest>, Refusal> {
    let mut tests = Vec::new();
    for (k, v) in m {
        let key = match k {
            Yaml::String(s) => s.clone(),
            Yaml::Number(n) => n.to_string(),
            _ => return Err(Refusal::invalid("field names must be text")),
        };
        let mut parts = key.split('|');
        let field = parts.next().unwrap_or("");
        let mods: Vec<&str> = parts.collect();
        let mods = Modifiers::parse(&mods).map_err(|e| e.in_key(&key))?;
        let values = scalar_list(v).map_err(|e| e.in_key(&key))?;
        let field = if field.is_empty() {
            None
        } else {
            Some(field.to_owned())
        };
        let mods = if field.is_none() {
            keyword_mods(mods)
        } else {
            mods
        };
        tests.push(RawTest {
            field,
            mods,
            values,
        });
    }
    Ok(tests)
}

/// Keywords match anywhere in the text unless a position modifier says otherwise.
fn keyword_mods(mods: Modifiers) -> Modifiers {
    mods.with_default_contains()
}

fn parse_search(v: &Yaml) -> Result<Vec<Vec<RawTest>>, Refusal> {
    match v {
        Yaml::Mapping(m) => Ok(vec![parse_map(m)?]),
        Yaml::Sequence(items) => {
            let mut groups = Vec::new();
            let mut keywords = Vec::new();
            for item in items {
                match item {
                    Yaml::Mapping(m) => groups.push(parse_map(m)?),
                    Yaml::Sequence(_) => {
                        return Err(Refusal::invalid("nested lists are not allowed in a search"));
                    }
                    scalar => keywords.push(scalar.clone()),
                }
            }
            if !keywords.is_empty() {
                let mods = keyword_mods(Modifiers::default());
                groups.push(vec![RawTest {
                    field: None,
                    mods,
                    values: keywords,
                }]);
            }
            Ok(groups)
        }
        Yaml::String(_) | Yaml::Number(_) => {
            let mods = keyword_mods(Modifiers::default());
            Ok(vec![vec![RawTest {
                field: None,
                mods,
                values: vec![v.clone()],
            }]])
        }
        _ => Err(Refusal::invalid(
            "a search must be a map, a list of maps or a list of keywords",
        )),
    }
}

/// The metadata every alert carries.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMeta {
    /// The rule's `id` (or its `name`, or its title when it has neither).
    pub id: String,
    /// The rule's `name`, used by correlations and filters to refer to it.
    pub name: Option<String>,
    /// The title.
    pub title: String,
    /// The level.
    pub level: Severity,
    /// The tags.
    pub tags: Vec<String>,
}

/// A parsed detection rule.
#[derive(Debug, Clone)]
pub struct DetectionRule {
    /// Metadata.
    pub meta: RuleMeta,
    /// The log source the rule names.
    pub logsource: LogSource,
    pub(crate) detection: RawDetection,
}

/// The correlation types of Sigma 2.1 that this engine evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationType {
    /// Count of matching events per group.
    EventCount,
    /// Count of distinct values of a field per group.
    ValueCount,
    /// Every referenced rule matched in the window, in any order.
    Temporal,
    /// Every referenced rule matched in the window, in the order given.
    TemporalOrdered,
    /// Sum of a numeric field per group.
    ValueSum,
    /// Average of a numeric field per group.
    ValueAvg,
}

/// A count condition: every given bound must hold.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CountCondition {
    /// Strictly greater than.
    pub gt: Option<f64>,
    /// Greater than or equal.
    pub gte: Option<f64>,
    /// Strictly less than.
    pub lt: Option<f64>,
    /// Less than or equal.
    pub lte: Option<f64>,
    /// Equal.
    pub eq: Option<f64>,
    /// Different.
    pub neq: Option<f64>,
}

impl CountCondition {
    /// True when `n` satisfies every bound.
    pub fn holds(&self, n: f64) -> bool {
        self.gt.is_none_or(|b| n > b)
            && self.gte.is_none_or(|b| n >= b)
            && self.lt.is_none_or(|b| n < b)
            && self.lte.is_none_or(|b| n <= b)
            && self.eq.is_none_or(|b| n == b)
            && self.neq.is_none_or(|b| n != b)
    }

    /// True when a count that only grows can never satisfy it later (a pure upper bound).
    fn upper_bound_only(&self) -> bool {
        self.gt.is_none() && self.gte.is_none() && self.eq.is_none()
    }
}

/// A parsed correlation rule.
#[derive(Debug, Clone)]
pub struct CorrelationRule {
    /// Metadata.
    pub meta: RuleMeta,
    /// The correlation type.
    pub kind: CorrelationType,
    /// Referenced rules, by id or name, in order.
    pub rules: Vec<String>,
    /// Group-by fields (or aliases).
    pub group_by: Vec<String>,
    /// The window length in seconds.
    pub timespan_secs: i64,
    /// The count condition.
    pub condition: CountCondition,
    /// The field counted by value_count, summed by value_sum, averaged by value_avg.
    pub field: Option<String>,
    /// Alias → (rule reference → field).
    pub aliases: HashMap<String, HashMap<String, String>>,
    /// Whether referenced rules also raise their own alerts.
    pub generate: bool,
}

/// A parsed global filter.
#[derive(Debug, Clone)]
pub struct FilterRule {
    /// The filter's id or title.
    pub id: String,
    /// The rules (id or name) it applies to.
    pub rules: Vec<String>,
    pub(crate) detection: RawDetection,
}

/// One YAML document of a rule file.
#[derive(Debug, Clone)]
pub enum RuleDoc {
    /// A detection rule.
    Detection(DetectionRule),
    /// A correlation rule.
    Correlation(CorrelationRule),
    /// A global filter.
    Filter(FilterRule),
}

fn get_str<'a>(m: &'a Mapping, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Yaml::as_str)
}

fn meta(m: &Mapping) -> Result<RuleMeta, Refusal> {
    let title = get_str(m, "title")
        .ok_or_else(|| Refusal::invalid("title: missing or not text"))?
        .to_owned();
    let name = get_str(m, "name").map(str::to_owned);
    let id = get_str(m, "id")
        .map(str::to_owned)
        .or_else(|| name.clone())
        .unwrap_or_else(|| title.clone());
    let level = match m.get("level") {
        None => Severity::Medium,
        Some(Yaml::String(s)) => {
            s.parse()
                .map_err(|e: ironpost_core::alert::UnknownSeverity| {
                    Refusal::invalid(format!("level: {e}"))
                })?
        }
        Some(_) => return Err(Refusal::invalid("level: must be text")),
    };
    let tags = match m.get("tags") {
        None => Vec::new(),
        Some(Yaml::Sequence(t)) => t
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        Some(_) => return Err(Refusal::invalid("tags: must be a list")),
    };
    Ok(RuleMeta {
        id,
        name,
        title,
        level,
        tags,
    })
}

fn logsource(m: &Mapping) -> Result<LogSource, Refusal> {
    let ls = m
        .get("logsource")
        .ok_or_else(|| Refusal::invalid("logsource: missing"))?;
    let ls = ls
        .as_mapping()
        .ok_or_else(|| Refusal::invalid("logsource: must be a map"))?;
    let key = |k: &str| -> Result<Option<String>, Refusal> {
        match ls.get(k) {
            None | Some(Yaml::Null) => Ok(None),
            Some(Yaml::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Refusal::invalid(format!("logsource.{k}: must be text"))),
        }
    };
    let out = LogSource {
        product: key("product")?,
        category: key("category")?,
        service: key("service")?,
    };
    if out.product.is_none() && out.category.is_none() && out.service.is_none() {
        return Err(Refusal::invalid(
            "logsource: names none of product, category, service",
        ));
    }
    Ok(out)
}

fn string_list(v: Option<&Yaml>, key: &str) -> Result<Vec<String>, Refusal> {
    match v {
        None | Some(Yaml::Null) => Ok(Vec::new()),
        Some(Yaml::String(s)) => Ok(vec![s.clone()]),
        Some(Yaml::Sequence(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Refusal::invalid(format!("{key}: items must be text")))
            })
            .collect(),
        Some(_) => Err(Refusal::invalid(format!("{key}: must be a list of text"))),
    }
}

/// Parses a timespan such as `90s`, `2m`, `1h`, `1d` into seconds.
pub fn parse_timespan(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    (n > 0).then_some(n * mult)
}

fn number(v: &Yaml, key: &str) -> Result<f64, Refusal> {
    v.as_f64()
        .ok_or_else(|| Refusal::invalid(format!("{key}: must be a number")))
}

fn correlation(m: &Mapping, c: &Mapping) -> Result<CorrelationRule, Refusal> {
    let meta = meta(m)?;
    let kind = match get_str(c, "type") {
        Some("event_count") => CorrelationType::EventCount,
        Some("value_count") => CorrelationType::ValueCount,
        Some("temporal") => CorrelationType::Temporal,
        Some("temporal_ordered") => CorrelationType::TemporalOrdered,
        Some("value_sum") => CorrelationType::ValueSum,
        Some("value_avg") => CorrelationType::ValueAvg,
        Some(t @ ("value_percentile" | "value_median")) => {
            return Err(Refusal::unsupported(format!(
                "correlation.type: `{t}` is not supported by this engine"
            )));
        }
        Some(other) => {
            return Err(Refusal::invalid(format!(
                "correlation.type: unknown type `{other}`"
            )));
        }
        None => return Err(Refusal::invalid("correlation.type: missing")),
    };
    let rules = string_list(c.get("rules"), "correlation.rules")?;
    if rules.is_empty() {
        return Err(Refusal::invalid("correlation.rules: missing or empty"));
    }
    let group_by = string_list(c.get("group-by"), "correlation.group-by")?;
    let timespan = match c.get("timespan").or_else(|| c.get("timeframe")) {
        Some(Yaml::String(s)) => parse_timespan(s).ok_or_else(|| {
            Refusal::invalid(format!(
                "correlation.timespan: `{s}` is not a number followed by s, m, h or d"
            ))
        })?,
        Some(_) => {
            return Err(Refusal::invalid(
                "correlation.timespan: must be text such as `5m`",
            ));
        }
        None => return Err(Refusal::invalid("correlation.timespan: missing")),
    };
    let mut condition = CountCondition::default();
    let mut field = get_str(c, "field").map(str::to_owned);
    match c.get("condition") {
        Some(Yaml::Mapping(cm)) => {
            for (k, v) in cm {
                match k.as_str() {
                    Some("gt") => condition.gt = Some(number(v, "correlation.condition.gt")?),
                    Some("gte") => condition.gte = Some(number(v, "correlation.condition.gte")?),
                    Some("lt") => condition.lt = Some(number(v, "correlation.condition.lt")?),
                    Some("lte") => condition.lte = Some(number(v, "correlation.condition.lte")?),
                    Some("eq") => condition.eq = Some(number(v, "correlation.condition.eq")?),
                    Some("neq") => condition.neq = Some(number(v, "correlation.condition.neq")?),
                    Some("field") => field = v.as_str().map(str::to_owned),
                    other => {
                        return Err(Refusal::invalid(format!(
                            "correlation.condition: unknown key `{}`",
                            other.unwrap_or("?")
                        )));
                    }
                }
            }
        }
        None if matches!(
            kind,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        ) => {}
        Some(_) => {
            return Err(Refusal::invalid(
                "correlation.condition: must be a map such as {gte: 5}",
            ));
        }
        None => return Err(Refusal::invalid("correlation.condition: missing")),
    }
    let needs_field = matches!(
        kind,
        CorrelationType::ValueCount | CorrelationType::ValueSum | CorrelationType::ValueAvg
    );
    if needs_field && field.is_none() {
        return Err(Refusal::invalid(
            "correlation.condition.field: required by this correlation type",
        ));
    }
    if condition == CountCondition::default()
        && !matches!(
            kind,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        )
    {
        return Err(Refusal::invalid(
            "correlation.condition: names no bound (gt, gte, lt, lte, eq, neq)",
        ));
    }
    if condition != CountCondition::default() && condition.upper_bound_only() {
        return Err(Refusal::unsupported(
            "correlation.condition: a pure upper bound (lt/lte/neq) needs window-close timers, which this engine does not run",
        ));
    }
    let mut aliases = HashMap::new();
    match c.get("aliases") {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Mapping(am)) => {
            for (alias, per_rule) in am {
                let alias = alias
                    .as_str()
                    .ok_or_else(|| Refusal::invalid("correlation.aliases: keys must be text"))?;
                let per_rule = per_rule.as_mapping().ok_or_else(|| {
                    Refusal::invalid(format!(
                        "correlation.aliases.{alias}: must map rule names to fields"
                    ))
                })?;
                let mut map = HashMap::new();
                for (r, f) in per_rule {
                    match (r.as_str(), f.as_str()) {
                        (Some(r), Some(f)) => {
                            map.insert(r.to_owned(), f.to_owned());
                        }
                        _ => {
                            return Err(Refusal::invalid(format!(
                                "correlation.aliases.{alias}: entries must be text"
                            )));
                        }
                    }
                }
                aliases.insert(alias.to_owned(), map);
            }
        }
        Some(_) => return Err(Refusal::invalid("correlation.aliases: must be a map")),
    }
    let generate = match c.get("generate").or_else(|| m.get("generate")) {
        None => false,
        Some(Yaml::Bool(b)) => *b,
        Some(_) => {
            return Err(Refusal::invalid(
                "correlation.generate: must be true or false",
            ));
        }
    };
    Ok(CorrelationRule {
        meta,
        kind,
        rules,
        group_by,
        timespan_secs: timespan,
        condition,
        field,
        aliases,
        generate,
    })
}

impl RuleDoc {
    /// Parses one YAML document.
    pub(crate) fn parse(doc: &Yaml) -> Result<RuleDoc, Refusal> {
        let m = doc
            .as_mapping()
            .ok_or_else(|| Refusal::invalid("the document is not a YAML map"))?;
        if let Some(action) = get_str(m, "action") {
            return Err(Refusal::unsupported(format!(
                "`action: {action}` multi-document rule collections are Sigma 1.x syntax; split them into separate rules"
            )));
        }
        if let Some(c) = m.get("correlation") {
            let c = c
                .as_mapping()
                .ok_or_else(|| Refusal::invalid("correlation: must be a map"))?;
            return correlation(m, c).map(RuleDoc::Correlation);
        }
        if let Some(f) = m.get("filter") {
            let f = f
                .as_mapping()
                .ok_or_else(|| Refusal::invalid("filter: must be a map"))?;
            let title = get_str(m, "title")
                .ok_or_else(|| Refusal::invalid("title: missing or not text"))?;
            let id = get_str(m, "id").unwrap_or(title).to_owned();
            let rules = string_list(f.get("rules"), "filter.rules")?;
            if rules.is_empty() {
                return Err(Refusal::invalid("filter.rules: missing or empty"));
            }
            let mut det = f.clone();
            det.remove("rules");
            let detection = RawDetection::parse(&det).map_err(|e| e.in_key("filter"))?;
            return Ok(RuleDoc::Filter(FilterRule {
                id,
                rules,
                detection,
            }));
        }
        let meta = meta(m)?;
        let logsource = logsource(m)?;
        let det = m
            .get("detection")
            .ok_or_else(|| Refusal::invalid("detection: missing"))?
            .as_mapping()
            .ok_or_else(|| Refusal::invalid("detection: must be a map"))?;
        let detection = RawDetection::parse(det)?;
        Ok(RuleDoc::Detection(DetectionRule {
            meta,
            logsource,
            detection,
        }))
    }
}

/// Parses every document of a YAML text.
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Yaml>, Refusal> {
    let mut docs = Vec::new();
    for de in serde_yaml::Deserializer::from_str(text) {
        let v: Yaml = serde::Deserialize::deserialize(de)
            .map_err(|e| Refusal::invalid(format!("YAML: {e}")))?;
        if !v.is_null() {
            docs.push(v);
        }
    }
    if docs.is_empty() {
        return Err(Refusal::invalid("the file holds no YAML document"));
    }
    Ok(docs)
}
