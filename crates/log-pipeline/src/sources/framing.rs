//! Syslog over TCP framing (RFC 6587), detected per connection, with a bounded buffer.
//!
//! A connection whose first bytes are `DIGITS SP` uses octet counting (`LEN SP MSG`); any other
//! uses newline-terminated frames. The decoder never buffers more than `max_frame` bytes: an
//! announced length above it fails the connection before a byte of the frame is buffered, and a
//! newline frame longer than it is cut, handed on as truncated, and the rest skipped to the
//! next newline.

/// How frames are delimited on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Not known yet (no byte received).
    Unknown,
    /// `LEN SP MSG` (RFC 6587 section 3.4.1).
    OctetCounting,
    /// `MSG LF` (RFC 6587 section 3.4.2).
    NewlineTerminated,
}

/// Why a connection's framing failed; the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// An octet count above the limit.
    #[error("octet count {announced} exceeds max_frame_bytes {max}")]
    FrameTooLarge {
        /// The length the peer announced (saturated at `u64::MAX`).
        announced: u64,
        /// The configured maximum.
        max: usize,
    },
    /// An octet count that is not `DIGITS SP`.
    #[error("malformed octet count at byte {0} of the frame header")]
    BadOctetCount(usize),
}

/// One decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The frame's bytes, without delimiter.
    pub bytes: &'a [u8],
    /// True when the frame was cut at `max_frame` bytes.
    pub truncated: bool,
}

/// A per-connection frame decoder.
#[derive(Debug)]
pub struct FrameDecoder {
    mode: Framing,
    max_frame: usize,
    buf: Vec<u8>,
    /// Octet counting: the length of the frame being read, once its header is complete.
    want: Option<usize>,
    /// Newline mode: skipping the rest of an over-long line.
    skipping: bool,
}

impl FrameDecoder {
    /// A decoder that refuses frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        FrameDecoder {
            mode: Framing::Unknown,
            max_frame: max_frame.max(1),
            buf: Vec::new(),
            want: None,
            skipping: false,
        }
    }

    /// The framing detected so far.
    pub fn framing(&self) -> Framing {
        self.mode
    }

    /// True while part of a frame is buffered (used to bound how long a frame may take).
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty() || self.want.is_some() || self.skipping
    }

    /// Feeds received bytes; calls `on_frame` for each complete frame.
    pub fn push(
        &mut self,
        mut data: &[u8],
        on_frame: &mut dyn FnMut(Frame<'_>),
    ) -> Result<(), FramingError> {
        while !data.is_empty() {
            if self.mode == Framing::Unknown {
                self.mode = if data[0].is_ascii_digit() && data[0] != b'0' && looks_counted(data) {
                    Framing::OctetCounting
                } else {
                    Framing::NewlineTerminated
                };
            }
            data = match self.mode {
                Framing::OctetCounting => self.push_counted(data, on_frame)?,
                _ => self.push_newline(data, on_frame),
            };
        }
        Ok(())
    }

    /// Hands out what is buffered when the peer closes (a last line without newline).
    pub fn finish(&mut self, on_frame: &mut dyn FnMut(Frame<'_>)) {
        if self.mode == Framing::NewlineTerminated && !self.buf.is_empty() && !self.skipping {
            let line = trim_cr(&self.buf);
            on_frame(Frame {
                bytes: line,
                truncated: false,
            });
        }
        self.buf.clear();
    }

    fn push_counted<'d>(
        &mut self,
        data: &'d [u8],
        on_frame: &mut dyn FnMut(Frame<'_>),
    ) -> Result<&'d [u8], FramingError> {
        match self.want {
            None => {
                let mut i = 0;
                // Some senders put a newline between counted frames.
                if self.buf.is_empty() {
                    while i < data.len() && matches!(data[i], b'\n' | b'\r') {
                        i += 1;
                    }
                }
                while i < data.len() {
                    let c = data[i];
                    i += 1;
                    if c == b' ' {
                        if self.buf.is_empty() {
                            return Err(FramingError::BadOctetCount(0));
                        }
                        let n = count_of(&self.buf);
                        self.buf.clear();
                        if n > self.max_frame as u64 {
                            return Err(FramingError::FrameTooLarge {
                                announced: n,
                                max: self.max_frame,
                            });
                        }
                        self.want = Some(n as usize);
                        if n == 0 {
                            self.want = None;
                            on_frame(Frame {
                                bytes: &[],
                                truncated: false,
                            });
                        }
                        return Ok(&data[i..]);
                    }
                    if !c.is_ascii_digit() {
                        return Err(FramingError::BadOctetCount(self.buf.len()));
                    }
                    self.buf.push(c);
                    // Checked as digits arrive: a 2 GB announcement is refused once its digits pass the limit.
                    let n = count_of(&self.buf);
                    if n > self.max_frame as u64 {
                        return Err(FramingError::FrameTooLarge {
                            announced: n,
                            max: self.max_frame,
                        });
                    }
                }
                Ok(&[])
            }
            Some(want) => {
                let need = want - self.buf.len();
                if self.buf.is_empty() && data.len() >= want {
                    on_frame(Frame {
                        bytes: &data[..want],
                        truncated: false,
                    });
                    self.want = None;
                    return Ok(&data[want..]);
                }
                let take = need.min(data.len());
                self.buf.extend_from_slice(&data[..take]);
                if self.buf.len() == want {
                    on_frame(Frame {
                        bytes: &self.buf,
                        truncated: false,
                    });
                    self.buf.clear();
                    self.want = None;
                }
                Ok(&data[take..])
            }
        }
    }

    fn push_newline<'d>(
        &mut self,
        data: &'d [u8],
        on_frame: &mut dyn FnMut(Frame<'_>),
    ) -> &'d [u8] {
        match memchr::memchr(b'\n', data) {
            Some(nl) => {
                if self.skipping {
                    self.skipping = false;
                } else if self.buf.is_empty() {
                    let line = trim_cr(&data[..nl]);
                    if line.len() > self.max_frame {
                        on_frame(Frame {
                            bytes: &line[..self.max_frame],
                            truncated: true,
                        });
                    } else {
                        on_frame(Frame {
                            bytes: line,
                            truncated: false,
                        });
                    }
                } else {
                    let room = self.max_frame - self.buf.len();
                    if nl > room {
                        self.buf.extend_from_slice(&data[..room]);
                        on_frame(Frame {
                            bytes: &self.buf,
                            truncated: true,
                        });
                    } else {
                        self.buf.extend_from_slice(&data[..nl]);
                        on_frame(Frame {
                            bytes: trim_cr(&self.buf),
                            truncated: false,
                        });
                    }
                    self.buf.clear();
                }
                &data[nl + 1..]
            }
            None => {
                if !self.skipping {
                    let room = self.max_frame - self.buf.len();
                    if data.len() > room {
                        self.buf.extend_from_slice(&data[..room]);
                        on_frame(Frame {
                            bytes: &self.buf,
                            truncated: true,
                        });
                        self.buf.clear();
                        self.skipping = true;
                    } else {
                        self.buf.extend_from_slice(data);
                    }
                }
                &[]
            }
        }
    }
}

/// `DIGITS SP` at the start (or digits only, the header not complete yet).
fn looks_counted(data: &[u8]) -> bool {
    let digits = data.iter().take_while(|c| c.is_ascii_digit()).count();
    match data.get(digits) {
        Some(b' ') => true,
        Some(_) => false,
        None => true,
    }
}

fn count_of(digits: &[u8]) -> u64 {
    digits.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    })
}

fn trim_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(
        dec: &mut FrameDecoder,
        chunks: &[&[u8]],
    ) -> (Vec<(String, bool)>, Result<(), FramingError>) {
        let mut out = Vec::new();
        for c in chunks {
            let r = dec.push(c, &mut |f| {
                out.push((String::from_utf8_lossy(f.bytes).into_owned(), f.truncated))
            });
            if r.is_err() {
                return (out, r);
            }
        }
        (out, Ok(()))
    }

    #[test]
    fn octet_counting_across_reads() {
        let mut d = FrameDecoder::new(1024);
        let (f, r) = frames(&mut d, &[b"5 hel", b"lo3 ab", b"c\n10 <13>x y: z"]);
        r.unwrap();
        assert_eq!(d.framing(), Framing::OctetCounting);
        assert_eq!(
            f,
            vec![
                ("hello".into(), false),
                ("abc".into(), false),
                ("<13>x y: z".into(), false)
            ]
        );
        assert!(!d.has_partial());
    }

    #[test]
    fn newline_framing_cuts_long_lines() {
        let mut d = FrameDecoder::new(4);
        let (f, r) = frames(&mut d, &[b"<13>a\r\nab", b"cdefgh", b"ij\nok\n"]);
        r.unwrap();
        assert_eq!(d.framing(), Framing::NewlineTerminated);
        assert_eq!(
            f,
            vec![
                ("<13>".into(), true),
                ("abcd".into(), true),
                ("ok".into(), false)
            ]
        );
    }

    #[test]
    fn a_two_gigabyte_announcement_costs_nothing() {
        let mut d = FrameDecoder::new(65_536);
        let (f, r) = frames(&mut d, &[b"2147483648 ", b"xxxx"]);
        assert!(f.is_empty());
        assert!(matches!(r, Err(FramingError::FrameTooLarge { .. })));
        assert!(d.buf.capacity() < 64);
    }
}
