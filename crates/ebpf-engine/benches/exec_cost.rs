//! The exec tracer's cost per exec and the rate it sustains without loss: fork+exec of
//! `/bin/true` in a loop without the tracer, then with it attached (a thread draining the ring
//! buffer), in the same run; then the execs counted by the kernel against those lost to a full
//! ring buffer.
//!
//! `cargo bench -p ironpost-ebpf-engine --bench exec_cost` (as root). `IRONPOST_BENCH_EXECS`
//! sets the execs per round (default 5000).

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ironpost_ebpf_engine::exec::ExecTracer;

fn spawn_loop(n: u32) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        let status = Command::new("/bin/true")
            .status()
            .expect("running /bin/true");
        assert!(status.success());
    }
    started.elapsed()
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: the exec tracer benchmark needs root");
        return;
    }
    let n: u32 = std::env::var("IRONPOST_BENCH_EXECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    spawn_loop(n / 10);
    let mut without = Vec::new();
    let mut with = Vec::new();
    let mut seen_total = 0u64;
    let mut lost_total = 0u64;
    // Alternate rounds so that drift in the machine's load hits both sides alike.
    for _ in 0..3 {
        without.push(spawn_loop(n));
        let tracer = ExecTracer::attach().expect("attaching the exec tracer");
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(AtomicU64::new(0));
        let reader = {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut tracer = tracer;
                loop {
                    let mut got = 0;
                    while tracer.try_next().is_some() {
                        got += 1;
                    }
                    seen.fetch_add(got, Ordering::Relaxed);
                    if stop.load(Ordering::Relaxed) && got == 0 {
                        return tracer.counts().expect("reading the counters");
                    }
                    if got == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        };
        with.push(spawn_loop(n));
        stop.store(true, Ordering::Relaxed);
        let (_, lost) = reader.join().unwrap();
        seen_total += seen.load(Ordering::Relaxed);
        lost_total += lost;
    }
    let per = |d: &Duration| d.as_nanos() as f64 / f64::from(n) / 1000.0;
    let best = |v: &[Duration]| v.iter().map(per).fold(f64::INFINITY, f64::min);
    let (a, b) = (best(&without), best(&with));
    println!("exec tracer: fork+exec+wait of /bin/true, {n} per round, best of 3 rounds");
    println!("  without tracer: {a:.1} us/exec ({:.0} execs/s)", 1e6 / a);
    println!("  with tracer:    {b:.1} us/exec ({:.0} execs/s)", 1e6 / b);
    println!(
        "  added cost:     {:.1} us/exec ({:+.1}%)",
        b - a,
        (b - a) / a * 100.0
    );
    println!(
        "  events read: {seen_total} (of at least {} execs), lost to a full ring buffer: {lost_total}",
        3 * n
    );
}
