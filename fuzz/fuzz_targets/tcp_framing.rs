//! The syslog-over-TCP frame decoder (RFC 6587 octet counting or newline framing) over arbitrary
//! chunks: never a frame above the limit, never a panic. The first byte sets the limit and the
//! chunk size, the rest is the byte stream.
#![no_main]

use ironpost_log_pipeline::sources::framing::FrameDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let max = 1 + usize::from(split) * 4;
    let mut dec = FrameDecoder::new(max);
    for chunk in rest.chunks(1 + usize::from(split % 17)) {
        let mut ok = true;
        let res = dec.push(chunk, &mut |f| ok &= f.bytes.len() <= max);
        assert!(ok, "a frame exceeded max_frame");
        if res.is_err() {
            return;
        }
    }
    dec.finish(&mut |f| assert!(f.bytes.len() <= max));
});
