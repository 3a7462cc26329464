//! CycloneDX 1.6 JSON.
//!
//! The document is a tree of borrowed, typed structs serialised in one pass: building a
//! `serde_json::Value` first would allocate a map per component.

use serde::Serialize;
use serde_json::Value;

use super::{BomMeta, Merged, looks_like_spdx_expression};
use crate::inventory::{Inventory, Scope};

const ROOT_REF: &str = "root-component";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom<'a> {
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata<'a>,
    components: Vec<Component<'a>>,
    dependencies: Vec<Dependency<'a>>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    timestamp: String,
    tools: Tools,
    component: Root<'a>,
}

#[derive(Serialize)]
struct Tools {
    components: [Tool; 1],
}

#[derive(Serialize)]
struct Tool {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Root<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: &'static str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
}

#[derive(Serialize)]
struct Component<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: &'a str,
    name: &'a str,
    version: &'a str,
    purl: &'a str,
    scope: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hashes: Option<[Hash<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    licenses: Option<[License<'a>; 1]>,
}

#[derive(Serialize)]
struct Hash<'a> {
    alg: &'a str,
    content: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum License<'a> {
    Expression { expression: &'a str },
    Named { license: LicenseName<'a> },
}

#[derive(Serialize)]
struct LicenseName<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Dependency<'a> {
    #[serde(rename = "ref")]
    reference: &'a str,
    #[serde(rename = "dependsOn")]
    depends_on: Vec<&'a str>,
}

fn build<'a>(merged: &'a Merged<'a>, meta: &'a BomMeta) -> Bom<'a> {
    let components = merged
        .packages
        .iter()
        .map(|(p, purl)| Component {
            kind: "library",
            bom_ref: purl,
            name: &p.name,
            version: &p.version,
            purl,
            scope: match p.scope {
                Scope::Required => "required",
                Scope::Optional => "optional",
                // Dev-only packages do not ship with the product.
                Scope::Dev => "excluded",
            },
            hashes: p.checksum.as_ref().map(|c| {
                [Hash {
                    alg: &c.algorithm,
                    content: &c.hex,
                }]
            }),
            // A bare licence `id` must be on the SPDX list, which a lockfile does not promise;
            // an expression carries the same text without that constraint.
            licenses: p.license.as_deref().map(|l| {
                if looks_like_spdx_expression(l) {
                    [License::Expression { expression: l }]
                } else {
                    [License::Named {
                        license: LicenseName { name: l },
                    }]
                }
            }),
        })
        .collect();
    let mut dependencies = Vec::with_capacity(merged.packages.len() + 1);
    dependencies.push(Dependency {
        reference: ROOT_REF,
        depends_on: merged
            .direct
            .iter()
            .map(|&i| merged.packages[i].1.as_str())
            .collect(),
    });
    for (i, (_, purl)) in merged.packages.iter().enumerate() {
        dependencies.push(Dependency {
            reference: purl,
            depends_on: merged.deps[i]
                .iter()
                .map(|&j| merged.packages[j].1.as_str())
                .collect(),
        });
    }
    Bom {
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{}", meta.serial),
        version: 1,
        metadata: Metadata {
            timestamp: meta.timestamp_z(),
            tools: Tools {
                components: [Tool {
                    kind: "application",
                    name: "ironpost",
                    version: env!("CARGO_PKG_VERSION"),
                }],
            },
            component: Root {
                kind: "application",
                bom_ref: ROOT_REF,
                name: &meta.name,
                version: meta.version.as_deref(),
            },
        },
        components,
        dependencies,
    }
}

/// The CycloneDX 1.6 document for `inventories`, as a JSON value.
pub fn cyclonedx_json(inventories: &[Inventory], meta: &BomMeta) -> Value {
    let merged = Merged::new(inventories);
    serde_json::to_value(build(&merged, meta)).expect("the document serialises")
}

/// The CycloneDX 1.6 document for `inventories`, pretty-printed.
pub fn cyclonedx_string(inventories: &[Inventory], meta: &BomMeta) -> String {
    let merged = Merged::new(inventories);
    serde_json::to_string_pretty(&build(&merged, meta)).expect("the document serialises")
}
