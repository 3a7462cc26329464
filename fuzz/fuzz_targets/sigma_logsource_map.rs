//! A log-source mapping file (the YAML users write to route events to rules and rename fields),
//! alone and on top of the shipped mapping. Never a panic.
#![no_main]

use ironpost_fuzz::{sigma_map, text};
use ironpost_sigma::LogSourceMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let yaml = text(data);
    if let Ok(map) = LogSourceMap::from_yaml(&yaml, "fuzz.yaml") {
        let _ = map.entries().len();
    }
    let mut map = sigma_map();
    let _ = map.extend_yaml(&yaml, "fuzz.yaml");
});
