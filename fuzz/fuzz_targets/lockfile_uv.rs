//! A `uv.lock` (TOML) through its parser, then what a scan does with the inventory (purls,
//! dependency paths, merge, CycloneDX and SPDX). Never a panic; every edge points at a package.
#![no_main]

use ironpost_fuzz::{check_inventory, lock_path, text};
use ironpost_sbom_scanner::lockfiles::parse_uv_lock;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(inv) = parse_uv_lock(lock_path("uv.lock"), &text(data)) {
        check_inventory(&inv);
    }
});
