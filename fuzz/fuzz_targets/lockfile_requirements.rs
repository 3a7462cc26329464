//! A pip `requirements.txt` (pins, ranges, URLs, options, includes) through its parser, then what a
//! scan does with the inventory (purls, dependency paths, merge, CycloneDX and SPDX). Never a
//! panic; every edge points at a package.
#![no_main]

use ironpost_fuzz::{check_inventory, lock_path, text};
use ironpost_sbom_scanner::lockfiles::parse_requirements;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(inv) = parse_requirements(lock_path("requirements.txt"), &text(data)) {
        check_inventory(&inv);
    }
});
