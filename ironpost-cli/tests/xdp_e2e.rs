//! The XDP sensor end to end: the real daemon attached to one end of a veth pair between two
//! network namespaces this test creates (with its own 10.213.0.0/24 addresses), traffic sent
//! from the other namespace and counted by a receiver socket, `ironpost block` changing the
//! kernel's blocklist at run time, and a SYN sweep ending as a port-scan alert in the store.
//!
//! Needs root and the `ip` tool; without them each test says so and returns.

mod support;

use std::fs::File;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Daemon, Setup, daemon_bin, stderr, stored_alerts};

const HOST_IP: &str = "10.213.0.2";
/// The sender's address that stays allowed (until the test blocks it).
const PEER_IP: &str = "10.213.0.1";
/// The sender's address blocklisted in the config file.
const BLOCKED_IP: &str = "10.213.0.3";
/// The sender's address on the allowlist.
const ALLOWED_IP: &str = "10.213.0.4";
const PORT: u16 = 9999;

/// Two namespaces joined by a veth pair, removed (with the pair) on drop.
struct Net {
    sender: String,
    host: String,
    host_if: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Net {
    fn create(tag: &str) -> Net {
        let id = std::process::id() % 100_000;
        let net = Net {
            sender: format!("ipx{tag}s{id}"),
            host: format!("ipx{tag}h{id}"),
            host_if: format!("vx{tag}h{id}"),
        };
        let sender_if = format!("vx{tag}s{id}");
        ip(&["netns", "add", &net.sender]);
        ip(&["netns", "add", &net.host]);
        ip(&[
            "link",
            "add",
            &sender_if,
            "netns",
            &net.sender,
            "type",
            "veth",
            "peer",
            "name",
            &net.host_if,
            "netns",
            &net.host,
        ]);
        for (ns, ifname, addrs) in [
            (
                &net.sender,
                &sender_if,
                vec![PEER_IP, BLOCKED_IP, ALLOWED_IP],
            ),
            (&net.host, &net.host_if, vec![HOST_IP]),
        ] {
            for a in addrs {
                ip(&["-n", ns, "addr", "add", &format!("{a}/24"), "dev", ifname]);
            }
            ip(&["-n", ns, "link", "set", ifname, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        net
    }

    /// Runs `f` on a thread inside namespace `ns`; sockets it opens stay in that namespace.
    fn within<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                let fd = File::open(format!("/var/run/netns/{ns}")).expect("netns file");
                // SAFETY: setns on this thread only, with a namespace file we hold open.
                let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns {ns}: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .expect("thread in namespace")
        })
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in [&self.sender, &self.host] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

fn prerequisites() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root for network namespaces and XDP");
        return false;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        eprintln!("skipped: the `ip` tool (iproute2) is missing");
        return false;
    }
    true
}

fn start_in(s: &Setup, ns: &str) -> Daemon {
    let log = s.dir.path().join("daemon.log");
    let child = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(daemon_bin())
        .arg("-c")
        .arg(&s.config)
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut d = Daemon {
        child: Some(child),
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(s.cli(&["status", "--json"]).status.code(), Some(0 | 1)) {
        if let Some(status) = d.child.as_mut().unwrap().try_wait().unwrap() {
            panic!("daemon exited with {status}: {}", d.stderr());
        }
        assert!(
            Instant::now() < deadline,
            "daemon did not answer within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    d
}

/// A UDP receiver in the host namespace that tells which senders got through.
struct Receiver(UdpSocket);

impl Receiver {
    fn open(net: &Net) -> Receiver {
        let sock = Net::within(&net.host, || UdpSocket::bind((HOST_IP, PORT)).unwrap());
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Receiver(sock)
    }

    /// Sends `n` datagrams from `from`, then a marker from `PEER_IP` (or `marker_from`), and
    /// returns how many of the `n` arrived: the pair keeps order, so all that passed are in
    /// before the marker.
    fn count_from(&self, net: &Net, from: &str, n: usize, marker_from: &str) -> usize {
        let marker = format!("marker-{}", Instant::now().elapsed().as_nanos());
        Net::within(&net.sender, || {
            let tx = UdpSocket::bind((from, 0)).unwrap();
            for i in 0..n {
                tx.send_to(format!("data-{i}").as_bytes(), (HOST_IP, PORT))
                    .unwrap();
            }
            let m = UdpSocket::bind((marker_from, 0)).unwrap();
            m.send_to(marker.as_bytes(), (HOST_IP, PORT)).unwrap();
        });
        let mut got = 0;
        let mut buf = [0u8; 256];
        loop {
            let (len, src) = self
                .0
                .recv_from(&mut buf)
                .expect("the marker from an allowed source must arrive");
            let text = std::str::from_utf8(&buf[..len]).unwrap_or("");
            if text == marker {
                return got;
            }
            if src.ip().to_string() == from && text.starts_with("data-") {
                got += 1;
            }
        }
    }
}

fn config(net: &Net, extra: &str) -> String {
    format!(
        "[sigma]\nenabled = false\n\n[xdp]\nenabled = true\ninterface = \"{}\"\nport_threshold = 50\nsyn_threshold = 0\nblocklist = [\"{BLOCKED_IP}\"]\nallowlist = [\"{ALLOWED_IP}\"]\n{extra}\n",
        net.host_if
    )
}

fn counter(s: &Setup, name: &str) -> u64 {
    s.module("xdp")["counters"][name].as_u64().unwrap_or(0)
}

fn block_targets(s: &Setup) -> Vec<(String, String)> {
    let out = s.cli(&["block", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["target"].as_str().unwrap().to_owned(),
                e["origin"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn blocklist_drops_at_the_receiver_and_changes_without_restart() {
    if !prerequisites() {
        return;
    }
    let net = Net::create("a");
    let s = Setup::new(&config(&net, ""));
    let d = start_in(&s, &net.host);
    s.wait_for("xdp healthy", |doc| {
        doc["modules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "xdp" && m["state"] == "healthy")
    });
    // veth supports native XDP, which auto mode tries first.
    assert_eq!(counter(&s, "attach_mode_native"), 1, "{}", s.module("xdp"));
    let rx = Receiver::open(&net);

    // The config's blocklisted source is dropped; the others pass.
    assert_eq!(rx.count_from(&net, PEER_IP, 50, PEER_IP), 50);
    assert_eq!(rx.count_from(&net, BLOCKED_IP, 50, PEER_IP), 0);
    assert_eq!(rx.count_from(&net, ALLOWED_IP, 20, PEER_IP), 20);
    s.wait_for("drops counted", |_| counter(&s, "drop_block_exact") >= 50);
    // `block list` shows the kernel's hit count of the config entry.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = s.cli(&["block", "list", "--json"]);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let hits = doc["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["target"] == BLOCKED_IP)
            .map(|e| e["hits"].as_u64().unwrap_or(0))
            .unwrap_or(0);
        if hits >= 50 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "hits of {BLOCKED_IP} not shown: {doc}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // `block add` takes effect on the running sensor ...
    let out = s.cli(&["block", "add", PEER_IP, "--ttl", "10m", "--reason", "e2e"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("blocked 10.213.0.1 until"));
    assert!(block_targets(&s).contains(&(PEER_IP.to_owned(), "control".to_owned())));
    assert_eq!(rx.count_from(&net, PEER_IP, 50, ALLOWED_IP), 0);
    let out = s.cli(&["block", "add", "10.213.0.0/24"]);
    // ... but not one covering the allowlisted address, which is refused with exit 2.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("allowlist"), "{}", stderr(&out));
    // ... and `block remove` lifts it.
    let out = s.cli(&["block", "remove", PEER_IP]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(rx.count_from(&net, PEER_IP, 50, PEER_IP), 50);
    let out = s.cli(&["block", "remove", PEER_IP]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "removing twice: {}",
        stderr(&out)
    );
    let out = s.cli(&["block", "add", "10.213.0.7/24"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean 10.213.0.0/24"),
        "{}",
        stderr(&out)
    );

    // An entry with a time to live is removed once it expires, and traffic passes again.
    let out = s.cli(&["block", "add", PEER_IP, "--ttl", "2s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let deadline = Instant::now() + Duration::from_secs(30);
    while block_targets(&s).iter().any(|(t, _)| t == PEER_IP) {
        assert!(
            Instant::now() < deadline,
            "the 2 s entry was not removed in 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(rx.count_from(&net, PEER_IP, 10, PEER_IP), 10);

    let (status, log) = d.terminate();
    assert!(status.success(), "{log}");
}

#[test]
fn a_syn_sweep_becomes_a_port_scan_alert_and_an_auto_block() {
    if !prerequisites() {
        return;
    }
    let net = Net::create("b");
    let s = Setup::new(&config(&net, "auto_block_ttl_secs = 600\n"));
    let d = start_in(&s, &net.host);
    s.wait_for("xdp healthy", |doc| {
        doc["modules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "xdp" && m["state"] == "healthy")
    });
    let rx = Receiver::open(&net);
    assert_eq!(rx.count_from(&net, PEER_IP, 5, PEER_IP), 5);
    // SYNs to 100 closed ports, from the interface's first address (PEER_IP): each is
    // answered by a reset, each is a distinct port.
    Net::within(&net.sender, || {
        for port in 20_000..20_100u16 {
            let addr: SocketAddr = format!("{HOST_IP}:{port}").parse().unwrap();
            // Once the responder blocks the scanner its later SYNs go unanswered: keep the
            // wait short.
            let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let alert = loop {
        let found = stored_alerts(&s.data())
            .into_iter()
            .find(|a| a.rule_id == "ironpost.xdp.port_scan");
        if let Some(a) = found {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no port-scan alert stored within 30 s; status: {}",
            s.status()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(alert.attribution.src_ip.unwrap().to_string(), PEER_IP);
    assert_eq!(alert.module, "xdp");
    assert_eq!(alert.count, 50);
    assert_eq!(alert.group["src_ip"], PEER_IP);
    // The responder blocked the scanner, with a time to live, and the kernel drops it.
    s.wait_for("auto-block", |_| counter(&s, "auto_blocks") == 1);
    assert!(block_targets(&s).contains(&(PEER_IP.to_owned(), "auto".to_owned())));
    assert_eq!(rx.count_from(&net, PEER_IP, 20, ALLOWED_IP), 0);
    let (status, log) = d.terminate();
    assert!(status.success(), "{log}");
}

#[test]
fn a_missing_interface_makes_the_module_degraded_and_the_daemon_runs_on() {
    let s = Setup::new(
        "[sigma]\nenabled = false\n\n[xdp]\nenabled = true\ninterface = \"ipxnosuch0\"\n",
    );
    let d = s.start();
    s.wait_for("xdp degraded", |doc| {
        doc["modules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "xdp" && m["state"] == "degraded")
    });
    let m = s.module("xdp");
    assert!(m["reason"].as_str().unwrap().contains("ipxnosuch0"), "{m}");
    assert_eq!(m["restarts"], 0, "degraded, not failing in a loop: {m}");
    // The control API still answers, and block entries are kept for when the sensor runs.
    let out = s.cli(&["block", "add", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = s.cli(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let (status, log) = d.terminate();
    assert!(status.success(), "{log}");
}

#[test]
fn block_commands_without_an_xdp_module_say_how_to_enable_it() {
    let s = Setup::new("[sigma]\nenabled = false\n");
    let d = s.start();
    let out = s.cli(&["block", "list"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[xdp] enabled = true"),
        "{}",
        stderr(&out)
    );
    let out = s.cli(&["block", "add", "192.0.2.1", "--ttl", "10y"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    drop(d);
}
