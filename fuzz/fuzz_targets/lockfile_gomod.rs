//! A `go.mod`, optionally followed after a NUL byte by its `go.sum`, through the Go parser (require
//! and replace blocks, `// indirect`), then what a scan does with the inventory. Never a panic;
//! every edge points at a package.
#![no_main]

use ironpost_fuzz::{check_inventory, lock_path, split_nul, text};
use ironpost_sbom_scanner::lockfiles::{go_sum_pairs, parse_go_mod};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (go_mod, go_sum) = split_nul(data);
    let go_sum = go_sum.map(text);
    if let Some(sum) = go_sum.as_deref() {
        let _ = go_sum_pairs(sum);
    }
    if let Ok(inv) = parse_go_mod(lock_path("go.mod"), &text(go_mod), go_sum.as_deref()) {
        check_inventory(&inv);
    }
});
