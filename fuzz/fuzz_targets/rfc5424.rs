//! RFC 5424 syslog lines (header, structured data, MSGID, BOM) through their own parser, then
//! normalization: never a panic, and the record names its format.
#![no_main]

use ironpost_fuzz::{check_record, parse_options, text};
use ironpost_log_pipeline::{Format, parse_line_with};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = text(data);
    if let Ok(rec) = parse_line_with(&line, Format::Rfc5424, "fuzz", &parse_options(data)) {
        check_record(&rec);
        assert_eq!(rec.format, Format::Rfc5424.name());
    }
});
