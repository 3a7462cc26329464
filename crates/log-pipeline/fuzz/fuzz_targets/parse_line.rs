//! Every parser over arbitrary bytes: the first byte picks the format, the rest is the line.
//! Run: `cargo +nightly fuzz run parse_line fuzz/corpus/parse_line` from crates/log-pipeline.
#![no_main]

use ironpost_log_pipeline::sources::decode_lossy;
use ironpost_log_pipeline::{Format, parse_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, line)) = data.split_first() else { return };
    let format = Format::ALL[pick as usize % Format::ALL.len()];
    let (text, _) = decode_lossy(line);
    if let Ok(rec) = parse_line(&text, format, "fuzz") {
        // A record always names its format and keeps its message within the line's length.
        assert!(!rec.format.is_empty());
        assert!(rec.message.len() <= text.len() + 4 * rec.message.matches('\u{fffd}').count());
    }
});
