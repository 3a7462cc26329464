//! SBOM writers: CycloneDX 1.6 JSON and SPDX 2.3 JSON.
//!
//! Both start from [`Merged`]: the packages of every inventory, deduplicated by purl, with
//! the union of their edges and the set the project depends on directly.

mod cyclonedx;
mod spdx;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};

pub use cyclonedx::{cyclonedx_json, cyclonedx_string};
pub use spdx::{spdx_json, spdx_string};

use crate::inventory::{Inventory, Package};

/// The SBOM formats written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SbomFormat {
    /// CycloneDX 1.6 JSON.
    CycloneDxJson,
    /// SPDX 2.3 JSON.
    SpdxJson,
}

impl std::str::FromStr for SbomFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cyclonedx-json" | "cyclonedx" => Ok(SbomFormat::CycloneDxJson),
            "spdx-json" | "spdx" => Ok(SbomFormat::SpdxJson),
            other => Err(format!(
                "unknown SBOM format `{other}` (expected cyclonedx-json or spdx-json)"
            )),
        }
    }
}

/// What describes the document itself.
#[derive(Debug, Clone)]
pub struct BomMeta {
    /// The subject's name (project or host).
    pub name: String,
    /// The subject's version, if known.
    pub version: Option<String>,
    /// Creation time.
    pub timestamp: DateTime<Utc>,
    /// Serial number / namespace UUID.
    pub serial: uuid::Uuid,
}

impl BomMeta {
    /// Metadata for `name`, created now with a random serial number.
    pub fn new(name: impl Into<String>) -> Self {
        BomMeta {
            name: name.into(),
            version: None,
            timestamp: Utc::now(),
            serial: uuid::Uuid::new_v4(),
        }
    }

    pub(crate) fn timestamp_z(&self) -> String {
        self.timestamp.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// Packages of several inventories merged by purl.
#[derive(Debug, Default)]
pub struct Merged<'a> {
    /// One entry per distinct purl, in first-seen order, with its purl.
    pub packages: Vec<(&'a Package, String)>,
    /// Dependencies of each entry, as indexes into `packages`.
    pub deps: Vec<BTreeSet<usize>>,
    /// Entries the project depends on directly.
    pub direct: BTreeSet<usize>,
}

impl<'a> Merged<'a> {
    /// Merges `inventories`.
    pub fn new(inventories: &'a [Inventory]) -> Self {
        let mut m = Merged::default();
        let mut by_purl: HashMap<String, usize> = HashMap::new();
        for inv in inventories {
            let slots: Vec<usize> = inv
                .packages
                .iter()
                .map(|p| {
                    let purl = p.purl();
                    *by_purl.entry(purl.clone()).or_insert_with(|| {
                        m.packages.push((p, purl));
                        m.deps.push(BTreeSet::new());
                        m.packages.len() - 1
                    })
                })
                .collect();
            for (i, list) in inv.deps.iter().enumerate() {
                for &j in list {
                    if slots[i] != slots[j] {
                        m.deps[slots[i]].insert(slots[j]);
                    }
                }
                if inv.packages[i].direct {
                    m.direct.insert(slots[i]);
                }
            }
        }
        m
    }
}

/// Writes `inventories` as `format`, pretty-printed.
pub fn write(format: SbomFormat, inventories: &[Inventory], meta: &BomMeta) -> String {
    match format {
        SbomFormat::CycloneDxJson => cyclonedx_string(inventories, meta),
        SbomFormat::SpdxJson => spdx_string(inventories, meta),
    }
}

/// Whether `s` reads as an SPDX licence expression (ids, `AND`/`OR`/`WITH`, parentheses).
pub(crate) fn looks_like_spdx_expression(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '+' | ' ' | '(' | ')' | ':')
        })
        && s.split([' ', '(', ')']).filter(|t| !t.is_empty()).all(|t| {
            matches!(t, "AND" | "OR" | "WITH")
                || t.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == 'L')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Ecosystem, LockfileKind, Package};

    #[test]
    fn written_text_equals_the_value_form() {
        let mut inv = Inventory::new("Cargo.lock", LockfileKind::CargoLock);
        let a = inv.push(Package::new("a", "1.0.0", Ecosystem::CratesIo, 1));
        let b = inv.push(Package::new("b", "2.0.0", Ecosystem::CratesIo, 5));
        inv.deps[a].push(b);
        inv.packages[a].direct = true;
        inv.packages[b].license = Some("MIT OR Apache-2.0".into());
        let invs = [inv.clone(), inv];
        let meta = BomMeta::new("app");
        for (format, value) in [
            (SbomFormat::CycloneDxJson, cyclonedx_json(&invs, &meta)),
            (SbomFormat::SpdxJson, spdx_json(&invs, &meta)),
        ] {
            let text: serde_json::Value =
                serde_json::from_str(&write(format, &invs, &meta)).unwrap();
            assert_eq!(text, value);
        }
        // The same package in two inventories appears once.
        let merged = Merged::new(&invs);
        assert_eq!(merged.packages.len(), 2);
        assert_eq!(merged.deps[0].iter().copied().collect::<Vec<_>>(), vec![1]);
        let cdx = cyclonedx_json(&invs, &meta);
        assert_eq!(
            cdx["components"][1]["licenses"][0]["expression"],
            "MIT OR Apache-2.0"
        );
        assert_eq!(cdx["dependencies"][0]["dependsOn"][0], "pkg:cargo/a@1.0.0");
    }
}
