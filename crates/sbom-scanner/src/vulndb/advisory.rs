//! Advisories compiled for matching: events pre-sorted by each ecosystem's ordering.

use std::cmp::Ordering;

use ironpost_core::alert::Severity;
use serde::{Deserialize, Serialize};

use crate::inventory::Ecosystem;
use crate::versions;

/// An event of an OSV range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// Affected from this version on (`0` means from the beginning).
    #[serde(rename = "i")]
    Introduced(String),
    /// Not affected from this version on.
    #[serde(rename = "f")]
    Fixed(String),
    /// Affected up to and including this version.
    #[serde(rename = "l")]
    LastAffected(String),
}

impl Event {
    /// The version the event names.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) => v,
        }
    }
}

/// The versions of one package an advisory affects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    /// Ecosystem.
    #[serde(rename = "e")]
    pub ecosystem: Ecosystem,
    /// Package name, normalised as the ecosystem compares names.
    #[serde(rename = "n")]
    pub name: String,
    /// Ranges, each a list of events sorted by version.
    #[serde(rename = "r", default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Vec<Event>>,
    /// Versions listed one by one.
    #[serde(rename = "v", default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
}

fn sort_key_cmp(eco: Ecosystem, a: &Event, b: &Event) -> Ordering {
    // `introduced: 0` precedes every version, whatever the ecosystem's ordering says about "0".
    let zero = |e: &Event| matches!(e, Event::Introduced(v) if v == "0");
    match (zero(a), zero(b)) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => versions::compare(eco, a.version(), b.version()),
    }
}

impl Affected {
    /// Sorts each range's events by version, as the OSV evaluation algorithm requires.
    pub fn compile(&mut self) {
        let eco = self.ecosystem;
        for r in &mut self.ranges {
            r.sort_by(|a, b| sort_key_cmp(eco, a, b));
        }
    }

    /// Whether `version` is affected.
    pub fn matches(&self, version: &str) -> bool {
        let eco = self.ecosystem;
        if self
            .versions
            .iter()
            .any(|v| v == version || versions::compare(eco, v, version) == Ordering::Equal)
        {
            return true;
        }
        self.ranges.iter().any(|events| {
            // The state after the last event at or below the version decides (OSV spec,
            // "Evaluation"); `last_affected` applies only strictly above its version.
            let mut affected = false;
            for e in events {
                match e {
                    Event::Introduced(v) => {
                        if v == "0" || versions::compare(eco, version, v) != Ordering::Less {
                            affected = true;
                        }
                    }
                    Event::Fixed(v) => {
                        if versions::compare(eco, version, v) != Ordering::Less {
                            affected = false;
                        }
                    }
                    Event::LastAffected(v) => {
                        if versions::compare(eco, version, v) == Ordering::Greater {
                            affected = false;
                        }
                    }
                }
            }
            affected
        })
    }

    /// Every version named as a fix.
    pub fn fixed(&self) -> impl Iterator<Item = &str> {
        self.ranges.iter().flatten().filter_map(|e| match e {
            Event::Fixed(v) => Some(v.as_str()),
            _ => None,
        })
    }
}

/// One advisory, its aliases merged, ready to match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advisory {
    /// Primary id.
    pub id: String,
    /// Every other id of the same vulnerability.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// One-line summary.
    #[serde(default)]
    pub summary: String,
    /// Severity (records without a score default to medium).
    pub severity: Severity,
    /// RustSec's informational kind (`unmaintained`, `unsound`, `notice`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub informational: Option<String>,
    /// Last modification time of the record.
    pub modified: String,
    /// Affected packages.
    pub affected: Vec<Affected>,
}

impl Advisory {
    /// Whether `id` is this advisory's id or one of its aliases.
    pub fn is_known_as(&self, id: &str) -> bool {
        self.id.eq_ignore_ascii_case(id) || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affected(eco: Ecosystem, ranges: Vec<Vec<Event>>, versions: Vec<&str>) -> Affected {
        let mut a = Affected {
            ecosystem: eco,
            name: "x".into(),
            ranges,
            versions: versions.into_iter().map(String::from).collect(),
        };
        a.compile();
        a
    }

    #[test]
    fn introduced_fixed_pairs_and_reintroduction() {
        let a = affected(
            Ecosystem::CratesIo,
            vec![vec![
                Event::Fixed("1.2.0".into()),
                Event::Introduced("0.0.0-0".into()),
                Event::Introduced("2.0.0".into()),
                Event::Fixed("2.0.3".into()),
            ]],
            vec![],
        );
        for (v, want) in [
            ("0.1.0", true),
            ("1.1.9", true),
            ("1.2.0", false),
            ("1.9.0", false),
            ("2.0.0-rc.1", false),
            ("2.0.2", true),
            ("2.0.3", false),
        ] {
            assert_eq!(a.matches(v), want, "{v}");
        }
        assert_eq!(a.fixed().collect::<Vec<_>>(), vec!["1.2.0", "2.0.3"]);
    }

    /// A Maven range of a few dozen events mixing `1.0-alpha`, `1` and `1.sp` made `compile`
    /// panic (`sort_by`: "does not correctly implement a total order"), as importing such a
    /// record would; the ordering's cycle was found by the `version_order` fuzz target.
    #[test]
    fn long_maven_ranges_with_mixed_kinds_sort() {
        let events = "F:2 F:1.jre F:1.0-beta F:1.0-alpha F:1 I:1.0-beta F:2 I:1.sp I:2 F:1.jre \
                      I:1.0-alpha F:2 F:1.0-alpha I:1.sp F:1.jre F:1.0-beta F:1.0-beta F:1.0-beta \
                      F:2 I:1.jre F:1 F:1 I:1.0-beta I:1 I:1.0-alpha I:1 I:1.0-beta F:1.0-beta I:1";
        let events: Vec<Event> = events
            .split_whitespace()
            .map(|e| match e.split_once(':') {
                Some(("I", v)) => Event::Introduced(v.into()),
                Some((_, v)) => Event::Fixed(v.into()),
                None => unreachable!(),
            })
            .collect();
        let a = affected(Ecosystem::Maven, vec![events], vec![]);
        for w in a.ranges[0].windows(2) {
            let o = crate::versions::compare(Ecosystem::Maven, w[0].version(), w[1].version());
            assert_ne!(o, Ordering::Greater, "{w:?}");
        }
    }

    #[test]
    fn last_affected_and_explicit_versions() {
        let a = affected(
            Ecosystem::PyPI,
            vec![vec![
                Event::Introduced("0".into()),
                Event::LastAffected("2.0".into()),
            ]],
            vec!["3.1"],
        );
        assert!(a.matches("2.0.0"));
        assert!(a.matches("1.0rc1"));
        assert!(!a.matches("2.0.post1"));
        assert!(a.matches("3.1.0"));
        assert!(!a.matches("3.0"));
    }
}
