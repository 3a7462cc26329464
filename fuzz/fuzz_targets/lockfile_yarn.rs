//! A `yarn.lock` (classic v1 or berry), optionally followed after a NUL byte by the `package.json`
//! beside it (which marks direct dependencies), through its parser, then what a scan does with the
//! inventory. Never a panic; every edge points at a package.
#![no_main]

use ironpost_fuzz::{check_inventory, lock_path, split_nul, text};
use ironpost_sbom_scanner::lockfiles::parse_yarn_lock;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (lock, manifest) = split_nul(data);
    let manifest = manifest.map(text);
    if let Ok(inv) = parse_yarn_lock(lock_path("yarn.lock"), &text(lock), manifest.as_deref()) {
        check_inventory(&inv);
    }
});
