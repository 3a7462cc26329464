//! Compiled value matchers: one Sigma value with its modifiers, ready to test a field.
//!
//! Compilation does the costly work once (lowercasing, wildcard analysis, encodings, regex
//! building) so that evaluation is a lookup and a byte comparison. Case-insensitive tests compare
//! the lowercased field value, computed at most once per field test, with a lowercased pattern.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use ironpost_core::{FieldSource, FieldValue};
use memchr::memmem;
use regex::Regex;
use serde_yaml::Value as Yaml;

use crate::error::Refusal;

/// How a literal string is compared with the field text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrOp {
    Exact,
    Contains,
    Prefix,
    Suffix,
}

/// A numeric comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// An IP network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    net: u128,
    mask: u128,
    v4: bool,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u32>().ok()?)),
            None => (text, None),
        };
        let ip: IpAddr = addr.trim().parse().ok()?;
        let (bits, width, v4) = match ip {
            IpAddr::V4(v) => (u128::from(u32::from(v)), 32, true),
            IpAddr::V6(v) => (u128::from(v), 128, false),
        };
        let len = len.unwrap_or(width);
        if len > width {
            return None;
        }
        let mask = if len == 0 {
            0
        } else {
            (!0u128 >> (128 - len)) << (width - len)
        };
        Some(Cidr {
            net: bits & mask,
            mask,
            v4,
        })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v) if self.v4 => u128::from(u32::from(v)) & self.mask == self.net,
            IpAddr::V6(v) if !self.v4 => u128::from(v) & self.mask == self.net,
            IpAddr::V6(v) => v
                .to_ipv4_mapped()
                .is_some_and(|v4| u128::from(u32::from(v4)) & self.mask == self.net),
            IpAddr::V4(_) => false,
        }
    }
}

/// One compiled value test.
// Matchers are built once and read on every event: keeping the searcher inline saves a pointer
// chase per test, and the extra bytes per matcher do not matter at a few thousand matchers.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// Literal comparison; the pattern is lowercased unless `cased`.
    Str { op: StrOp, pat: String, cased: bool },
    /// Substring search with a prebuilt searcher (lowercased unless `cased`).
    Contains {
        finder: memmem::Finder<'static>,
        cased: bool,
    },
    /// A `*`-only wildcard pattern: literal pieces in order, anchored at the start and the end
    /// unless the pattern begins or ends with `*`.
    Glob {
        pieces: Vec<memmem::Finder<'static>>,
        anchored_start: bool,
        anchored_end: bool,
        cased: bool,
    },
    /// A wildcard or `re` pattern.
    Regex(Regex),
    /// A plain number: equal as a number, or equal as text when the field is text.
    Num { value: f64, text: String },
    /// A numeric comparison.
    Cmp { op: CmpOp, value: f64 },
    /// A boolean value.
    Bool(bool),
    /// `null`: the field is absent or null.
    Null,
    /// `exists`: the field is present (true) or absent (false).
    Exists(bool),
    /// The field's address is inside the network.
    Cidr(Cidr),
    /// The field compares with another field of the same event.
    FieldRef {
        other: String,
        op: StrOp,
        cased: bool,
    },
    /// `neq`: the inner test fails.
    Not(Box<Matcher>),
}

/// Reusable buffers, so that evaluation does not allocate per event, and the lowercased text
/// of each field, computed once per event however many rules read it.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    text: String,
    other: String,
    /// The current event's number; a cache slot is valid when its stamp equals it.
    generation: u64,
    /// Per field slot: (stamp, present, lowercased text).
    lower: Vec<(u64, bool, String)>,
}

impl Scratch {
    /// Forgets the cached values of the previous event.
    pub(crate) fn next_event(&mut self) {
        self.generation += 1;
    }

    /// The text of a field value, borrowed from the event when it is text, formatted into a
    /// buffer otherwise.
    pub(crate) fn value_text<'a>(&'a mut self, value: FieldValue<'a>) -> Option<&'a str> {
        match value {
            FieldValue::Str(s) => Some(s),
            FieldValue::Null => None,
            other => {
                self.text.clear();
                let _ = write!(self.text, "{other}");
                Some(self.text.as_str())
            }
        }
    }
}

fn lower_into(src: &str, out: &mut String) {
    out.clear();
    if src.is_ascii() {
        out.push_str(src);
        out.make_ascii_lowercase();
    } else {
        for c in src.chars() {
            out.extend(c.to_lowercase());
        }
    }
}

pub(crate) fn lowercase(src: &str) -> String {
    let mut s = String::with_capacity(src.len());
    lower_into(src, &mut s);
    s
}

fn str_op(op: StrOp, hay: &str, pat: &str) -> bool {
    match op {
        StrOp::Exact => hay == pat,
        StrOp::Prefix => hay.starts_with(pat),
        StrOp::Suffix => hay.ends_with(pat),
        StrOp::Contains => memmem::find(hay.as_bytes(), pat.as_bytes()).is_some(),
    }
}

/// Writes the text form of a field value into `out`, returning the text.
fn text_of<'a>(v: &FieldValue<'a>, out: &'a mut String) -> Option<&'a str> {
    match v {
        FieldValue::Str(s) => Some(s),
        FieldValue::Null => None,
        other => {
            out.clear();
            let _ = write!(out, "{other}");
            Some(out.as_str())
        }
    }
}

impl Matcher {
    /// True when the matcher wants the lowercased field text.
    pub(crate) fn wants_lower(&self) -> bool {
        matches!(
            self,
            Matcher::Str { cased: false, .. }
                | Matcher::Contains { cased: false, .. }
                | Matcher::Glob { cased: false, .. }
        ) || matches!(self, Matcher::Not(inner) if inner.wants_lower())
    }

    /// Tests one field value. `lower` is the lowercased text of the value when some matcher of
    /// the test wants it.
    pub(crate) fn test(
        &self,
        value: Option<FieldValue<'_>>,
        text: Option<&str>,
        lower: Option<&str>,
        event: &dyn FieldSource,
        other_buf: &mut String,
    ) -> bool {
        match self {
            Matcher::Exists(want) => value.is_some() == *want,
            Matcher::Null => matches!(value, None | Some(FieldValue::Null)),
            Matcher::Not(inner) => !inner.test(value, text, lower, event, other_buf),
            Matcher::Str { op, pat, cased } => {
                let hay = if *cased { text } else { lower };
                hay.is_some_and(|h| str_op(*op, h, pat))
            }
            Matcher::Contains { finder, cased } => {
                let hay = if *cased { text } else { lower };
                hay.is_some_and(|h| finder.find(h.as_bytes()).is_some())
            }
            Matcher::Glob {
                pieces,
                anchored_start,
                anchored_end,
                cased,
            } => {
                let hay = if *cased { text } else { lower };
                hay.is_some_and(|h| {
                    glob_match(pieces, *anchored_start, *anchored_end, h.as_bytes())
                })
            }
            Matcher::Regex(re) => text.is_some_and(|t| re.is_match(t)),
            Matcher::Num { value: n, text: nt } => match value {
                Some(FieldValue::Int(i)) => i as f64 == *n,
                Some(FieldValue::Float(f)) => f == *n,
                Some(FieldValue::Str(s)) => s.trim() == nt,
                _ => false,
            },
            Matcher::Cmp { op, value: n } => {
                let Some(x) = value.and_then(|v| v.as_f64()) else {
                    return false;
                };
                match op {
                    CmpOp::Gt => x > *n,
                    CmpOp::Gte => x >= *n,
                    CmpOp::Lt => x < *n,
                    CmpOp::Lte => x <= *n,
                }
            }
            Matcher::Bool(b) => match value {
                Some(FieldValue::Bool(x)) => x == *b,
                Some(FieldValue::Str(s)) => {
                    s.eq_ignore_ascii_case(if *b { "true" } else { "false" })
                }
                _ => false,
            },
            Matcher::Cidr(net) => match value {
                Some(FieldValue::Ip(ip)) => net.contains(ip),
                Some(FieldValue::Str(s)) => {
                    s.trim().parse::<IpAddr>().is_ok_and(|ip| net.contains(ip))
                }
                _ => false,
            },
            Matcher::FieldRef { other, op, cased } => {
                let Some(t) = text else { return false };
                let Some(ov) = event.field(other) else {
                    return false;
                };
                let mut num = String::new();
                let Some(ot) = text_of(&ov, &mut num) else {
                    return false;
                };
                if *cased {
                    str_op(*op, t, ot)
                } else {
                    lower_into(ot, other_buf);
                    let lt = lowercase(t);
                    str_op(*op, &lt, other_buf)
                }
            }
        }
    }
}

/// A field (or the keyword text) with its matchers, combined with OR, or AND under `all`.
#[derive(Debug, Clone)]
pub(crate) struct FieldTest {
    /// The event field; `None` tests the keyword text.
    pub field: Option<String>,
    pub matchers: Vec<Matcher>,
    pub all: bool,
    wants_lower: bool,
    /// The field's slot in the per-event lowercase cache (given by the engine).
    pub slot: usize,
}

impl FieldTest {
    pub(crate) fn new(field: Option<String>, matchers: Vec<Matcher>, all: bool) -> FieldTest {
        let wants_lower = matchers.iter().any(Matcher::wants_lower);
        FieldTest {
            field,
            matchers,
            all,
            wants_lower,
            slot: 0,
        }
    }

    pub(crate) fn eval(&self, event: &dyn FieldSource, scratch: &mut Scratch) -> bool {
        let value = match &self.field {
            Some(name) => event.field(name),
            None => event.keyword_text().map(FieldValue::Str),
        };
        let Scratch {
            text,
            other,
            generation,
            lower,
        } = scratch;
        let t = value.as_ref().and_then(|v| text_of(v, text));
        let l = match t {
            Some(t) if self.wants_lower => {
                if lower.len() <= self.slot {
                    lower.resize_with(self.slot + 1, || (0, false, String::new()));
                }
                let entry = &mut lower[self.slot];
                if entry.0 != *generation {
                    lower_into(t, &mut entry.2);
                    entry.0 = *generation;
                    entry.1 = true;
                }
                Some(entry.2.as_str())
            }
            _ => None,
        };
        if self.all {
            self.matchers
                .iter()
                .all(|m| m.test(value, t, l, event, other))
        } else {
            self.matchers
                .iter()
                .any(|m| m.test(value, t, l, event, other))
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The three encodings of `data` that appear inside a longer base64 text, whatever its offset.
fn base64_offsets(data: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .filter_map(|i| {
            let mut padded = vec![b' '; i];
            padded.extend_from_slice(data);
            let enc = base64(&padded);
            let end = enc.len().checked_sub(END[(data.len() + i) % 3])?;
            enc.get(START[i]..end)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
        .collect()
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(if big_endian {
            &[0xFE, 0xFF]
        } else {
            &[0xFF, 0xFE]
        });
    }
    for u in text.encode_utf16() {
        out.extend_from_slice(&if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        });
    }
    out
}

/// Every spelling of a command-line flag: a dash or slash at the start of a word becomes each of
/// `-`, `/`, en dash, em dash and horizontal bar.
fn windash(text: &str) -> Vec<String> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let chars: Vec<char> = text.chars().collect();
    let positions: Vec<usize> = (0..chars.len())
        .filter(|&i| {
            (chars[i] == '-' || chars[i] == '/') && (i == 0 || chars[i - 1].is_whitespace())
        })
        .take(4)
        .collect();
    let mut out = Vec::new();
    let combos = DASHES.len().pow(positions.len() as u32);
    for mut n in 0..combos {
        let mut c = chars.clone();
        for &p in &positions {
            c[p] = DASHES[n % DASHES.len()];
            n /= DASHES.len();
        }
        out.push(c.into_iter().collect());
    }
    out
}

/// Splits a Sigma wildcard string into a literal form when it has no inner wildcards.
/// Returns the unescaped literal and whether it had a leading and a trailing `*`.
fn analyse_wildcards(s: &str) -> (Option<String>, bool, bool) {
    let chars: Vec<char> = s.chars().collect();
    let mut lit = String::new();
    let mut lead = false;
    let mut trail = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() && matches!(chars[i + 1], '*' | '?' | '\\') {
            lit.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == '*' && i == 0 {
            lead = true;
        } else if c == '*' && i == chars.len() - 1 {
            trail = true;
        } else if c == '*' || c == '?' {
            return (None, false, false);
        } else {
            lit.push(c);
        }
        i += 1;
    }
    if lit.is_empty() && (lead || trail) {
        // `*` alone matches any value; contains("") does that.
        return (Some(lit), true, true);
    }
    (Some(lit), lead, trail)
}

fn wildcard_regex(s: &str, cased: bool) -> Result<Regex, Refusal> {
    let chars: Vec<char> = s.chars().collect();
    let mut re = String::from(if cased { "(?s)^" } else { "(?si)^" });
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() && matches!(chars[i + 1], '*' | '?' | '\\') {
            re.push_str(&regex::escape(&chars[i + 1].to_string()));
            i += 2;
            continue;
        }
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
        i += 1;
    }
    re.push('$');
    Regex::new(&re).map_err(|e| Refusal::invalid(format!("wildcard pattern `{s}`: {e}")))
}

/// Matches literal pieces in order: the first at the start and the last at the end when
/// anchored, each piece after the previous one.
fn glob_match(
    pieces: &[memmem::Finder<'static>],
    anchored_start: bool,
    anchored_end: bool,
    hay: &[u8],
) -> bool {
    let n = pieces.len();
    let mut pos = 0;
    let mut end = hay.len();
    let mut first = 0;
    let mut last = n;
    if anchored_start {
        let p = pieces[0].needle();
        if !hay.starts_with(p) {
            return false;
        }
        pos = p.len();
        first = 1;
    }
    if anchored_end && last > first {
        let p = pieces[n - 1].needle();
        if hay.len() < pos + p.len() || !hay.ends_with(p) {
            return false;
        }
        end = hay.len() - p.len();
        last = n - 1;
    }
    for piece in &pieces[first..last] {
        match piece.find(&hay[pos..end]) {
            Some(i) => pos += i + piece.needle().len(),
            None => return false,
        }
    }
    true
}

/// Splits a wildcard string on unescaped `*` into unescaped literal pieces; `None` when it
/// holds a `?`, which needs a regex.
fn star_pieces(s: &str) -> Option<(Vec<String>, bool, bool)> {
    let chars: Vec<char> = s.chars().collect();
    let mut pieces = vec![String::new()];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() && matches!(chars[i + 1], '*' | '?' | '\\') {
            pieces.last_mut()?.push(chars[i + 1]);
            i += 2;
            continue;
        }
        match c {
            '*' => pieces.push(String::new()),
            '?' => return None,
            c => pieces.last_mut()?.push(c),
        }
        i += 1;
    }
    let anchored_start = !pieces.first()?.is_empty();
    let anchored_end = !pieces.last()?.is_empty();
    pieces.retain(|p| !p.is_empty());
    Some((pieces, anchored_start, anchored_end))
}

/// Compiles a string (after wildcard wrapping) into a matcher.
fn string_matcher(s: &str, cased: bool) -> Result<Matcher, Refusal> {
    let m = string_matcher_inner(s, cased)?;
    Ok(match m {
        Matcher::Str {
            op: StrOp::Contains,
            pat,
            cased,
        } => Matcher::Contains {
            finder: memmem::Finder::new(pat.as_bytes()).into_owned(),
            cased,
        },
        other => other,
    })
}

fn string_matcher_inner(s: &str, cased: bool) -> Result<Matcher, Refusal> {
    if analyse_wildcards(s).0.is_none()
        && let Some((pieces, anchored_start, anchored_end)) = star_pieces(s)
        && !pieces.is_empty()
    {
        let pieces = pieces
            .iter()
            .map(|p| {
                let p = if cased { p.clone() } else { lowercase(p) };
                memmem::Finder::new(p.as_bytes()).into_owned()
            })
            .collect();
        return Ok(Matcher::Glob {
            pieces,
            anchored_start,
            anchored_end,
            cased,
        });
    }
    match analyse_wildcards(s) {
        (Some(lit), lead, trail) => {
            let op = match (lead, trail) {
                (false, false) => StrOp::Exact,
                (true, true) => StrOp::Contains,
                (false, true) => StrOp::Prefix,
                (true, false) => StrOp::Suffix,
            };
            let pat = if cased { lit } else { lowercase(&lit) };
            Ok(Matcher::Str { op, pat, cased })
        }
        (None, _, _) => wildcard_regex(s, cased).map(Matcher::Regex),
    }
}

/// The modifiers of one field key, parsed.
#[derive(Debug, Default, Clone)]
pub(crate) struct Modifiers {
    op: Option<StrOp>,
    pub all: bool,
    cased: bool,
    re: Option<(bool, bool, bool)>,
    cidr: bool,
    cmp: Option<CmpOp>,
    exists: bool,
    fieldref: bool,
    expand: bool,
    neq: bool,
    windash: bool,
    /// Encodings applied in order: `wide`, `utf16be`, `utf16`, `base64`, `base64offset`.
    encodings: Vec<&'static str>,
}

impl Modifiers {
    pub(crate) fn parse(mods: &[&str]) -> Result<Modifiers, Refusal> {
        let mut m = Modifiers::default();
        for &name in mods {
            match name {
                "contains" => m.op = Some(StrOp::Contains),
                "startswith" => m.op = Some(StrOp::Prefix),
                "endswith" => m.op = Some(StrOp::Suffix),
                "all" => m.all = true,
                "cased" => m.cased = true,
                "re" => m.re = Some((false, false, false)),
                "i" | "ignorecase" | "m" | "multiline" | "s" | "dotall" => {
                    let Some((i, ml, s)) = m.re.as_mut() else {
                        return Err(Refusal::invalid(format!(
                            "modifier `{name}` is only allowed after `re`"
                        )));
                    };
                    match name {
                        "i" | "ignorecase" => *i = true,
                        "m" | "multiline" => *ml = true,
                        _ => *s = true,
                    }
                }
                "cidr" => m.cidr = true,
                "gt" => m.cmp = Some(CmpOp::Gt),
                "gte" => m.cmp = Some(CmpOp::Gte),
                "lt" => m.cmp = Some(CmpOp::Lt),
                "lte" => m.cmp = Some(CmpOp::Lte),
                "exists" => m.exists = true,
                "fieldref" => m.fieldref = true,
                "expand" => m.expand = true,
                "neq" => m.neq = true,
                "windash" => m.windash = true,
                "wide" | "utf16le" => m.encodings.push("utf16le"),
                "utf16be" => m.encodings.push("utf16be"),
                "utf16" => m.encodings.push("utf16"),
                "base64" => m.encodings.push("base64"),
                "base64offset" => m.encodings.push("base64offset"),
                "minute" | "hour" | "day" | "week" | "month" | "year" => {
                    return Err(Refusal::unsupported(format!(
                        "time modifier `{name}` is not supported by this engine"
                    )));
                }
                other => return Err(Refusal::invalid(format!("unknown modifier `{other}`"))),
            }
        }
        if m.encodings.iter().any(|e| e.starts_with("base64")) && m.re.is_some() {
            return Err(Refusal::invalid(
                "`re` cannot be combined with base64 encodings",
            ));
        }
        Ok(m)
    }

    /// Keywords and keyed values without a position modifier default to `contains`.
    pub(crate) fn with_default_contains(mut self) -> Modifiers {
        if self.op.is_none()
            && self.re.is_none()
            && !self.cidr
            && self.cmp.is_none()
            && !self.exists
            && !self.fieldref
        {
            self.op = Some(StrOp::Contains);
        }
        self
    }

    /// Compiles every value of the key into matchers.
    pub(crate) fn compile(
        &self,
        values: &[Yaml],
        field_map: &dyn Fn(&str) -> String,
        placeholders: &HashMap<String, Vec<String>>,
    ) -> Result<Vec<Matcher>, Refusal> {
        let mut out = Vec::new();
        for v in values {
            self.compile_one(v, field_map, placeholders, &mut out)?;
        }
        if self.neq {
            out = out.into_iter().map(|m| Matcher::Not(Box::new(m))).collect();
        }
        Ok(out)
    }

    fn compile_one(
        &self,
        value: &Yaml,
        field_map: &dyn Fn(&str) -> String,
        placeholders: &HashMap<String, Vec<String>>,
        out: &mut Vec<Matcher>,
    ) -> Result<(), Refusal> {
        if self.exists {
            match value {
                Yaml::Bool(b) => out.push(Matcher::Exists(*b)),
                Yaml::String(s)
                    if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
                {
                    out.push(Matcher::Exists(s.eq_ignore_ascii_case("true")))
                }
                _ => return Err(Refusal::invalid("`exists` takes true or false")),
            }
            return Ok(());
        }
        let text = match value {
            Yaml::Null => {
                out.push(Matcher::Null);
                return Ok(());
            }
            Yaml::Bool(b) if self.op.is_none() && self.cmp.is_none() => {
                out.push(Matcher::Bool(*b));
                return Ok(());
            }
            Yaml::Bool(b) => b.to_string(),
            Yaml::Number(n) => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if let Some(op) = self.cmp {
                    out.push(Matcher::Cmp { op, value: f });
                    return Ok(());
                }
                if self.op.is_none() && self.encodings.is_empty() && self.re.is_none() && !self.cidr
                {
                    out.push(Matcher::Num {
                        value: f,
                        text: n.to_string(),
                    });
                    return Ok(());
                }
                n.to_string()
            }
            Yaml::String(s) => s.clone(),
            Yaml::Sequence(_) | Yaml::Mapping(_) | Yaml::Tagged(_) => {
                return Err(Refusal::invalid(
                    "a field value must be a scalar or a list of scalars",
                ));
            }
        };
        if let Some(op) = self.cmp {
            let n: f64 = text.trim().parse().map_err(|_| {
                Refusal::invalid(format!("comparison value `{text}` is not a number"))
            })?;
            out.push(Matcher::Cmp { op, value: n });
            return Ok(());
        }
        if self.cidr {
            let net = Cidr::parse(&text)
                .ok_or_else(|| Refusal::invalid(format!("`{text}` is not a CIDR network")))?;
            out.push(Matcher::Cidr(net));
            return Ok(());
        }
        if self.fieldref {
            out.push(Matcher::FieldRef {
                other: field_map(&text),
                op: self.op.unwrap_or(StrOp::Exact),
                cased: self.cased,
            });
            return Ok(());
        }
        if let Some((i, m, s)) = self.re {
            let mut flags = String::new();
            for (on, f) in [(i, 'i'), (m, 'm'), (s, 's')] {
                if on {
                    flags.push(f);
                }
            }
            let pattern = if flags.is_empty() {
                text.clone()
            } else {
                format!("(?{flags}){text}")
            };
            let re = Regex::new(&pattern).map_err(|e| {
                let msg = e.to_string();
                if msg.contains("look-around") || msg.contains("backreferences") {
                    Refusal::unsupported(format!(
                        "regex `{text}` uses look-around or backreferences"
                    ))
                } else {
                    Refusal::invalid(format!(
                        "regex `{text}`: {}",
                        msg.lines().last().unwrap_or("")
                    ))
                }
            })?;
            out.push(Matcher::Regex(re));
            return Ok(());
        }
        let mut variants = if self.expand {
            expand(&text, placeholders)?
        } else {
            vec![text]
        };
        if self.windash {
            variants = variants.iter().flat_map(|v| windash(v)).collect();
        }
        let mut bytes: Vec<Vec<u8>> = variants.into_iter().map(String::into_bytes).collect();
        let mut encoded = false;
        for enc in &self.encodings {
            bytes = bytes
                .into_iter()
                .flat_map(|b| {
                    let s = String::from_utf8_lossy(&b).into_owned();
                    match *enc {
                        "utf16le" => vec![utf16(&s, false, false)],
                        "utf16be" => vec![utf16(&s, true, false)],
                        "utf16" => vec![utf16(&s, false, true)],
                        "base64" => vec![base64(&b).into_bytes()],
                        _ => base64_offsets(&b)
                            .into_iter()
                            .map(String::into_bytes)
                            .collect(),
                    }
                })
                .collect();
            encoded = true;
        }
        for b in bytes {
            let s = String::from_utf8_lossy(&b).into_owned();
            // Encoded values are literal: escape wildcard characters they may contain.
            let s = if encoded {
                s.replace('\\', "\\\\")
                    .replace('*', "\\*")
                    .replace('?', "\\?")
            } else {
                s
            };
            let s = match self.op {
                Some(StrOp::Contains) => format!("*{s}*"),
                Some(StrOp::Prefix) => format!("{s}*"),
                Some(StrOp::Suffix) => format!("*{s}"),
                _ => s,
            };
            // A base64 text is case-sensitive by nature.
            out.push(string_matcher(&s, self.cased || encoded)?);
        }
        Ok(())
    }
}

/// Replaces `%name%` placeholders with each configured value.
fn expand(text: &str, placeholders: &HashMap<String, Vec<String>>) -> Result<Vec<String>, Refusal> {
    let mut results = vec![String::new()];
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        let Some(len) = rest[start + 1..].find('%') else {
            break;
        };
        let name = &rest[start + 1..start + 1 + len];
        let values = placeholders.get(name).ok_or_else(|| {
            Refusal::unsupported(format!(
                "placeholder %{name}% has no configured values (set it under sigma.placeholders)"
            ))
        })?;
        let prefix = &rest[..start];
        results = results
            .iter()
            .flat_map(|r| values.iter().map(move |v| format!("{r}{prefix}{v}")))
            .collect();
        rest = &rest[start + 2 + len..];
    }
    for r in &mut results {
        r.push_str(rest);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_reference_alphabet() {
        assert_eq!(base64(b"cmd"), "Y21k");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }

    #[test]
    fn base64offset_yields_the_three_alignments() {
        // Sigma's modifier appendix example for `/bin/bash`.
        let v = base64_offsets(b"/bin/bash");
        assert_eq!(v, vec!["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]);
    }

    #[test]
    fn cidr_contains_its_addresses_only() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.2.3.4".parse().unwrap()));
        assert!(!net.contains("11.2.3.4".parse().unwrap()));
        let v6 = Cidr::parse("fe80::/10").unwrap();
        assert!(v6.contains("fe80::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn wildcards_become_literals_when_they_can() {
        assert!(matches!(
            string_matcher("*abc*", false).unwrap(),
            Matcher::Contains { .. }
        ));
        assert!(matches!(
            string_matcher("abc*", false).unwrap(),
            Matcher::Str {
                op: StrOp::Prefix,
                ..
            }
        ));
        assert!(matches!(
            string_matcher("a*c", false).unwrap(),
            Matcher::Glob { .. }
        ));
        assert!(matches!(
            string_matcher("a?c", false).unwrap(),
            Matcher::Regex(_)
        ));
        match string_matcher("a\\*c", false).unwrap() {
            Matcher::Str {
                op: StrOp::Exact,
                pat,
                ..
            } => assert_eq!(pat, "a*c"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn star_globs_match_like_the_regex_they_replace() {
        let cases = [
            ("wget * - http* | perl", "wget -q - http://x | perl", true),
            ("wget * - http* | perl", "wget -q - ftp://x | perl", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "acb", false),
            ("ab*ba", "aba", false),
            ("*x*y", "zzxzzy", true),
            ("*x*y", "zzxzzyz", false),
            ("x*y*", "xy", true),
        ];
        for (pattern, text, want) in cases {
            let m = string_matcher(pattern, false).unwrap();
            assert!(matches!(m, Matcher::Glob { .. }), "{pattern}");
            let re = wildcard_regex(pattern, false).unwrap();
            assert_eq!(re.is_match(text), want, "regex {pattern} on {text}");
            let lower = lowercase(text);
            let ev = ironpost_core::event::LogRecord::new("s", "f", "");
            let mut buf = String::new();
            let got = m.test(
                Some(FieldValue::Str(text)),
                Some(text),
                Some(&lower),
                &ev,
                &mut buf,
            );
            assert_eq!(got, want, "glob {pattern} on {text}");
        }
    }

    #[test]
    fn windash_spells_every_dash() {
        let v = windash("-enc x");
        assert_eq!(v.len(), 5);
        assert!(v.contains(&"/enc x".to_owned()));
        assert!(v.contains(&"\u{2014}enc x".to_owned()));
    }

    #[test]
    fn expand_uses_configured_placeholders() {
        let mut p = HashMap::new();
        p.insert(
            "admins".to_owned(),
            vec!["root".to_owned(), "adm".to_owned()],
        );
        assert_eq!(expand("%admins%", &p).unwrap(), vec!["root", "adm"]);
        assert!(expand("%nope%", &p).is_err());
    }
}
