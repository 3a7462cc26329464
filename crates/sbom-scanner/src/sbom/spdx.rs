//! SPDX 2.3 JSON.
//!
//! Typed, borrowed structs serialised in one pass, as for CycloneDX.

use serde::Serialize;
use serde_json::Value;

use super::{BomMeta, Merged, looks_like_spdx_expression};
use crate::inventory::Inventory;

const ROOT_ID: &str = "SPDXRef-RootPackage";

#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "spdxVersion")]
    spdx_version: &'static str,
    #[serde(rename = "dataLicense")]
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: &'a str,
    #[serde(rename = "documentNamespace")]
    document_namespace: String,
    #[serde(rename = "creationInfo")]
    creation_info: CreationInfo,
    packages: Vec<Package<'a>>,
    relationships: Vec<Relationship<'a>>,
}

#[derive(Serialize)]
struct CreationInfo {
    created: String,
    creators: [String; 1],
}

#[derive(Serialize)]
struct Package<'a> {
    name: &'a str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'a str,
    #[serde(rename = "versionInfo", skip_serializing_if = "Option::is_none")]
    version_info: Option<&'a str>,
    #[serde(rename = "downloadLocation")]
    download_location: &'static str,
    #[serde(rename = "filesAnalyzed")]
    files_analyzed: bool,
    #[serde(
        rename = "primaryPackagePurpose",
        skip_serializing_if = "Option::is_none"
    )]
    purpose: Option<&'static str>,
    #[serde(rename = "licenseConcluded", skip_serializing_if = "Option::is_none")]
    license_concluded: Option<&'static str>,
    #[serde(rename = "licenseDeclared", skip_serializing_if = "Option::is_none")]
    license_declared: Option<&'a str>,
    #[serde(rename = "copyrightText", skip_serializing_if = "Option::is_none")]
    copyright_text: Option<&'static str>,
    #[serde(rename = "externalRefs", skip_serializing_if = "Option::is_none")]
    external_refs: Option<[ExternalRef<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksums: Option<[Checksum<'a>; 1]>,
}

#[derive(Serialize)]
struct ExternalRef<'a> {
    #[serde(rename = "referenceCategory")]
    category: &'static str,
    #[serde(rename = "referenceType")]
    kind: &'static str,
    #[serde(rename = "referenceLocator")]
    locator: &'a str,
}

#[derive(Serialize)]
struct Checksum<'a> {
    algorithm: String,
    #[serde(rename = "checksumValue")]
    value: &'a str,
}

#[derive(Serialize)]
struct Relationship<'a> {
    #[serde(rename = "spdxElementId")]
    element: &'a str,
    #[serde(rename = "relationshipType")]
    kind: &'static str,
    #[serde(rename = "relatedSpdxElement")]
    related: &'a str,
}

/// An SPDXID for entry `i`: unique by its index, readable by its name.
fn spdx_id(i: usize, name: &str, version: &str) -> String {
    let mut id = format!("SPDXRef-Package-{i}-");
    for c in name
        .chars()
        .chain(std::iter::once('-'))
        .chain(version.chars())
    {
        id.push(if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            c
        } else {
            '-'
        });
    }
    id
}

fn build<'a>(merged: &'a Merged<'a>, ids: &'a [String], meta: &'a BomMeta) -> Document<'a> {
    let mut packages = Vec::with_capacity(merged.packages.len() + 1);
    packages.push(Package {
        name: &meta.name,
        spdx_id: ROOT_ID,
        version_info: meta.version.as_deref(),
        download_location: "NOASSERTION",
        files_analyzed: false,
        purpose: Some("APPLICATION"),
        license_concluded: None,
        license_declared: None,
        copyright_text: None,
        external_refs: None,
        checksums: None,
    });
    for (i, (p, purl)) in merged.packages.iter().enumerate() {
        packages.push(Package {
            name: &p.name,
            spdx_id: &ids[i],
            version_info: Some(&p.version),
            download_location: "NOASSERTION",
            files_analyzed: false,
            purpose: None,
            license_concluded: Some("NOASSERTION"),
            license_declared: Some(
                p.license
                    .as_deref()
                    .filter(|l| looks_like_spdx_expression(l))
                    .unwrap_or("NOASSERTION"),
            ),
            copyright_text: Some("NOASSERTION"),
            external_refs: Some([ExternalRef {
                category: "PACKAGE-MANAGER",
                kind: "purl",
                locator: purl,
            }]),
            checksums: p.checksum.as_ref().map(|c| {
                [Checksum {
                    algorithm: c.algorithm.replace('-', ""),
                    value: &c.hex,
                }]
            }),
        });
    }
    let edges: usize = merged.deps.iter().map(|d| d.len()).sum();
    let mut relationships = Vec::with_capacity(1 + merged.direct.len() + edges);
    relationships.push(Relationship {
        element: "SPDXRef-DOCUMENT",
        kind: "DESCRIBES",
        related: ROOT_ID,
    });
    for &d in &merged.direct {
        relationships.push(Relationship {
            element: ROOT_ID,
            kind: "DEPENDS_ON",
            related: &ids[d],
        });
    }
    for (i, list) in merged.deps.iter().enumerate() {
        for &j in list {
            relationships.push(Relationship {
                element: &ids[i],
                kind: "DEPENDS_ON",
                related: &ids[j],
            });
        }
    }
    let slug: String = meta
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: &meta.name,
        document_namespace: format!("https://ironpost.invalid/spdx/{slug}-{}", meta.serial),
        creation_info: CreationInfo {
            created: meta.timestamp_z(),
            creators: [format!("Tool: ironpost-{}", env!("CARGO_PKG_VERSION"))],
        },
        packages,
        relationships,
    }
}

fn ids(merged: &Merged<'_>) -> Vec<String> {
    merged
        .packages
        .iter()
        .enumerate()
        .map(|(i, (p, _))| spdx_id(i, &p.name, &p.version))
        .collect()
}

/// The SPDX 2.3 document for `inventories`, as a JSON value.
pub fn spdx_json(inventories: &[Inventory], meta: &BomMeta) -> Value {
    let merged = Merged::new(inventories);
    let ids = ids(&merged);
    serde_json::to_value(build(&merged, &ids, meta)).expect("the document serialises")
}

/// The SPDX 2.3 document for `inventories`, pretty-printed.
pub fn spdx_string(inventories: &[Inventory], meta: &BomMeta) -> String {
    let merged = Merged::new(inventories);
    let ids = ids(&merged);
    serde_json::to_string_pretty(&build(&merged, &ids, meta)).expect("the document serialises")
}
