//! A `Cargo.lock` (versions 1 to 4) through its parser, then what a scan does with the inventory
//! (purls, dependency paths, merge, CycloneDX and SPDX). Never a panic; every edge points at a
//! package.
#![no_main]

use ironpost_fuzz::{check_inventory, lock_path, text};
use ironpost_sbom_scanner::lockfiles::parse_cargo_lock;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(inv) = parse_cargo_lock(lock_path("Cargo.lock"), &text(data)) {
        check_inventory(&inv);
    }
});
