//! docs/configuration.md documents every key of ironpost.toml.example, and only those, with
//! the right defaults.
//!
//! # Keys of the example
//!
//! - Every value of the parsed example, named by its dotted path (`general.data_dir`). An
//!   array is one key (`sinks`, `log_pipeline.sources`, `sbom.skip_dirs`), and so is a table
//!   that is empty in the example (`sigma.placeholders`, whose entries are the user's own
//!   names). A non-empty array of tables would add `path[].key` for the keys of its entries.
//! - Optional keys the example shows as comments: after a commented array-of-tables header
//!   such as `# [[sinks]]` or `# [[log_pipeline.sources]]`, every following comment line of
//!   the form `# key = value` is the key `sinks[].key`, up to the first line that is not a
//!   comment. Comment lines that are not `key = value` (prose, `# # note`) are skipped. The
//!   uncommented entries must load into the configuration schema, so a commented key that
//!   does not exist, or has the wrong type, fails this test as well.
//!
//! # Keys of the documentation
//!
//! A key table in docs/configuration.md is a Markdown table whose header's first cell is
//! `key`. Each of its rows documents one key: the first cell is the dotted key in backticks
//! (`` `general.data_dir` ``, `` `sinks[].name` ``) and nothing else, and the `default` column
//! holds the default as one TOML value in backticks. Any other table is ignored; a row of a
//! key table that breaks the convention fails the test, so no key is silently missed.
//!
//! # What is checked
//!
//! Every key of the example is documented, every documented key is in the example (as a
//! value or as a comment), no key is documented twice, and each documented default equals the
//! example's value (for commented keys: the schema's default for an entry).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use ironpost_core::config::Config;
use ironpost_core::config::modules::LogSourceConfig;
use ironpost_core::config::sinks::SinkConfig;

fn repo_file(relative: &str) -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    (path, text)
}

/// The keys of the example's values, with their values.
fn value_keys(table: &toml::Table, prefix: &str, out: &mut BTreeMap<String, toml::Value>) {
    for (k, v) in table {
        let name = format!("{prefix}{k}");
        match v {
            toml::Value::Table(inner) if !inner.is_empty() => {
                value_keys(inner, &format!("{name}."), out)
            }
            toml::Value::Array(items)
                if !items.is_empty() && items.iter().all(toml::Value::is_table) =>
            {
                out.insert(name.clone(), v.clone());
                for item in items {
                    if let toml::Value::Table(inner) = item {
                        value_keys(inner, &format!("{name}[]."), out);
                    }
                }
            }
            _ => {
                out.insert(name, v.clone());
            }
        }
    }
}

fn is_bare_key(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The keys the example shows as comments inside commented `# [[array]]` entries, and the
/// entries uncommented (header and key lines) as one TOML text.
fn commented_keys(example: &str) -> (BTreeSet<String>, String) {
    let mut keys = BTreeSet::new();
    let mut uncommented = String::new();
    let mut array: Option<String> = None;
    for line in example.lines() {
        let Some(comment) = line.trim_start().strip_prefix('#') else {
            array = None;
            continue;
        };
        let body = comment.trim();
        if let Some(header) = body
            .strip_prefix("[[")
            .and_then(|h| h.strip_suffix("]]"))
            .map(str::trim)
        {
            array = Some(header.to_owned());
            uncommented.push_str(&format!("[[{header}]]\n"));
            continue;
        }
        let Some(array) = &array else { continue };
        let Some((key, _)) = body.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if is_bare_key(key) {
            keys.insert(format!("{array}[].{key}"));
            uncommented.push_str(body);
            uncommented.push('\n');
        }
    }
    (keys, uncommented)
}

/// Splits a Markdown table row into trimmed cells; a `|` inside backticks does not split.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut code = false;
    for c in inner.chars() {
        match c {
            '`' => {
                code = !code;
                cur.push(c);
            }
            '|' if !code => out.push(std::mem::take(&mut cur).trim().to_owned()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_owned());
    out
}

/// The text of a cell that is exactly one code span.
fn code_span(cell: &str) -> Option<&str> {
    let inner = cell.strip_prefix('`')?.strip_suffix('`')?;
    (!inner.is_empty() && !inner.contains('`')).then_some(inner)
}

/// A documented key: its line and its default cell.
struct DocKey {
    line: usize,
    default: Option<String>,
}

/// The keys of every key table of `doc`; convention errors go to `errors`.
fn documented_keys(doc: &str, errors: &mut Vec<String>) -> BTreeMap<String, DocKey> {
    let mut keys = BTreeMap::new();
    let lines: Vec<&str> = doc.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let is_header = lines[i].trim_start().starts_with('|')
            && lines
                .get(i + 1)
                .is_some_and(|l| l.trim_start().starts_with("|--") || l.contains("|---"));
        if !is_header {
            i += 1;
            continue;
        }
        let header = cells(lines[i]);
        let is_key_table = header
            .first()
            .is_some_and(|h| h.eq_ignore_ascii_case("key"));
        let default_col = header
            .iter()
            .position(|h| h.eq_ignore_ascii_case("default"));
        i += 2;
        while i < lines.len() && lines[i].trim_start().starts_with('|') {
            if is_key_table {
                let row = cells(lines[i]);
                let line = i + 1;
                match row.first().map(String::as_str).and_then(code_span) {
                    Some(key) if is_dotted_key(key) => {
                        let default = default_col.and_then(|c| row.get(c)).cloned();
                        if keys
                            .insert(key.to_owned(), DocKey { line, default })
                            .is_some()
                        {
                            errors.push(format!("line {line}: `{key}` is documented twice"));
                        }
                    }
                    _ => errors.push(format!(
                        "line {line}: the first cell of a key table row must be one dotted key in backticks, found `{}`",
                        row.first().map(String::as_str).unwrap_or("")
                    )),
                }
            }
            i += 1;
        }
    }
    keys
}

fn is_dotted_key(text: &str) -> bool {
    text.split('.')
        .all(|part| is_bare_key(part.strip_suffix("[]").unwrap_or(part)))
}

/// Reads `text` as one TOML value.
fn toml_value(text: &str) -> Option<toml::Value> {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
}

/// The schema's default of `key`: the example's value, or for `array[].key` the default of an
/// entry of that array.
fn default_of(key: &str, values: &BTreeMap<String, toml::Value>) -> Option<toml::Value> {
    if let Some(v) = values.get(key) {
        return Some(v.clone());
    }
    let (array, field) = key.split_once("[].")?;
    let entry = match array {
        "sinks" => toml::Table::try_from(SinkConfig::default()).ok()?,
        "log_pipeline.sources" => toml::Table::try_from(LogSourceConfig::default()).ok()?,
        _ => return None,
    };
    entry.get(field).cloned()
}

#[test]
fn configuration_reference_documents_every_key_of_the_example_and_only_those() {
    let (example_path, example) = repo_file("ironpost.toml.example");
    let (doc_path, doc) = repo_file("docs/configuration.md");

    let table: toml::Table = example
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", example_path.display()));
    let mut values = BTreeMap::new();
    value_keys(&table, "", &mut values);
    let (commented, uncommented) = commented_keys(&example);
    assert!(
        !commented.is_empty(),
        "no commented `# [[...]]` entry found in {}; the convention of this test no longer fits the file",
        example_path.display()
    );
    toml::from_str::<Config>(&uncommented).unwrap_or_else(|e| {
        panic!(
            "the commented entries of {} do not load into the schema once uncommented: {e}\n{uncommented}",
            example_path.display()
        )
    });
    let example_keys: BTreeSet<String> = values.keys().cloned().chain(commented).collect();

    let mut errors = Vec::new();
    let documented = documented_keys(&doc, &mut errors);
    let undocumented: Vec<&String> = example_keys
        .iter()
        .filter(|k| !documented.contains_key(*k))
        .collect();
    if !undocumented.is_empty() {
        errors.push(format!(
            "keys of ironpost.toml.example missing from the key tables: {}",
            undocumented
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let unknown: Vec<&String> = documented
        .keys()
        .filter(|k| !example_keys.contains(*k))
        .collect();
    if !unknown.is_empty() {
        errors.push(format!(
            "documented keys that ironpost.toml.example does not have: {}",
            unknown
                .iter()
                .map(|k| format!("`{k}` (line {})", documented[*k].line))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for (key, d) in &documented {
        if !example_keys.contains(key) {
            continue;
        }
        let Some(cell) = &d.default else {
            errors.push(format!(
                "line {}: `{key}`: its table has no `default` column",
                d.line
            ));
            continue;
        };
        let Some(documented_default) = code_span(cell).and_then(toml_value) else {
            errors.push(format!(
                "line {}: `{key}`: the default must be one TOML value in backticks, found `{cell}`",
                d.line
            ));
            continue;
        };
        match default_of(key, &values) {
            Some(real) if real == documented_default => {}
            Some(real) => errors.push(format!(
                "line {}: `{key}`: documented default {cell}, but the default is `{real}`",
                d.line
            )),
            None => errors.push(format!(
                "line {}: `{key}`: no default known to this test (a new commented array needs a line in `default_of`)",
                d.line
            )),
        }
    }
    assert!(
        errors.is_empty(),
        "{} and {} disagree:\n  {}",
        doc_path.display(),
        example_path.display(),
        errors.join("\n  ")
    );
}

#[test]
fn the_key_conventions_read_what_they_should() {
    let example = "[a]\nx = 1\n# Prose = not a key\n#\n# [[a.items]]\n# name = \"n\"   # note\n# # TLS = off\n# port = 1\nitems = []\n# later = 2\n";
    let (keys, uncommented) = commented_keys(example);
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        ["a.items[].name", "a.items[].port"]
    );
    assert_eq!(
        uncommented,
        "[[a.items]]\nname = \"n\"   # note\nport = 1\n"
    );
    let mut errors = Vec::new();
    let doc = "| section | what |\n|---|---|\n| `[a]` | x |\n\n| key | default | meaning |\n|---|---|---|\n| `a.x` | `1` | a number |\n| `a.items[].name` | `\"\"` | a | b |\n";
    let keys = documented_keys(doc, &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        keys.keys().map(String::as_str).collect::<Vec<_>>(),
        ["a.items[].name", "a.x"]
    );
    assert_eq!(keys["a.x"].default.as_deref(), Some("`1`"));
    documented_keys("| key | default |\n|---|---|\n| a.x | `1` |\n", &mut errors);
    assert_eq!(errors.len(), 1, "{errors:?}");
}
