//! Every SBOM written for every real lockfile validates against the official CycloneDX 1.6 and
//! SPDX 2.3 schemas, offline: the schemas the CycloneDX schema refers to by URL are
//! registered from their local copies.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ironpost_sbom_scanner::Inventory;
use ironpost_sbom_scanner::discover::{DiscoverOptions, discover};
use ironpost_sbom_scanner::lockfiles;
use ironpost_sbom_scanner::sbom::{BomMeta, cyclonedx_json, spdx_json};
use jsonschema::{Registry, Resource, Validator};
use serde_json::Value;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");

fn load(rel: &str) -> Value {
    let p = Path::new(SHARED).join(rel);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn cyclonedx_validator() -> Validator {
    let registry = Registry::new()
        .extend([
            (
                "http://cyclonedx.org/schema/spdx.schema.json",
                Resource::from_contents(load("schemas/cyclonedx/spdx.schema.json")),
            ),
            (
                "http://cyclonedx.org/schema/jsf-0.82.schema.json",
                Resource::from_contents(load("schemas/cyclonedx/jsf-0.82.schema.json")),
            ),
            (
                "http://cyclonedx.org/schema/cryptography-defs.schema.json",
                Resource::from_contents(load("schemas/cyclonedx/cryptography-defs.schema.json")),
            ),
        ])
        .unwrap()
        .prepare()
        .unwrap();
    jsonschema::options()
        .with_registry(&registry)
        .should_validate_formats(true)
        .build(&load("schemas/cyclonedx/bom-1.6.schema.json"))
        .unwrap()
}

fn spdx_validator() -> Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&load("schemas/spdx/spdx-2.3.schema.json"))
        .unwrap()
}

fn inventories() -> Vec<(PathBuf, Inventory)> {
    let root = Path::new(SHARED).join("data/lockfiles");
    let (found, errors) = discover(&[root], &DiscoverOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        found.len(),
        11,
        "every lockfile but go.sum (read with go.mod)"
    );
    found
        .into_iter()
        .map(|f| (f.path.clone(), lockfiles::parse_file(&f.path).unwrap()))
        .collect()
}

fn assert_valid(v: &Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}");
}

#[test]
fn cyclonedx_for_every_lockfile_is_schema_valid() {
    let v = cyclonedx_validator();
    for (path, inv) in inventories() {
        let doc = cyclonedx_json(std::slice::from_ref(&inv), &BomMeta::new("project"));
        assert_valid(&v, &doc, &path.display().to_string());
        let comps = doc["components"].as_array().unwrap();
        assert!(!comps.is_empty());
        let refs: HashSet<&str> = comps
            .iter()
            .map(|c| c["bom-ref"].as_str().unwrap())
            .collect();
        assert_eq!(
            refs.len(),
            comps.len(),
            "{}: bom-refs are unique",
            path.display()
        );
        for d in doc["dependencies"].as_array().unwrap() {
            for r in d["dependsOn"].as_array().unwrap() {
                assert!(
                    refs.contains(r.as_str().unwrap()),
                    "dangling dependency {r}"
                );
            }
        }
        assert!(
            doc["serialNumber"]
                .as_str()
                .unwrap()
                .starts_with("urn:uuid:")
        );
    }
}

#[test]
fn spdx_for_every_lockfile_is_schema_valid() {
    let v = spdx_validator();
    for (path, inv) in inventories() {
        let doc = spdx_json(std::slice::from_ref(&inv), &BomMeta::new("project"));
        assert_valid(&v, &doc, &path.display().to_string());
        let ids: Vec<&str> = doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["SPDXID"].as_str().unwrap())
            .collect();
        let unique: HashSet<&&str> = ids.iter().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "{}: SPDXIDs are unique",
            path.display()
        );
        for id in &ids {
            let rest = id.strip_prefix("SPDXRef-").unwrap();
            assert!(
                rest.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
                "SPDXID {id}"
            );
        }
        let rels = doc["relationships"].as_array().unwrap();
        assert_eq!(
            rels.iter()
                .filter(|r| r["relationshipType"] == "DESCRIBES")
                .count(),
            1
        );
        assert!(rels.iter().any(|r| r["relationshipType"] == "DEPENDS_ON"));
    }
}

#[test]
fn merged_sbom_of_all_lockfiles_is_valid() {
    let invs: Vec<Inventory> = inventories().into_iter().map(|(_, i)| i).collect();
    let meta = BomMeta::new("shared data");
    assert_valid(
        &cyclonedx_validator(),
        &cyclonedx_json(&invs, &meta),
        "merged CycloneDX",
    );
    assert_valid(&spdx_validator(), &spdx_json(&invs, &meta), "merged SPDX");
}

#[test]
fn a_broken_document_is_rejected() {
    // Guards the guard: the validators must catch a malformed hash or checksum algorithm.
    let inv =
        lockfiles::parse_file(&Path::new(SHARED).join("data/lockfiles/cargo/Cargo.lock")).unwrap();
    let mut doc = cyclonedx_json(std::slice::from_ref(&inv), &BomMeta::new("x"));
    doc["components"][0]["hashes"][0]["content"] = Value::from("not hex");
    assert!(!cyclonedx_validator().is_valid(&doc));
    let mut doc = spdx_json(std::slice::from_ref(&inv), &BomMeta::new("x"));
    doc["packages"][1]["checksums"][0]["algorithm"] = Value::from("SHA-256");
    assert!(!spdx_validator().is_valid(&doc));
}

#[test]
fn purls_are_percent_encoded_and_hashes_hex() {
    let inv =
        lockfiles::parse_file(&Path::new(SHARED).join("data/lockfiles/insomnia/package-lock.json"))
            .unwrap();
    let doc = cyclonedx_json(std::slice::from_ref(&inv), &BomMeta::new("insomnia"));
    let comps = doc["components"].as_array().unwrap();
    let scoped: Vec<&str> = comps
        .iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with('@'))
        .map(|c| c["purl"].as_str().unwrap())
        .collect();
    assert!(scoped.len() > 100);
    // The scope's `@` is encoded; the only literal `@` separates the version.
    assert!(
        scoped
            .iter()
            .all(|p| p.starts_with("pkg:npm/%40") && p.matches('@').count() == 1),
        "{scoped:?}"
    );
    let babel = comps.iter().find(|c| c["name"] == "@babel/core").unwrap();
    assert_eq!(
        babel["purl"],
        format!(
            "pkg:npm/%40babel/core@{}",
            babel["version"].as_str().unwrap()
        )
    );
    for c in comps {
        for h in c["hashes"].as_array().into_iter().flatten() {
            let content = h["content"].as_str().unwrap();
            assert!(
                content.len() >= 32 && content.bytes().all(|b| b.is_ascii_hexdigit()),
                "{content}"
            );
        }
    }
    let cargo =
        lockfiles::parse_file(&Path::new(SHARED).join("data/lockfiles/cargo/Cargo.lock")).unwrap();
    let doc = cyclonedx_json(std::slice::from_ref(&cargo), &BomMeta::new("cargo"));
    assert!(
        doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["purl"] == "pkg:cargo/libgit2-sys@0.15.0%2B1.6.3")
    );
}
