//! JSON lines through the JSON parser and web-field normalization. A first byte that cannot start a
//! JSON text (below 0x20, or 0x80 and above) is a nesting depth: the rest is wrapped in that many
//! levels of objects and arrays, so nesting around serde_json's limit of 128 is always explored.
//! Any other input is parsed as it is.
#![no_main]

use ironpost_fuzz::{check_record, parse_options, text};
use ironpost_log_pipeline::{Format, parse_line_with};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let line = if !(0x20..0x80).contains(&first) {
        let depth = usize::from(first);
        let inner = text(rest);
        let mut s = String::with_capacity(inner.len() + depth * 8);
        for level in 0..depth {
            s.push_str(if level % 2 == 0 { "{\"k\":" } else { "[" });
        }
        s.push_str(if inner.trim().is_empty() { "0" } else { &inner });
        for level in (0..depth).rev() {
            s.push(if level % 2 == 0 { '}' } else { ']' });
        }
        s
    } else {
        text(data).into_owned()
    };
    if let Ok(rec) = parse_line_with(&line, Format::Json, "fuzz", &parse_options(data)) {
        check_record(&rec);
        assert_eq!(rec.format, "json");
    }
});
