//! Software inventory and vulnerability matching for Ironpost.
//!
//! Data flows one way: [`discover`] finds lockfiles under the given roots, [`lockfiles`] turns
//! each into an [`Inventory`] (plain packages and edges), [`sbom`] writes inventories as
//! CycloneDX or SPDX, [`vulndb`] holds OSV advisories compiled into a local index and matches
//! packages against them with the orderings in [`versions`], and [`report`] prints findings.

pub mod discover;
pub mod inventory;
pub mod lockfiles;
pub mod purl;
pub mod report;
pub mod sbom;
pub mod scan;
pub mod versions;
pub mod vulndb;

pub use inventory::{Checksum, Ecosystem, Inventory, LockfileKind, Package, Scope};
