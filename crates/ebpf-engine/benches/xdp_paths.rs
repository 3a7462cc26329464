//! Nanoseconds per packet of each path of the XDP program, by `BPF_PROG_TEST_RUN` with a large
//! repeat count, each measured beside a trivial XDP_DROP program in the same run so that the
//! test-run machinery's own cost can be subtracted.
//!
//! Then packets per second through a veth pair between two network namespaces it creates: the
//! sensor attached natively on one end, a generator program run in live-frames mode on the
//! other end transmitting 64-byte frames, counted at the receiver: the sensor with the frames'
//! source blocklisted (dropped in XDP) and on no list (passed to the kernel's stack), beside a
//! program that only counts and drops, all in the same run.
//!
//! `cargo bench -p ironpost-ebpf-engine --bench xdp_paths` (as root). The repeat count is
//! `IRONPOST_BENCH_REPEAT` (default 1 000 000); the prefix count of the CIDR paths is
//! `IRONPOST_BENCH_PREFIXES` (default 100 000); the veth run sends `IRONPOST_BENCH_FRAMES`
//! frames (default 20 000 000) to each receiver; `IRONPOST_BENCH_THREADED=1` repeats the veth
//! runs with the receiver's NAPI in a kernel thread of its own.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Instant;

use aya::maps::{MapData, PerCpuArray};
use aya::programs::{TestRun, TestRunAttrs, TestRunOptions, Xdp, XdpMode};
use ironpost_ebpf_engine::xdp::abi::{IP_ACTION_DROP, IpRule, KernelConfig, Stat};
use ironpost_ebpf_engine::xdp::frame::{Frame, Ipv6Ext, TCP_ACK, TCP_SYN, TPID_8021Q, Transport};
use ironpost_ebpf_engine::xdp::program::{
    BASELINE_PROGRAM_NAME, GENERATOR_OBJECT, GENERATOR_PROGRAM_NAME, PROGRAM_NAME,
};
use ironpost_ebpf_engine::xdp::{AttachMode, IpNet, Verdict, XdpProgram};

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn tcp(flags: u8) -> Transport {
    Transport::Tcp {
        src_port: 40000,
        dst_port: 443,
        flags,
    }
}

const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

fn load(prefixes: u32) -> XdpProgram {
    let mut p = XdpProgram::load().expect("loading the XDP program (run as root)");
    p.set_config(&KernelConfig {
        now_ns: 0,
        window_ns: 10_000_000_000,
        cooldown_ns: 60_000_000_000,
        syn_threshold: 1000,
        port_threshold: 50,
        ..KernelConfig::default()
    })
    .unwrap();
    let drop = IpRule {
        action: IP_ACTION_DROP,
        ..IpRule::default()
    };
    // Prefixes of 16 to 24 bits spread over 20.0.0.0 .. 100.0.0.0, deterministic.
    let mut x: u32 = 0x1234_5678;
    let mut loaded = 0;
    while loaded < prefixes {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let len = 16 + (x % 9) as u8;
        let base = 0x1400_0000 + (x % 0x5000_0000);
        let addr = base & (u32::MAX << (32 - u32::from(len)));
        let net = IpNet::new(Ipv4Addr::from(addr).into(), len).unwrap();
        p.insert_block(net, drop).unwrap();
        loaded += 1;
    }
    p
}

struct Row {
    path: &'static str,
    verdict: Verdict,
    sensor: Duration,
    baseline: Duration,
}

fn measure(p: &mut XdpProgram, path: &'static str, frame: &[u8], repeat: u32) -> Row {
    // Warm up, then measure the two programs back to back, three rounds, keeping the best.
    p.run(PROGRAM_NAME, frame, repeat / 10).unwrap();
    let mut best: Option<(Verdict, Duration, Duration)> = None;
    for _ in 0..3 {
        let (verdict, sensor) = p.run(PROGRAM_NAME, frame, repeat).unwrap();
        let (_, baseline) = p.run(BASELINE_PROGRAM_NAME, frame, repeat).unwrap();
        if best.is_none_or(|(_, s, _)| sensor < s) {
            best = Some((verdict, sensor, baseline));
        }
    }
    let (verdict, sensor, baseline) = best.unwrap();
    Row {
        path,
        verdict,
        sensor,
        baseline,
    }
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: the XDP benchmark loads BPF programs and needs root");
        return;
    }
    let repeat = env_u32("IRONPOST_BENCH_REPEAT", 1_000_000);
    let prefixes = env_u32("IRONPOST_BENCH_PREFIXES", 100_000);
    let src = Ipv4Addr::new(198, 51, 100, 1);
    let blocked = Ipv4Addr::new(198, 51, 100, 66);
    let src6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    let dst6 = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 10);

    let mut rows = Vec::new();
    let mut p = load(0);
    p.insert_block(
        IpNet::host(blocked.into()),
        IpRule {
            action: IP_ACTION_DROP,
            ..IpRule::default()
        },
    )
    .unwrap();
    let pass = Frame::ipv4(src, DST, tcp(TCP_ACK)).build_padded(60);
    rows.push(measure(
        &mut p,
        "pass: IPv4 TCP ACK, empty lists",
        &pass,
        repeat,
    ));
    let syn = Frame::ipv4(src, DST, tcp(TCP_SYN)).build_padded(60);
    rows.push(measure(
        &mut p,
        "pass: IPv4 TCP SYN (detector state)",
        &syn,
        repeat,
    ));
    let v6 = Frame::ipv6(
        src6,
        dst6,
        Transport::Udp {
            src_port: 5353,
            dst_port: 53,
        },
    )
    .vlan(TPID_8021Q)
    .ipv6_ext(Ipv6Ext::HopByHop)
    .ipv6_ext(Ipv6Ext::DestOpts { len8: 0 })
    .build_padded(60);
    rows.push(measure(
        &mut p,
        "pass: VLAN IPv6 2 ext hdrs UDP",
        &v6,
        repeat,
    ));
    let drop = Frame::ipv4(blocked, DST, tcp(TCP_ACK)).build_padded(60);
    rows.push(measure(&mut p, "drop: exact IPv4 match", &drop, repeat));
    // The same with an allowlist in use (that does not cover the source): it is looked up.
    for i in 0..100u8 {
        p.insert_allow(IpNet::host(Ipv4Addr::new(203, 0, 113, i).into()), 0)
            .unwrap();
    }
    rows.push(measure(
        &mut p,
        "drop: exact IPv4 match, allowlist in use",
        &drop,
        repeat,
    ));
    drop_program(p);

    let mut p = load(prefixes);
    // An address inside a loaded prefix, found by asking the generator's first prefix.
    let inside = first_prefix_address();
    let hit = Frame::ipv4(inside, DST, tcp(TCP_ACK)).build_padded(60);
    rows.push(measure(
        &mut p,
        "drop: CIDR match, prefixes loaded",
        &hit,
        repeat,
    ));
    let miss = Frame::ipv4(Ipv4Addr::new(10, 1, 2, 3), DST, tcp(TCP_ACK)).build_padded(60);
    rows.push(measure(
        &mut p,
        "pass: CIDR miss, prefixes loaded",
        &miss,
        repeat,
    ));

    println!(
        "XDP paths by BPF_PROG_TEST_RUN, repeat {repeat}, 60-byte frames, {prefixes} IPv4 prefixes in the CIDR rows"
    );
    println!(
        "{:<40} {:>8} {:>12} {:>14} {:>10}",
        "path", "verdict", "sensor ns", "XDP_DROP ns", "delta ns"
    );
    for r in rows {
        println!(
            "{:<40} {:>8} {:>12} {:>14} {:>10}",
            r.path,
            format!("{:?}", r.verdict),
            r.sensor.as_nanos(),
            r.baseline.as_nanos(),
            r.sensor.as_nanos() as i128 - r.baseline.as_nanos() as i128
        );
    }

    let frames = env_u32("IRONPOST_BENCH_FRAMES", 20_000_000);
    println!(
        "veth, native mode, {frames} live 60-byte frames (64 with FCS) per run, counted at the receiver"
    );
    println!(
        "{:<52} {:>14} {:>12} {:>8}",
        "receiver", "NAPI", "received", "Mpps"
    );
    // IRONPOST_BENCH_THREADED=1 adds runs with the receiver's NAPI in a thread of its own.
    let threaded_too = std::env::var("IRONPOST_BENCH_THREADED").is_ok_and(|v| v == "1");
    for threaded in [false, true] {
        if threaded && !threaded_too {
            break;
        }
        for receiver in [
            Receiver::CountDrop,
            Receiver::SensorDrop,
            Receiver::SensorPass,
        ] {
            let napi = if threaded {
                "own thread"
            } else {
                "sender's CPU"
            };
            match veth_rate(frames, receiver, threaded) {
                Ok((mode, received, pps)) => {
                    assert_eq!(mode, AttachMode::Native, "the veth runs are native");
                    println!(
                        "{:<52} {:>14} {:>12} {:>8.2}",
                        receiver.label(),
                        napi,
                        received,
                        pps / 1e6
                    )
                }
                Err(e) => println!("{:<52} {napi:>14} not measured: {e}", receiver.label()),
            }
        }
    }
}

/// Two namespaces joined by a veth pair, deleted on drop.
struct VethPair {
    namespaces: [String; 2],
}

impl Drop for VethPair {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Runs `f` on a thread inside namespace `ns`.
fn within<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let fd = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("netns file");
            // SAFETY: setns on this thread only, with a namespace file we hold open.
            let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("thread in namespace")
    })
}

/// What runs on the receiving end of the veth pair.
#[derive(Clone, Copy)]
enum Receiver {
    /// The sensor, the source on no list: every frame passed up to the kernel's stack.
    SensorPass,
    /// The sensor with the frames' source on the blocklist: every frame dropped in XDP.
    SensorDrop,
    /// A program that counts each frame and drops it: the baseline.
    CountDrop,
}

impl Receiver {
    fn label(self) -> &'static str {
        match self {
            Receiver::SensorPass => "sensor, source on no list (XDP_PASS to the stack)",
            Receiver::SensorDrop => "sensor, source blocklisted (XDP_DROP)",
            Receiver::CountDrop => "baseline: count and XDP_DROP",
        }
    }
}

/// What the receiving end holds while frames arrive: the sensor, or the baseline's object.
enum Attached {
    Sensor(Box<XdpProgram>),
    Baseline(aya::Ebpf),
}

impl Attached {
    fn received(&self) -> Result<u64, String> {
        match self {
            Attached::Sensor(p) => Ok(p.stats().map_err(|e| e.to_string())?.get(Stat::Packets)),
            Attached::Baseline(ebpf) => {
                let seen: PerCpuArray<&MapData, u64> = ebpf
                    .map("seen")
                    .ok_or("no map `seen`")?
                    .try_into()
                    .map_err(|e: aya::maps::MapError| e.to_string())?;
                let values = seen.get(&0, 0).map_err(|e| e.to_string())?;
                Ok(values.iter().sum())
            }
        }
    }
}

/// Packets per second the receiving end (native mode) counts while the generator transmits
/// `frames` 64-byte frames into the pair. With `threaded`, the receiver's NAPI runs in a
/// kernel thread of its own, so it can use the other core than the generator's, as a NIC's
/// interrupt and the sending application would.
fn veth_rate(
    frames: u32,
    receiver: Receiver,
    threaded: bool,
) -> Result<(AttachMode, u64, f64), String> {
    let id = std::process::id();
    let pair = VethPair {
        namespaces: [format!("ipxbench-g{id}"), format!("ipxbench-r{id}")],
    };
    let [gen_ns, recv_ns] = &pair.namespaces;
    ip(&["netns", "add", gen_ns])?;
    ip(&["netns", "add", recv_ns])?;
    let (gen_if, recv_if) = (format!("ipxg{id}"), format!("ipxr{id}"));
    ip(&[
        "link", "add", &gen_if, "netns", gen_ns, "type", "veth", "peer", "name", &recv_if, "netns",
        recv_ns,
    ])?;
    ip(&["-n", gen_ns, "link", "set", &gen_if, "up"])?;
    ip(&["-n", recv_ns, "link", "set", &recv_if, "up"])?;
    let source = Ipv4Addr::new(198, 51, 100, 1);
    let (mode, attached) = within(recv_ns, || match receiver {
        Receiver::SensorPass | Receiver::SensorDrop => {
            let mut sensor = load(0);
            if matches!(receiver, Receiver::SensorDrop) {
                sensor
                    .insert_block(
                        IpNet::host(source.into()),
                        IpRule {
                            action: IP_ACTION_DROP,
                            ..IpRule::default()
                        },
                    )
                    .map_err(|e| e.to_string())?;
            }
            let mode = sensor
                .attach(&recv_if, Some(AttachMode::Native))
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((mode, Attached::Sensor(Box::new(sensor))))
        }
        Receiver::CountDrop => {
            let mut ebpf = aya::Ebpf::load(GENERATOR_OBJECT).map_err(|e| e.to_string())?;
            let program: &mut Xdp = ebpf
                .program_mut("ironpost_xdp_count_drop")
                .ok_or("no counting program")?
                .try_into()
                .map_err(|e: aya::programs::ProgramError| e.to_string())?;
            program.load().map_err(|e| e.to_string())?;
            program
                .attach(&recv_if, XdpMode::Driver)
                .map_err(|e| e.to_string())?;
            Ok((AttachMode::Native, Attached::Baseline(ebpf)))
        }
    })?;
    if threaded {
        // The NAPI instance exists once XDP is attached; `ip netns exec` mounts the
        // namespace's own sysfs.
        ip(&[
            "netns",
            "exec",
            recv_ns,
            "sh",
            "-c",
            &format!("echo 1 > /sys/class/net/{recv_if}/threaded"),
        ])?;
    }
    let frame = Frame::ipv4(
        source,
        DST,
        Transport::Udp {
            src_port: 40000,
            dst_port: 9,
        },
    )
    .build_padded(60);
    let elapsed = within(gen_ns, || -> Result<Duration, String> {
        let mut ebpf = aya::Ebpf::load(GENERATOR_OBJECT).map_err(|e| e.to_string())?;
        let program: &mut Xdp = ebpf
            .program_mut(GENERATOR_PROGRAM_NAME)
            .ok_or("no generator program")?
            .try_into()
            .map_err(|e: aya::programs::ProgramError| e.to_string())?;
        program.load().map_err(|e| e.to_string())?;
        let ifindex = {
            let name = std::ffi::CString::new(gen_if.as_str()).unwrap();
            // SAFETY: a NUL-terminated name we own.
            unsafe { libc::if_nametoindex(name.as_ptr()) }
        };
        // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index,
        // egress_ifindex.
        let mut ctx = Vec::with_capacity(24);
        for v in [0u32, frame.len() as u32, 0, ifindex, 0, 0] {
            ctx.extend_from_slice(&v.to_ne_bytes());
        }
        let mut opts = TestRunOptions::new();
        opts.data_in = Some(&frame);
        opts.ctx_in = Some(&ctx);
        opts.repeat = frames;
        opts.attrs = TestRunAttrs::new().xdp_live_frames(64);
        let started = Instant::now();
        program.test_run(opts).map_err(|e| e.to_string())?;
        Ok(started.elapsed())
    })?;
    // Frames still in flight arrive within a moment; the count only grows.
    std::thread::sleep(Duration::from_millis(200));
    let received = attached.received()?;
    let pps = received as f64 / elapsed.as_secs_f64();
    drop(attached);
    drop(pair);
    Ok((mode, received, pps))
}

fn drop_program(p: XdpProgram) {
    drop(p);
}

/// The first address of the first prefix `load` inserts.
fn first_prefix_address() -> Ipv4Addr {
    let mut x: u32 = 0x1234_5678;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    let len = 16 + (x % 9);
    let base = 0x1400_0000 + (x % 0x5000_0000);
    Ipv4Addr::from((base & (u32::MAX << (32 - len))) + 1)
}
