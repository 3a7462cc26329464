//! The whole parsing stage over arbitrary bytes: the first byte picks the format (`auto` or any
//! parser), the rest is the line, decoded as a source decodes it, parsed and normalized.
#![no_main]

use ironpost_fuzz::{check_record, parse_options};
use ironpost_log_pipeline::sources::decode_lossy;
use ironpost_log_pipeline::{Format, parse_line_with};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, line)) = data.split_first() else {
        return;
    };
    let format = Format::ALL[pick as usize % Format::ALL.len()];
    let (text, _) = decode_lossy(line);
    if let Ok(rec) = parse_line_with(&text, format, "fuzz", &parse_options(line)) {
        check_record(&rec);
        // The message is taken from the line: never longer than it (JSON escapes only shrink).
        assert!(rec.message.len() <= text.len());
        if format != Format::Auto {
            assert_eq!(rec.format, format.name());
        }
    }
});
