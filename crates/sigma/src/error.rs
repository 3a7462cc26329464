//! Why a rule file was refused.

use std::fmt;

/// Whether a refused rule is wrong, or right but beyond what this engine does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RefusalKind {
    /// The rule is not valid Sigma (bad YAML, missing key, bad condition, unknown modifier).
    Invalid,
    /// The rule is valid Sigma but uses a feature this engine does not evaluate.
    Unsupported,
}

impl fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RefusalKind::Invalid => "invalid",
            RefusalKind::Unsupported => "unsupported",
        })
    }
}

/// A rule document that was refused, with the file and the precise reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {kind}: {reason}")]
pub struct LoadError {
    /// The file the document came from.
    pub path: String,
    /// Invalid or unsupported.
    pub kind: RefusalKind,
    /// What is wrong, naming the key at fault.
    pub reason: String,
}

/// A refusal before the file is known; the loader adds the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub kind: RefusalKind,
    pub reason: String,
}

impl Refusal {
    pub(crate) fn invalid(reason: impl Into<String>) -> Refusal {
        Refusal {
            kind: RefusalKind::Invalid,
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(reason: impl Into<String>) -> Refusal {
        Refusal {
            kind: RefusalKind::Unsupported,
            reason: reason.into(),
        }
    }

    /// Prefixes the reason with the key it concerns.
    pub(crate) fn in_key(mut self, key: &str) -> Refusal {
        self.reason = format!("{key}: {}", self.reason);
        self
    }
}

/// An error in the log-source mapping file.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The YAML does not parse or does not have the documented shape.
    #[error("log-source mapping {path}: {source}")]
    Yaml {
        /// Where the mapping came from.
        path: String,
        /// The parser's message, with line and column.
        source: serde_yaml::Error,
    },
    /// An entry names an event kind that does not exist.
    #[error(
        "log-source mapping {path}: sources[{index}].when.kind: unknown kind `{kind}` (expected log, process, network or container)"
    )]
    UnknownKind {
        /// Where the mapping came from.
        path: String,
        /// The entry's position.
        index: usize,
        /// The kind named.
        kind: String,
    },
}
