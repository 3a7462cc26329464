//! Linux audit records, one per input line, parsed and grouped into events by serial the way a
//! source does ([`AuditAssembler`]): never a panic, every record and every grouped event is auditd,
//! and grouping never yields more events than records.
#![no_main]

use ironpost_fuzz::{check_record, ctx, text};
use ironpost_log_pipeline::normalize::normalize;
use ironpost_log_pipeline::parsers::auditd::{self, AuditAssembler};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = text(data);
    let ctx = ctx(data);
    let mut assembler = AuditAssembler::new();
    let (mut pushed, mut emitted) = (0usize, 0usize);
    let check_event = |rec: &ironpost_core::event::LogRecord| {
        check_record(rec);
        assert_eq!(rec.format, "auditd");
    };
    for line in input.lines() {
        let _ = auditd::looks_like(line);
        let Ok(mut rec) = auditd::parse(line, &ctx) else {
            continue;
        };
        normalize(&mut rec);
        check_event(&rec);
        pushed += 1;
        if let Some(done) = assembler.push(rec) {
            check_event(&done);
            emitted += 1;
        }
    }
    if let Some(done) = assembler.flush() {
        check_event(&done);
        emitted += 1;
    }
    assert!(!assembler.has_pending());
    assert!(emitted <= pushed, "{emitted} events from {pushed} records");
});
