//! `ironpost.toml` text through the real configuration loader ([`Config::from_toml`]: TOML parsing,
//! environment overrides, checks). After an optional NUL byte, each line `NAME=VALUE` is an
//! environment variable (`IRONPOST_SECTION__KEY` overrides). A loaded configuration is also
//! rendered redacted and asked for its derived paths. Never a panic.
#![no_main]

use std::path::Path;

use ironpost_core::config::Config;
use ironpost_fuzz::{split_nul, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (toml, env) = split_nul(data);
    let env: Vec<(String, String)> = env
        .map(text)
        .map(|e| {
            e.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    if let Ok(config) = Config::from_toml(&text(toml), Path::new("fuzz.toml"), env) {
        let _ = config.to_redacted_toml();
        let _ = config.store_location();
        let _ = config.socket_path();
        let _ = config.spool_path();
        let _ = config.pid_path();
    }
});
