//! Syslog load generator for `scripts/bench-load`: sends RFC 3164 lines over TCP or UDP at a
//! target rate and prints exactly how many it sent.
//!
//! The lines come from a corpus of BSD-syslog files (by default the Loghub samples
//! `OpenSSH_2k.log` and `Mac_2k.log` of `../shared/data/logs/loghub`). Each line keeps its
//! host, program and message; its timestamp is rewritten to the current second (UTC) so that
//! year inference keeps it in the present, and a priority is put in front (`<38>`, auth.info,
//! for sshd lines; `<14>`, user.info, for the others).
//!
//! Pacing is a token bucket refilled continuously: every tick (about 1 ms) a sender works out
//! how many lines are due since its start and sends them. TCP uses newline framing over
//! `--connections` connections (one thread each, the rate split between them) and writes every
//! due run of lines in one `write_all`; a daemon that reads slower than the target pushes back
//! through TCP, and the achieved rate then falls below the target. Debt is capped at 50 ms of
//! lines, so a stalled sender does not burst far above the target afterwards. UDP sends one
//! datagram per line, in `sendmmsg` batches on Linux.
//!
//! Output: one JSON object on standard output, for example
//! `{"proto":"tcp","target_rate":100000,"sent":1000000,"sendto_ok":1000000,"sendto_err":0,...}`.
//! `sent` counts lines fully handed to the kernel (TCP: written; UDP: datagrams the kernel
//! accepted, equal to `sendto_ok`).
//!
//! ```text
//! cargo build --release --example loadgen -p ironpost-cli
//! target/release/examples/loadgen --proto tcp --addr 127.0.0.1:5514 --rate 100000 --seconds 10
//! ```

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{Datelike, Timelike};
use clap::{Parser, ValueEnum};

/// Sends syslog lines at a target rate.
#[derive(Debug, Parser)]
#[command(name = "loadgen")]
struct Args {
    /// Transport.
    #[arg(long, value_enum, default_value = "tcp")]
    proto: Proto,
    /// The daemon's syslog listener.
    #[arg(long, default_value = "127.0.0.1:5514")]
    addr: SocketAddr,
    /// Target lines per second, over all connections.
    #[arg(long, default_value_t = 100_000)]
    rate: u64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// TCP connections (UDP: sockets), each with an equal share of the rate.
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Corpus files (BSD syslog lines: `Mmm dd HH:MM:SS host program[pid]: message`).
    #[arg(long = "corpus", value_name = "FILE")]
    corpus: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Proto {
    Tcp,
    Udp,
}

/// Length of `Mmm dd HH:MM:SS`.
const TS_LEN: usize = 15;
/// Most lines one tick sends at once (one TCP write or a few `sendmmsg` calls).
const MAX_RUN: u64 = 8192;
/// Datagrams per `sendmmsg` call.
const MMSG_BATCH: usize = 256;

/// The corpus as one buffer of complete lines, with the place of each line's timestamp.
#[derive(Clone)]
struct Corpus {
    buf: Vec<u8>,
    /// For each line: start (the `<PRI>`), timestamp offset, end (after the newline).
    lines: Vec<(usize, usize, usize)>,
    /// The second the timestamps currently show.
    second: i64,
}

impl Corpus {
    fn load(files: &[PathBuf]) -> anyhow::Result<Corpus> {
        let mut c = Corpus {
            buf: Vec::new(),
            lines: Vec::new(),
            second: i64::MIN,
        };
        for f in files {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
            for line in text.lines() {
                let Some(rest) = bsd_rest(line) else { continue };
                let pri = if rest.contains(" sshd[") {
                    "<38>"
                } else {
                    "<14>"
                };
                let start = c.buf.len();
                c.buf.extend_from_slice(pri.as_bytes());
                let ts = c.buf.len();
                c.buf.extend_from_slice(&line.as_bytes()[..TS_LEN]);
                c.buf.push(b' ');
                c.buf.extend_from_slice(rest.as_bytes());
                c.buf.push(b'\n');
                c.lines.push((start, ts, c.buf.len()));
            }
        }
        if c.lines.is_empty() {
            bail!("no BSD syslog line in the corpus");
        }
        c.refresh();
        Ok(c)
    }

    /// Rewrites every timestamp to the current second, once per second.
    fn refresh(&mut self) {
        let now = chrono::Utc::now();
        let second = now.timestamp();
        if second == self.second {
            return;
        }
        self.second = second;
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let ts = format!(
            "{} {:>2} {:02}:{:02}:{:02}",
            MONTHS[now.month0() as usize],
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        debug_assert_eq!(ts.len(), TS_LEN);
        for &(_, at, _) in &self.lines {
            self.buf[at..at + TS_LEN].copy_from_slice(ts.as_bytes());
        }
    }

    /// Lines `from..from + n` (modulo the corpus) as contiguous byte ranges, at most two.
    fn ranges(&self, from: usize, n: usize) -> impl Iterator<Item = &[u8]> {
        let len = self.lines.len();
        let mut out = Vec::with_capacity(2);
        let mut i = from % len;
        let mut left = n;
        while left > 0 {
            let take = left.min(len - i);
            let a = self.lines[i].0;
            let b = self.lines[i + take - 1].2;
            out.push(&self.buf[a..b]);
            left -= take;
            i = (i + take) % len;
        }
        out.into_iter()
    }
}

/// The part after a BSD timestamp (`Mmm dd HH:MM:SS `), or `None` for another shape.
fn bsd_rest(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    let shaped = b.len() > TS_LEN + 1
        && b[..3].iter().all(u8::is_ascii_alphabetic)
        && b[3] == b' '
        && (b[4] == b' ' || b[4].is_ascii_digit())
        && b[5].is_ascii_digit()
        && b[6] == b' '
        && b[9] == b':'
        && b[12] == b':'
        && b[TS_LEN] == b' ';
    let rest = line.get(TS_LEN + 1..)?;
    (shaped && !rest.trim().is_empty()).then_some(rest)
}

/// What one sender did.
#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    bytes: AtomicU64,
    sendto_ok: AtomicU64,
    sendto_err: AtomicU64,
    /// Ticks on which the sender could not keep up (debt capped).
    behind: AtomicU64,
}

/// The token bucket of one sender: lines due since its start at `rate` lines/s, with unpaid
/// debt beyond 50 ms of lines forgiven (and counted as a tick behind).
struct Pace {
    rate: f64,
    start: Instant,
    seconds: f64,
    /// Lines the schedule has accounted for: sent, or forgiven while behind.
    scheduled: u64,
}

impl Pace {
    fn new(rate: f64, seconds: f64) -> Self {
        Pace {
            rate,
            start: Instant::now(),
            seconds,
            scheduled: 0,
        }
    }

    /// Lines to send now (0: wait a tick), or `None` once the time is up.
    fn next(&mut self, counts: &Counts) -> Option<u64> {
        let elapsed = self.start.elapsed().as_secs_f64();
        if elapsed >= self.seconds {
            return None;
        }
        let target = (self.rate * elapsed) as u64;
        let cap = ((self.rate * 0.05) as u64).max(1);
        if target > self.scheduled + cap {
            counts.behind.fetch_add(1, Ordering::Relaxed);
            self.scheduled = target - cap;
        }
        let n = target.saturating_sub(self.scheduled).min(MAX_RUN);
        self.scheduled += n;
        Some(n)
    }
}

fn run_tcp(
    addr: SocketAddr,
    rate: f64,
    seconds: f64,
    mut corpus: Corpus,
    offset: usize,
    counts: &Counts,
) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true).ok();
    let mut pace = Pace::new(rate, seconds);
    let mut next = offset;
    while let Some(n) = pace.next(counts) {
        if n == 0 {
            std::thread::sleep(Duration::from_micros(500));
            continue;
        }
        corpus.refresh();
        let mut bytes = 0;
        for r in corpus.ranges(next, n as usize) {
            stream.write_all(r).context("writing")?;
            bytes += r.len();
        }
        next += n as usize;
        counts.sent.fetch_add(n, Ordering::Relaxed);
        counts.sendto_ok.fetch_add(n, Ordering::Relaxed);
        counts.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
    stream.flush().ok();
    stream.shutdown(std::net::Shutdown::Write).ok();
    Ok(())
}

fn run_udp(
    addr: SocketAddr,
    rate: f64,
    seconds: f64,
    mut corpus: Corpus,
    offset: usize,
    counts: &Counts,
) -> anyhow::Result<()> {
    let bind: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let sock = UdpSocket::bind(bind)?;
    sock.connect(addr)
        .with_context(|| format!("connecting to {addr}"))?;
    let mut pace = Pace::new(rate, seconds);
    let mut next = offset;
    let mut datagrams: Vec<(usize, usize)> = Vec::with_capacity(MAX_RUN as usize);
    while let Some(n) = pace.next(counts) {
        if n == 0 {
            std::thread::sleep(Duration::from_micros(500));
            continue;
        }
        corpus.refresh();
        datagrams.clear();
        let len = corpus.lines.len();
        for k in 0..n as usize {
            let (a, _, b) = corpus.lines[(next + k) % len];
            // One datagram per line, without the newline.
            datagrams.push((a, b - 1));
        }
        next += n as usize;
        for chunk in datagrams.chunks(MMSG_BATCH) {
            let (ok, err, bytes) = send_batch(&sock, &corpus.buf, chunk);
            counts.sendto_ok.fetch_add(ok, Ordering::Relaxed);
            counts.sendto_err.fetch_add(err, Ordering::Relaxed);
            counts.sent.fetch_add(ok, Ordering::Relaxed);
            counts.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Sends each `(start, end)` range of `buf` as one datagram; returns (accepted, failed, bytes).
#[cfg(target_os = "linux")]
fn send_batch(sock: &UdpSocket, buf: &[u8], chunk: &[(usize, usize)]) -> (u64, u64, u64) {
    use std::os::fd::AsRawFd;
    let mut iov: Vec<libc::iovec> = chunk
        .iter()
        .map(|&(a, b)| libc::iovec {
            iov_base: buf[a..b].as_ptr() as *mut libc::c_void,
            iov_len: b - a,
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = iov
        .iter_mut()
        .map(|v| {
            // SAFETY: mmsghdr is plain data; all-zero is a valid value (no name, no control).
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = v as *mut libc::iovec;
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect();
    let (mut ok, mut err, mut bytes) = (0u64, 0u64, 0u64);
    let mut i = 0;
    while i < msgs.len() {
        let rest = &mut msgs[i..];
        // SAFETY: every header points at one iovec of `iov`, which points into `buf`; all of
        // them outlive the call, and `rest.len()` headers are valid.
        let r = unsafe {
            libc::sendmmsg(
                sock.as_raw_fd(),
                rest.as_mut_ptr(),
                rest.len() as libc::c_uint,
                0,
            )
        };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            // The datagram at `i` failed (ENOBUFS, ECONNREFUSED, ...): count it, go on.
            err += 1;
            i += 1;
            continue;
        }
        let r = r as usize;
        for m in &rest[..r] {
            bytes += u64::from(m.msg_len);
        }
        ok += r as u64;
        i += r.max(1).min(rest.len());
        if r == 0 {
            err += 1;
        }
    }
    (ok, err, bytes)
}

/// Sends each `(start, end)` range of `buf` as one datagram; returns (accepted, failed, bytes).
#[cfg(not(target_os = "linux"))]
fn send_batch(sock: &UdpSocket, buf: &[u8], chunk: &[(usize, usize)]) -> (u64, u64, u64) {
    let (mut ok, mut err, mut bytes) = (0u64, 0u64, 0u64);
    for &(a, b) in chunk {
        match sock.send(&buf[a..b]) {
            Ok(n) => {
                ok += 1;
                bytes += n as u64;
            }
            Err(_) => err += 1,
        }
    }
    (ok, err, bytes)
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.corpus.is_empty() {
        let dir = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/logs/loghub"
        ));
        args.corpus = vec![dir.join("OpenSSH_2k.log"), dir.join("Mac_2k.log")];
    }
    if args.rate == 0 || args.seconds <= 0.0 {
        bail!("--rate and --seconds must be positive");
    }
    let corpus = Corpus::load(&args.corpus)?;
    let conns = args.connections.max(1);
    let per = args.rate as f64 / conns as f64;
    let counts = Arc::new(Counts::default());
    let failed = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let threads: Vec<_> = (0..conns)
        .map(|k| {
            let (corpus, counts, failed) = (corpus.clone(), counts.clone(), failed.clone());
            let (addr, proto, seconds) = (args.addr, args.proto, args.seconds);
            // Senders start at different places of the corpus.
            let offset = k * corpus.lines.len() / conns;
            std::thread::spawn(move || {
                let r = match proto {
                    Proto::Tcp => run_tcp(addr, per, seconds, corpus, offset, &counts),
                    Proto::Udp => run_udp(addr, per, seconds, corpus, offset, &counts),
                };
                if let Err(e) = r {
                    eprintln!("loadgen: sender {k}: {e:#}");
                    failed.store(true, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let sent = g(&counts.sent);
    let report = serde_json::json!({
        "proto": match args.proto { Proto::Tcp => "tcp", Proto::Udp => "udp" },
        "target_rate": args.rate,
        "connections": conns,
        "corpus_lines": corpus.lines.len(),
        "seconds": elapsed,
        "sent": sent,
        "bytes": g(&counts.bytes),
        "sendto_ok": g(&counts.sendto_ok),
        "sendto_err": g(&counts.sendto_err),
        "behind_ticks": g(&counts.behind),
        "achieved_rate": (sent as f64 / elapsed).round(),
        "failed": failed.load(Ordering::Relaxed),
    });
    println!("{report}");
    if failed.load(Ordering::Relaxed) {
        std::process::exit(1);
    }
    Ok(())
}
