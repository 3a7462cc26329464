//! Fields borrowed from a line: what the RFC 3164 header and normalization extract, before
//! anything is copied into a [`LogRecord`]'s owned [`Fields`].
//!
//! [`FieldBuf`] keeps its first [`FieldBuf::INLINE`] fields inline, so a parsed line needs no
//! allocation until it becomes a [`LogRecord`]. The extractors in [`crate::normalize`] write
//! through one crate-internal sink trait, implemented over a [`FieldBuf`] and over a record's
//! [`Fields`]: the borrowed and the owned paths run the same code.
//!
//! [`LogRecord`]: ironpost_core::event::LogRecord

use std::fmt;

use chrono::{DateTime, Utc};
use ironpost_core::event::{CompactString, FieldValue, Fields, Value};

/// One field value, text borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldRef<'a> {
    /// Text.
    Str(&'a str),
    /// A signed integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

impl<'a> FieldRef<'a> {
    /// The owned value stored in a [`LogRecord`](ironpost_core::event::LogRecord): text of up
    /// to 24 bytes is stored inline, without allocating.
    pub fn to_value(self) -> Value {
        match self {
            FieldRef::Str(s) => Value::Str(CompactString::new(s)),
            FieldRef::Int(i) => Value::Int(i),
            FieldRef::Bool(b) => Value::Bool(b),
        }
    }

    /// The value as the Sigma engine reads it.
    pub fn view(self) -> FieldValue<'a> {
        match self {
            FieldRef::Str(s) => FieldValue::Str(s),
            FieldRef::Int(i) => FieldValue::Int(i),
            FieldRef::Bool(b) => FieldValue::Bool(b),
        }
    }
}

impl<'a> From<&'a str> for FieldRef<'a> {
    fn from(s: &'a str) -> Self {
        FieldRef::Str(s)
    }
}

impl From<i64> for FieldRef<'_> {
    fn from(i: i64) -> Self {
        FieldRef::Int(i)
    }
}

impl From<bool> for FieldRef<'_> {
    fn from(b: bool) -> Self {
        FieldRef::Bool(b)
    }
}

macro_rules! names {
    ($($variant:ident = $name:literal,)*) => {
        /// The name of a field that the RFC 3164 header or normalization writes (the contract
        /// documented in [`crate::normalize`]): one byte, compared without looking at text.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Name {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Name {
            /// Every name.
            pub const ALL: &'static [Name] = &[$(Name::$variant,)*];

            /// The field name as records and Sigma rules spell it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Name::$variant => $name,)*
                }
            }

            /// The field name as a record holds it, built at compile time: `const_new` run at
            /// run time would copy the name byte by byte.
            #[inline]
            pub fn to_compact(self) -> CompactString {
                static NAMES: &[CompactString] = &[$(CompactString::const_new($name),)*];
                NAMES[self as usize].clone()
            }
        }
    };
}

names! {
    Program = "program",
    Procid = "procid",
    Repeated = "repeated",
    AuthMethod = "auth_method",
    Outcome = "outcome",
    InvalidUser = "invalid_user",
    User = "user",
    SrcIp = "src_ip",
    SrcPort = "src_port",
    PamModule = "pam_module",
    PamService = "pam_service",
    PamType = "pam_type",
    Session = "session",
    ByUser = "by_user",
    Logname = "logname",
    Uid = "uid",
    Euid = "euid",
    Tty = "tty",
    Ruser = "ruser",
    Rhost = "rhost",
    TargetUser = "target_user",
    Command = "command",
    Pwd = "pwd",
    Reason = "reason",
    Action = "action",
    Group = "group",
    Gid = "gid",
    Home = "home",
    Shell = "shell",
    CIp = "c-ip",
    CsUsername = "cs-username",
    CsMethod = "cs-method",
    CUri = "c-uri",
    CsUriStem = "cs-uri-stem",
    CsUriQuery = "cs-uri-query",
    CUriExtension = "c-uri-extension",
    CsVersion = "cs-version",
    CsUri = "cs-uri",
    ScStatus = "sc-status",
    ScBytes = "sc-bytes",
    CsReferer = "cs-referer",
    CsUserAgent = "cs-user-agent",
    CUseragent = "c-useragent",
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored field: the name sits beside the value's tag, so a slot is 24 bytes.
#[derive(Clone, Copy)]
enum Slot<'a> {
    Str(Name, &'a str),
    Int(Name, i64),
    Bool(Name, bool),
}

impl<'a> Slot<'a> {
    fn new(name: Name, value: FieldRef<'a>) -> Self {
        match value {
            FieldRef::Str(s) => Slot::Str(name, s),
            FieldRef::Int(i) => Slot::Int(name, i),
            FieldRef::Bool(b) => Slot::Bool(name, b),
        }
    }

    fn name(self) -> Name {
        match self {
            Slot::Str(n, _) | Slot::Int(n, _) | Slot::Bool(n, _) => n,
        }
    }

    fn field(self) -> (Name, FieldRef<'a>) {
        match self {
            Slot::Str(n, s) => (n, FieldRef::Str(s)),
            Slot::Int(n, i) => (n, FieldRef::Int(i)),
            Slot::Bool(n, b) => (n, FieldRef::Bool(b)),
        }
    }
}

/// Named borrowed fields in insertion order, the first [`FieldBuf::INLINE`] stored inline.
///
/// Same rules as [`Fields::insert`]: a name set twice keeps its first position and takes the
/// last value, so [`FieldBuf::to_fields`] gives exactly the fields that inserting into a
/// [`Fields`] directly would.
#[derive(Clone)]
pub struct FieldBuf<'a> {
    len: usize,
    inline: [Slot<'a>; FieldBuf::INLINE],
    spill: Vec<Slot<'a>>,
}

impl Default for FieldBuf<'_> {
    fn default() -> Self {
        FieldBuf::new()
    }
}

impl<'a> FieldBuf<'a> {
    /// Fields stored without allocation (as many as any one extractor writes today).
    pub const INLINE: usize = 16;

    /// No fields.
    pub fn new() -> Self {
        FieldBuf {
            len: 0,
            inline: [Slot::Bool(Name::Program, false); FieldBuf::INLINE],
            spill: Vec::new(),
        }
    }

    /// Sets `name` to `value`, replacing an earlier value of the same name in place.
    pub fn insert(&mut self, name: Name, value: impl Into<FieldRef<'a>>) {
        let slot = Slot::new(name, value.into());
        let n = self.len.min(Self::INLINE);
        for e in self.inline[..n].iter_mut().chain(self.spill.iter_mut()) {
            if e.name() == name {
                *e = slot;
                return;
            }
        }
        if self.len < Self::INLINE {
            self.inline[self.len] = slot;
        } else {
            self.spill.push(slot);
        }
        self.len += 1;
    }

    /// The value of `name`.
    pub fn get(&self, name: Name) -> Option<FieldRef<'a>> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The fields in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (Name, FieldRef<'a>)> + '_ {
        self.slots().map(|s| s.field())
    }

    /// The stored slots in insertion order.
    fn slots(&self) -> impl Iterator<Item = &Slot<'a>> + '_ {
        self.inline[..self.len.min(Self::INLINE)]
            .iter()
            .chain(self.spill.iter())
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The owned fields of a [`LogRecord`](ironpost_core::event::LogRecord), in the same order:
    /// one allocation of the exact size (none without fields), static names, short texts
    /// inline.
    //
    // Written for the store buffer, as measured on the Loghub benchmark (docs/benchmarks.md):
    // a field built first and then pushed is assembled in a stack slot in words and bytes (the
    // value's tag is a byte of the text's last word) and copied into the vector in 16-byte
    // loads, which wait for those stores to retire: a store-forwarding stall per field, 5% of
    // the owned parse. Each match arm below writes its field straight into the vector's spare
    // capacity instead, and the function is inlined so that the vector itself stays in
    // registers until the record holds it.
    #[inline(always)]
    pub fn to_fields(&self) -> Fields {
        let mut fields: Vec<(CompactString, Value)> = Vec::with_capacity(self.len);
        let mut written = 0;
        for (slot, spare) in self.slots().zip(fields.spare_capacity_mut()) {
            match *slot {
                Slot::Str(n, s) => spare.write((n.to_compact(), Value::Str(CompactString::new(s)))),
                Slot::Int(n, i) => spare.write((n.to_compact(), Value::Int(i))),
                Slot::Bool(n, b) => spare.write((n.to_compact(), Value::Bool(b))),
            };
            written += 1;
        }
        // SAFETY: the first `written` elements of the spare capacity were just initialized.
        unsafe { fields.set_len(written) };
        // `insert` has already made the names distinct.
        Fields::from_distinct(fields)
    }
}

impl fmt::Debug for FieldBuf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(n, v)| (n.as_str(), v)))
            .finish()
    }
}

impl PartialEq for FieldBuf<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

/// Where extractors write: a borrowed [`FieldBuf`] or an owned record's [`Fields`].
pub(crate) trait FieldSink<'a> {
    /// Sets a field (replacing an earlier value of the same name).
    fn put_ref(&mut self, name: Name, value: FieldRef<'a>);

    /// Replaces the record's timestamp (an access line's own time, sent through syslog).
    fn set_timestamp(&mut self, ts: DateTime<Utc>);

    /// [`FieldSink::put_ref`] for anything that converts into a [`FieldRef`].
    fn put(&mut self, name: Name, value: impl Into<FieldRef<'a>>) {
        self.put_ref(name, value.into());
    }
}

/// The fields and timestamp of an owned record, borrowed apart from its message so that
/// extractors can read the message while they write.
pub(crate) struct RecordSink<'r> {
    pub fields: &'r mut Fields,
    pub timestamp: &'r mut DateTime<Utc>,
}

impl<'a> FieldSink<'a> for RecordSink<'_> {
    fn put_ref(&mut self, name: Name, value: FieldRef<'a>) {
        self.fields.insert(name.to_compact(), value.to_value());
    }

    fn set_timestamp(&mut self, ts: DateTime<Utc>) {
        *self.timestamp = ts;
    }
}

/// The fields and timestamp of a borrowed view.
pub(crate) struct BufSink<'v, 'a> {
    pub fields: &'v mut FieldBuf<'a>,
    pub timestamp: &'v mut DateTime<Utc>,
}

impl<'a> FieldSink<'a> for BufSink<'_, 'a> {
    fn put_ref(&mut self, name: Name, value: FieldRef<'a>) {
        self.fields.insert(name, value);
    }

    fn set_timestamp(&mut self, ts: DateTime<Utc>) {
        *self.timestamp = ts;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_in_place_like_fields_and_spills_past_the_inline_slots() {
        let names = &Name::ALL[..20];
        let mut buf = FieldBuf::new();
        let mut owned = Fields::new();
        for (k, name) in names.iter().enumerate() {
            buf.insert(*name, k as i64);
            owned.insert(name.as_str(), k as i64);
        }
        // Replace one inline and one spilled name: positions stay, values change.
        for name in [names[2], names[18]] {
            buf.insert(name, "x");
            owned.insert(name.as_str(), "x");
        }
        buf.insert(Name::Shell, true);
        owned.insert("shell", Value::Bool(true));
        assert_eq!(buf.len(), 21);
        assert_eq!(buf.to_fields(), owned);
        assert_eq!(buf.get(names[18]), Some(FieldRef::Str("x")));
        assert_eq!(buf.get(Name::CUseragent), None);
        assert_eq!(FieldBuf::new(), FieldBuf::default());
        assert!(FieldBuf::new().is_empty());
    }

    #[test]
    fn names_are_distinct() {
        let mut seen: Vec<&str> = Name::ALL.iter().map(|n| n.as_str()).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), Name::ALL.len());
        assert_eq!(Name::CIp.to_string(), "c-ip");
        for name in Name::ALL {
            assert_eq!(name.to_compact(), name.as_str());
        }
    }
}
