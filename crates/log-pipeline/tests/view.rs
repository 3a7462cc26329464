//! The borrowed RFC 3164 view over the real Loghub samples: it holds what the owned record
//! holds, and parsing and normalizing into it allocates nothing.
//!
//! One test per binary: the counting allocator below counts every thread's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{FixedOffset, TimeZone, Utc};
use ironpost_log_pipeline::parsers::{Ctx, rfc3164};
use ironpost_log_pipeline::{Format, ParseOptions, parse_line_with};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as this method.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as this method.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as this method.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const LOGHUB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/logs/loghub"
);

#[test]
fn views_match_records_and_allocate_nothing() {
    let texts: Vec<String> = ["OpenSSH_2k.log", "Mac_2k.log"]
        .iter()
        .map(|f| std::fs::read_to_string(format!("{LOGHUB}/{f}")).expect("loghub sample"))
        .collect();
    let lines: Vec<&str> = texts.iter().flat_map(|t| t.lines()).collect();
    assert_eq!(lines.len(), 4000);
    let now = Utc.with_ymd_and_hms(2017, 6, 1, 0, 0, 0).unwrap();
    let ctx = Ctx {
        source: "loghub",
        now,
        tz: FixedOffset::east_opt(0).unwrap(),
    };
    for normalize in [true, false] {
        let opts = ParseOptions {
            now: Some(now),
            normalize,
            ..ParseOptions::default()
        };
        let mut with_fields = 0;
        for l in &lines {
            let view = rfc3164::parse_view(l, &ctx, normalize).unwrap();
            with_fields += usize::from(!view.fields.is_empty());
            assert_eq!(
                view.to_record(&ctx),
                parse_line_with(l, Format::Rfc3164, "loghub", &opts).unwrap(),
                "{l}"
            );
        }
        assert!(
            !normalize || with_fields > 1500,
            "{with_fields} lines with fields"
        );

        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let mut fields = 0;
        for l in &lines {
            let view = rfc3164::parse_view(l, &ctx, normalize).unwrap();
            fields += view.fields.len();
        }
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        assert_eq!(allocations, 0, "normalize: {normalize}, {fields} fields");
    }
}
