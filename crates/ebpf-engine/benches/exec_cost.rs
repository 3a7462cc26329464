//! The exec tracer's cost per exec and the rate it sustains without loss.
//!
//! 1. Cost per exec: fork+exec+wait of `/bin/true` in a loop, in short blocks without the
//!    tracer, with it attached and a thread draining the ring buffer, and with it attached and the
//!    thread also resolving every exec into a process event as the daemon does
//!    (`ProcessResolver`). Each round runs one block of each, the order rotating from round to
//!    round; the added cost is the median, over rounds, of a block's time against the same
//!    round's block without the tracer, so that the load of a shared machine, drifting over
//!    seconds, hits all three alike. The reading thread sleeps in `poll(2)` on the ring buffer
//!    until the kernel wakes it (or `DRAIN_INTERVAL` passes), as the daemon's reader does with
//!    tokio's `AsyncFd`; its CPU time per event is reported too (`getrusage`), a figure the load
//!    of a shared machine disturbs far less than wall-clock time.
//! 2. The program's own time per exec, from the kernel's BPF run-time statistics (enabled only
//!    for one short round: they cost every BPF program on the host a little while on).
//! 3. Sustained rate: N = 2 and 4 loops in parallel for a few seconds with the tracer attached
//!    and the resolving reader; execs generated, events read, and the kernel's count of records
//!    lost to a full ring buffer.
//!
//! 4. Sustained rate above what fork+exec loops reach on a small machine: exec chains, each a
//!    tiny static program without libc (compiled at run time with `cc` from the C source below)
//!    that execs itself with its counter less one, so every step is one exec and no fork.
//!    `IRONPOST_BENCH_CHAINS` chains (default 2) of `IRONPOST_BENCH_CHAIN_EXECS` execs each
//!    (default 100 000) run in parallel with the tracer attached and the resolving reader; the
//!    events read must cover every exec, and the kernel's lost count is printed.
//!
//! `cargo bench -p ironpost-ebpf-engine --bench exec_cost` (as root). `IRONPOST_BENCH_EXECS`
//! sets the execs per block (default 500), `IRONPOST_BENCH_ROUNDS` the rounds (default 20),
//! `IRONPOST_BENCH_SECS` the seconds of each sustained run (default 5).

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;
use ironpost_ebpf_engine::exec::process::ProcessResolver;
use ironpost_ebpf_engine::exec::{DRAIN_INTERVAL, Exec, ExecTracer};

fn spawn_one() {
    let status = Command::new("/bin/true")
        .status()
        .expect("running /bin/true");
    assert!(status.success());
}

fn spawn_loop(n: u32) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        spawn_one();
    }
    started.elapsed()
}

/// A block of `n` execs: `(wall-clock time, CPU time of this thread and of the children it
/// waited for)`. The program runs in the exec'ing child, so its cost is in the children's.
fn timed_block(n: u32) -> (Duration, Duration) {
    let cpu = || cpu_of(libc::RUSAGE_THREAD) + cpu_of(libc::RUSAGE_CHILDREN);
    let before = cpu();
    let wall = spawn_loop(n);
    (wall, cpu() - before)
}

/// What the reading thread does with each exec.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reader {
    /// Decode it and count it.
    Drain,
    /// Also resolve it into a process event (parent, user, container, working directory).
    Resolve,
}

/// A thread reading the tracer's ring buffer until stopped.
struct Reading {
    stop: Arc<AtomicBool>,
    seen: Arc<AtomicU64>,
    /// Events whose executable is the path `start` was given.
    marked: Arc<AtomicU64>,
    thread: JoinHandle<(ExecTracer, Duration)>,
}

/// The CPU time (user and system) of the calling thread.
fn thread_cpu() -> Duration {
    cpu_of(libc::RUSAGE_THREAD)
}

/// The CPU time (user and system) `getrusage(who)` reports.
fn cpu_of(who: libc::c_int) -> Duration {
    // SAFETY: an all-zero rusage is valid, and getrusage fills it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage.
    unsafe { libc::getrusage(who, &mut u) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(u.ru_utime) + tv(u.ru_stime)
}

impl Reading {
    fn start(tracer: ExecTracer, mode: Reader, mark: Option<String>) -> Reading {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(AtomicU64::new(0));
        let marked = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, seen, marked) = (stop.clone(), seen.clone(), marked.clone());
            std::thread::spawn(move || {
                let mut tracer = tracer;
                let mut resolver = ProcessResolver::default();
                let mut handle = |e: Exec| {
                    if mark.as_deref() == Some(e.filename.as_str()) {
                        marked.fetch_add(1, Ordering::Relaxed);
                    }
                    if mode == Reader::Resolve {
                        std::hint::black_box(resolver.resolve(&e, Utc::now()));
                    }
                };
                loop {
                    // Read stop before draining: what the loop submitted before it is drained.
                    let stopping = stop.load(Ordering::Acquire);
                    let mut got = 0;
                    while let Some(e) = tracer.try_next() {
                        handle(e);
                        got += 1;
                    }
                    seen.fetch_add(got, Ordering::Relaxed);
                    if stopping {
                        return (tracer, thread_cpu());
                    }
                    tracer
                        .wait(DRAIN_INTERVAL)
                        .expect("polling the ring buffer");
                }
            })
        };
        Reading {
            stop,
            seen,
            marked,
            thread,
        }
    }

    /// Stops the thread: `(events read, records lost to a full ring buffer, the thread's CPU
    /// time)`.
    fn stop(self) -> (u64, u64, Duration) {
        self.stop.store(true, Ordering::Release);
        let (tracer, cpu) = self.thread.join().unwrap();
        let (_, lost) = tracer.counts().expect("reading the counters");
        (self.seen.load(Ordering::Relaxed), lost, cpu)
    }
}

/// The exec chain: `chain N` execs itself as `chain N-1` until N is 0. No libc, so an exec
/// costs the kernel's work and little else.
const CHAIN_SOURCE: &str = r#"
static long sys3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

void __attribute__((noreturn)) chain_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	unsigned long n = 0;
	if (argc > 1)
		for (const char *p = argv[1]; *p >= '0' && *p <= '9'; p++)
			n = n * 10 + (unsigned long)(*p - '0');
	if (n > 0) {
		char digits[24];
		char *d = digits + sizeof digits - 1;
		*d = 0;
		n -= 1;
		do {
			*--d = (char)('0' + n % 10);
			n /= 10;
		} while (n);
		char *args[] = { argv[0], d, 0 };
		char *envp[] = { 0 };
		sys3(59, (long)argv[0], (long)args, (long)envp);
		sys3(60, 1, 0, 0);
	}
	sys3(60, 0, 0, 0);
	for (;;) {
	}
}

__asm__(".global _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call chain_main\n");
"#;

/// Compiles [`CHAIN_SOURCE`] into `dir`; the binary's path, or why not.
fn build_chain(dir: &std::path::Path) -> Result<std::path::PathBuf, String> {
    let source = dir.join("chain.c");
    let binary = dir.join("chain");
    std::fs::write(&source, CHAIN_SOURCE).map_err(|e| e.to_string())?;
    let out = Command::new("cc")
        .args(["-O2", "-static", "-nostdlib", "-fno-stack-protector", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .map_err(|e| format!("cc: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cc: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(binary)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: the exec tracer benchmark needs root");
        return;
    }
    let n: u32 = env_or("IRONPOST_BENCH_EXECS", 500);
    let rounds: usize = env_or("IRONPOST_BENCH_ROUNDS", 20);
    let secs: u64 = env_or("IRONPOST_BENCH_SECS", 5);
    println!("load average at start: {}", loadavg());
    spawn_loop(n);

    // 1. Cost per exec, in short blocks: each round runs one block of each variant, their order
    // rotating from round to round, and compares the blocks of the same round (ratios), so that
    // the load of a shared machine, which drifts over seconds, hits the three alike.
    let mut times: [Vec<Duration>; 3] = Default::default();
    let mut cpus: [Vec<Duration>; 3] = Default::default();
    let mut reader_cpu = [Duration::ZERO; 3];
    let mut reader_events = [0u64; 3];
    let (mut seen_total, mut lost_total) = (0u64, 0u64);
    let modes = [None, Some(Reader::Drain), Some(Reader::Resolve)];
    for round in 0..rounds {
        for k in 0..3 {
            let v = (round + k) % 3;
            match modes[v] {
                None => {
                    let (wall, cpu) = timed_block(n);
                    times[v].push(wall);
                    cpus[v].push(cpu);
                }
                Some(mode) => {
                    let tracer = ExecTracer::attach().expect("attaching the exec tracer");
                    let reading = Reading::start(tracer, mode, None);
                    let (wall, loop_cpu) = timed_block(n);
                    let (seen, lost, cpu) = reading.stop();
                    times[v].push(wall);
                    // The reader's CPU counts too: all of it is for the tracer.
                    cpus[v].push(loop_cpu + cpu);
                    seen_total += seen;
                    lost_total += lost;
                    reader_cpu[v] += cpu;
                    reader_events[v] += seen;
                }
            }
        }
    }
    let per = |d: &Duration| d.as_nanos() as f64 / f64::from(n) / 1000.0;
    let sorted = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v
    };
    let quartiles = |v: &[f64]| (v[v.len() / 4], v[v.len() / 2], v[v.len() * 3 / 4]);
    let without = sorted(times[0].iter().map(per).collect());
    println!(
        "cost per exec: fork+exec+wait of /bin/true, {rounds} rounds of one block of {n} execs \
         per variant, order rotating"
    );
    println!(
        "  {:<31}   best    median | added vs the same round's block without: median (IQR) \
         | reader CPU per event",
        ""
    );
    println!(
        "  {:<31} {:>6.1} {:>6.1} us",
        "without tracer",
        without[0],
        quartiles(&without).1
    );
    for (v, name) in [
        (1, "with tracer, reader draining"),
        (2, "with tracer, reader resolving"),
    ] {
        let us = sorted(times[v].iter().map(per).collect());
        let ratios = sorted(
            times[v]
                .iter()
                .zip(&times[0])
                .map(|(w, wo)| (w.as_secs_f64() / wo.as_secs_f64() - 1.0) * 100.0)
                .collect(),
        );
        let (q1, med, q3) = quartiles(&ratios);
        println!(
            "  {name:<31} {:>6.1} {:>6.1} us | {med:>+6.1}% ({q1:+.1}% .. {q3:+.1}%) | {:.1} us",
            us[0],
            quartiles(&us).1,
            reader_cpu[v].as_nanos() as f64 / reader_events[v].max(1) as f64 / 1000.0
        );
    }
    let cpu_without = sorted(cpus[0].iter().map(per).collect());
    println!(
        "  CPU per exec (the loop, its children; with the tracer, the reader too): without {:.1} us \
         (median)",
        quartiles(&cpu_without).1
    );
    for (v, name) in [(1, "reader draining"), (2, "reader resolving")] {
        let us = sorted(cpus[v].iter().map(per).collect());
        let ratios = sorted(
            cpus[v]
                .iter()
                .zip(&cpus[0])
                .map(|(w, wo)| (w.as_secs_f64() / wo.as_secs_f64() - 1.0) * 100.0)
                .collect(),
        );
        let (q1, med, q3) = quartiles(&ratios);
        println!(
            "    with tracer, {name:<17} {:.1} us (median); added vs the same round: {med:+.1}% \
             ({q1:+.1}% .. {q3:+.1}%)",
            quartiles(&us).1
        );
    }
    println!(
        "  events read: {seen_total} (for {} execs of the loops, plus the machine's other \
         execs); lost to a full ring buffer: {lost_total}",
        2 * rounds as u64 * u64::from(n)
    );
    println!("  load average: {}", loadavg());

    // 2. The program's own time, from the kernel's statistics.
    {
        let tracer = ExecTracer::attach().expect("attaching the exec tracer");
        let reading = Reading::start(tracer, Reader::Drain, None);
        let on = aya::sys::enable_stats(aya::sys::Stats::RunTime).expect("BPF_ENABLE_STATS");
        spawn_loop(2000);
        let (reading_tracer, _) = {
            reading.stop.store(true, Ordering::Release);
            reading.thread.join().unwrap()
        };
        drop(on);
        let (time, runs) = reading_tracer
            .program_run_stats()
            .expect("reading the program's statistics");
        if runs > 0 {
            println!(
                "program run time: {:.0} ns per exec over {runs} runs (kernel BPF statistics)",
                time.as_nanos() as f64 / runs as f64
            );
        }
    }

    // 3. Sustained rate with parallel loops.
    for loops in [2u32, 4] {
        let tracer = ExecTracer::attach().expect("attaching the exec tracer");
        let reading = Reading::start(tracer, Reader::Resolve, None);
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let workers: Vec<JoinHandle<u64>> = (0..loops)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut done = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        spawn_one();
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
        let execs: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
        let elapsed = started.elapsed().as_secs_f64();
        let (seen, lost, cpu) = reading.stop();
        println!(
            "sustained, {loops} parallel loops, {secs} s, resolving reader: {execs} execs \
             ({:.0} execs/s), {seen} events read ({:.0}/s), lost to a full ring buffer: {lost}; \
             reader CPU {:.1} us per event; load average {}",
            execs as f64 / elapsed,
            seen as f64 / elapsed,
            cpu.as_nanos() as f64 / seen.max(1) as f64 / 1000.0,
            loadavg()
        );
    }

    // 4. Sustained rate with exec chains.
    let chains: u32 = env_or("IRONPOST_BENCH_CHAINS", 2);
    let per_chain: u64 = env_or("IRONPOST_BENCH_CHAIN_EXECS", 100_000);
    let dir = std::env::temp_dir().join(format!("ironpost-exec-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let built = build_chain(&dir);
    let chain = match built {
        Ok(chain) => chain,
        Err(e) => {
            println!("exec chains: not measured: {e}");
            return;
        }
    };
    let tracer = ExecTracer::attach().expect("attaching the exec tracer");
    let reading = Reading::start(tracer, Reader::Resolve, Some(chain.display().to_string()));
    let started = Instant::now();
    let children: Vec<std::process::Child> = (0..chains)
        .map(|_| {
            Command::new(&chain)
                .arg(per_chain.to_string())
                .spawn()
                .expect("starting an exec chain")
        })
        .collect();
    for mut child in children {
        let status = child.wait().expect("waiting for an exec chain");
        assert!(status.success(), "an exec chain failed: {status}");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let marked = reading.marked.clone();
    let (seen, lost, cpu) = reading.stop();
    let marked = marked.load(Ordering::Relaxed);
    let _ = std::fs::remove_dir_all(&dir);
    // Each chain: the spawn's own exec, then `per_chain` more.
    let execs = u64::from(chains) * (per_chain + 1);
    println!(
        "sustained, {chains} exec chains of {per_chain}, resolving reader: {execs} execs in \
         {elapsed:.2} s ({:.0} execs/s), {seen} events read (every exec of the host), {marked} of \
         them the chains', lost to a full ring buffer: {lost}; reader CPU {:.1} us per event; load average {}",
        execs as f64 / elapsed,
        cpu.as_nanos() as f64 / seen.max(1) as f64 / 1000.0,
        loadavg()
    );
    assert_eq!(marked, execs, "events of the chains against their execs");
}
