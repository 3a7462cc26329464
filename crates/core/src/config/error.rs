//! Configuration errors that name the file, line, column and key at fault.

use std::fmt;
use std::path::PathBuf;

/// Where in a configuration file an error is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// A configuration that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read configuration: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("{}", display_parse(path, location, key, message))]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where, when known.
        location: Option<Location>,
        /// The dotted key, when known (`general.log_level`).
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// An `IRONPOST_<SECTION>__<KEY>` environment override is unusable.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// A value parses but is not acceptable.
    #[error("{}: key `{key}`: {message}", path.display())]
    Invalid {
        /// The file (or `<defaults>`).
        path: PathBuf,
        /// The dotted key.
        key: String,
        /// What is wrong and what is accepted.
        message: String,
    },
}

fn display_parse(
    path: &std::path::Path,
    location: &Option<Location>,
    key: &Option<String>,
    message: &str,
) -> String {
    let mut out = path.display().to_string();
    if let Some(loc) = location {
        out.push_str(&format!(":{}:{}", loc.line, loc.column));
    }
    out.push_str(": ");
    if let Some(key) = key {
        out.push_str(&format!("key `{key}`: "));
    }
    out.push_str(message);
    out
}

impl ConfigError {
    /// The dotted key at fault, when known.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Parse { key, .. } => key.as_deref(),
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The location at fault, when known.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Parse { location, .. } => location.as_ref(),
            _ => None,
        }
    }
}

/// Turns a byte offset into a 1-based line and column.
pub(crate) fn locate(text: &str, offset: usize) -> Location {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    Location { line, column }
}

/// Finds the dotted key an error span points at: the section header above it plus the key on
/// its line (whether the span covers the key itself or its value).
pub(crate) fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[offset..]
        .find('\n')
        .map(|i| offset + i)
        .unwrap_or(text.len());
    let line = text[line_start..line_end].trim();
    let mut section: Option<String> = None;
    for l in text[..line_start].lines().rev() {
        let l = l.trim();
        if l.starts_with('[') {
            section = Some(l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
            break;
        }
    }
    if line.starts_with('[') {
        return Some(
            line.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned(),
        );
    }
    let key = line.split('=').next()?.trim().trim_matches('"');
    if key.is_empty() || line.starts_with('#') {
        return section;
    }
    Some(match section {
        Some(s) => format!("{s}.{key}"),
        None => key.to_owned(),
    })
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_counts_lines_and_columns_from_one() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(locate(text, 0), Location { line: 1, column: 1 });
        assert_eq!(locate(text, 6), Location { line: 2, column: 1 });
        assert_eq!(locate(text, 11), Location { line: 2, column: 6 });
    }

    #[test]
    fn key_at_names_section_and_key() {
        let text = "[general]\nlog_level = 5\n\n[store]\nurl = 1\n";
        assert_eq!(key_at(text, 22).as_deref(), Some("general.log_level"));
        assert_eq!(key_at(text, text.len() - 2).as_deref(), Some("store.url"));
        assert_eq!(key_at(text, 1).as_deref(), Some("general"));
    }
}
