//! The ignore file: advisories accepted for a reason, until an expiry date.
//!
//! ```toml
//! [[ignore]]
//! id = "CVE-2020-26235"          # the advisory id or any of its aliases
//! reason = "localtime_r is never called from more than one thread"
//! expires = "2026-12-31"         # the rule stops applying after this day
//! package = "time"               # optional: only for this package
//! ```

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::vulndb::Advisory;

/// An ignore file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    /// The file cannot be read.
    #[error("cannot read ignore file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// One accepted advisory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreRule {
    /// Advisory id or alias.
    pub id: String,
    /// Why it is accepted.
    pub reason: String,
    /// Last day the rule applies.
    pub expires: NaiveDate,
    /// Restricts the rule to one package.
    pub package: Option<String>,
    /// Line of the rule in its file.
    pub line: usize,
}

/// The rules of an ignore file.
#[derive(Debug, Clone, Default)]
pub struct IgnoreList {
    /// Rules in file order.
    pub rules: Vec<IgnoreRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Option<String>,
    reason: Option<String>,
    expires: Option<toml::Value>,
    package: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    ignore: Vec<RawRule>,
}

impl IgnoreList {
    /// Reads an ignore file.
    pub fn load(path: &Path) -> Result<Self, IgnoreError> {
        let text = std::fs::read_to_string(path).map_err(|source| IgnoreError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses ignore-file text; every rule needs an id, a reason and an expiry date.
    pub fn parse(path: &Path, text: &str) -> Result<Self, IgnoreError> {
        let invalid = |line: usize, message: String| IgnoreError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].lines().count().max(1)
            });
            invalid(line, e.message().to_string())
        })?;
        let headers = crate::lockfiles::lines_starting_with(text, "[[ignore]]");
        let mut rules = Vec::new();
        for (i, r) in raw.ignore.into_iter().enumerate() {
            let line = headers.get(i).copied().unwrap_or(0);
            let id =
                r.id.filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| invalid(line, "rule without `id`".into()))?;
            let reason = r.reason.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                invalid(
                    line,
                    format!("rule for {id} has no `reason`: say why the advisory does not apply"),
                )
            })?;
            let expires = match r.expires {
                Some(toml::Value::String(s)) => s,
                Some(toml::Value::Datetime(d)) => d.to_string(),
                _ => {
                    return Err(invalid(
                        line,
                        format!("rule for {id} has no `expires` date (YYYY-MM-DD)"),
                    ));
                }
            };
            let expires = NaiveDate::parse_from_str(&expires, "%Y-%m-%d").map_err(|e| {
                invalid(
                    line,
                    format!("rule for {id}: `expires = {expires}` is not a YYYY-MM-DD date ({e})"),
                )
            })?;
            rules.push(IgnoreRule {
                id,
                reason,
                expires,
                package: r.package,
                line,
            });
        }
        Ok(IgnoreList { rules })
    }

    /// The rule that accepts `advisory` for `package` on `today`, if any.
    pub fn find(
        &self,
        advisory: &Advisory,
        package: &str,
        today: NaiveDate,
    ) -> Option<&IgnoreRule> {
        self.rules.iter().find(|r| {
            today <= r.expires
                && advisory.is_known_as(&r.id)
                && r.package.as_deref().is_none_or(|p| p == package)
        })
    }

    /// Rules past their expiry on `today`.
    pub fn expired(&self, today: NaiveDate) -> impl Iterator<Item = &IgnoreRule> {
        self.rules.iter().filter(move |r| today > r.expires)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironpost_core::alert::Severity;

    fn adv() -> Advisory {
        Advisory {
            id: "RUSTSEC-2020-0071".into(),
            aliases: vec!["CVE-2020-26235".into(), "GHSA-wcg3-cvx6-7396".into()],
            summary: String::new(),
            severity: Severity::Medium,
            informational: None,
            modified: String::new(),
            affected: vec![],
        }
    }

    #[test]
    fn matches_aliases_until_expiry() {
        let text = "[[ignore]]\nid = \"cve-2020-26235\"\nreason = \"not reachable\"\nexpires = 2026-12-31\n\n[[ignore]]\nid = \"GHSA-wcg3-cvx6-7396\"\nreason = \"old\"\nexpires = \"2020-01-01\"\npackage = \"time\"\n";
        let list = IgnoreList::parse(Path::new(".ironpost-ignore.toml"), text).unwrap();
        let day = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            list.find(&adv(), "time", day("2026-12-31")).unwrap().line,
            1
        );
        assert!(list.find(&adv(), "time", day("2027-01-01")).is_none());
        assert_eq!(list.expired(day("2026-01-01")).count(), 1);
    }

    #[test]
    fn reason_and_expiry_are_required() {
        let err = IgnoreList::parse(
            Path::new("i.toml"),
            "[[ignore]]\nid = \"X\"\nexpires = 2026-01-01\n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("i.toml:1: rule for X has no `reason`"),
            "{err}"
        );
        let err = IgnoreList::parse(
            Path::new("i.toml"),
            "\n[[ignore]]\nid = \"X\"\nreason = \"r\"\n",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("i.toml:2") && err.to_string().contains("expires"),
            "{err}"
        );
        let err = IgnoreList::parse(
            Path::new("i.toml"),
            "[[ignore]]\nid = \"X\"\nreason = \"r\"\nexpires = \"soon\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("not a YYYY-MM-DD"), "{err}");
    }
}
