//! Sources for real: temporary files, loopback sockets, a real event bus.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ironpost_core::bus::{BusReceiver, bus};
use ironpost_core::event::{Event, LogRecord};
use ironpost_core::module::shutdown_signal;
use ironpost_log_pipeline::checkpoint::JsonFileCheckpointStore;
use ironpost_log_pipeline::sources::file::{FileSource, FileSourceOptions, StartAt};
use ironpost_log_pipeline::sources::tcp::{SyslogTcpOptions, SyslogTcpSource};
use ironpost_log_pipeline::sources::udp::{SyslogUdpOptions, SyslogUdpSource};
use ironpost_log_pipeline::{CheckpointStore, Format, MemoryCheckpointStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Waits for the next record; the bound only keeps a broken source from hanging the test.
async fn next(rx: &mut BusReceiver<Event>) -> LogRecord {
    match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
        Ok(Some(Event::Log(r))) => r,
        other => panic!("no record: {other:?}"),
    }
}

async fn messages(rx: &mut BusReceiver<Event>, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(next(rx).await.message);
    }
    out
}

/// Nothing more arrives within a short wait (used after the expected records are in).
async fn nothing_more(rx: &mut BusReceiver<Event>) {
    if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(600), rx.recv()).await {
        panic!("unexpected record: {ev:?}");
    }
}

/// Waits until a file source has looked at `key` (it saves a checkpoint when it opens a file),
/// so that lines written afterwards are new to it.
async fn started(store: &MemoryCheckpointStore, key: &str) {
    for _ in 0..2000 {
        if store.load(key).unwrap().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the source never opened {key}");
}

fn append(path: &std::path::Path, lines: &[&str]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn ssh(n: u32) -> String {
    format!(
        "Dec 10 06:55:46 LabSZ sshd[{n}]: Failed password for root from 10.0.0.{n} port 22 ssh2"
    )
}

fn opts(pattern: String, start_at: StartAt) -> FileSourceOptions {
    let mut o = FileSourceOptions::new("auth", vec![pattern]);
    o.start_at = start_at;
    o.poll_interval = Duration::from_millis(20);
    o
}

#[tokio::test]
async fn tail_starts_at_end_and_follows_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    append(&path, &[&ssh(1), &ssh(2)]);
    let store = Arc::new(MemoryCheckpointStore::new());
    let src = FileSource::new(
        opts(path.display().to_string(), StartAt::End),
        store.clone(),
    )
    .unwrap();
    let (tx, mut rx) = bus("events", 64);
    let (trigger, shutdown) = shutdown_signal();
    let task = tokio::spawn(src.run(tx, shutdown));
    started(&store, &format!("auth:{}", path.display())).await;
    append(&path, &[&ssh(3)]);
    let r = next(&mut rx).await;
    assert_eq!(r.pid, Some(3));
    assert_eq!(
        r.fields
            .get("src_ip")
            .and_then(|v| v.view().as_str().map(str::to_owned))
            .as_deref(),
        Some("10.0.0.3")
    );
    assert_eq!(r.source, "auth");
    trigger.fire();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn start_at_beginning_globs_and_new_files() {
    let dir = tempfile::tempdir().unwrap();
    append(
        &dir.path().join("a.log"),
        &[
            "<13>Jan  1 00:00:00 h a: one",
            "<13>Jan  1 00:00:00 h a: two",
        ],
    );
    append(
        &dir.path().join("skip.txt"),
        &["<13>Jan  1 00:00:00 h a: not matched"],
    );
    let store = Arc::new(MemoryCheckpointStore::new());
    let src = FileSource::new(
        opts(format!("{}/*.log", dir.path().display()), StartAt::End),
        store.clone(),
    )
    .unwrap();
    let mut o = opts(
        format!("{}/*.log", dir.path().display()),
        StartAt::Beginning,
    );
    o.name = "b".into();
    let src_b = FileSource::new(o, Arc::new(MemoryCheckpointStore::new())).unwrap();
    let (tx, mut rx) = bus("events", 64);
    let (trigger, shutdown) = shutdown_signal();
    let t1 = tokio::spawn(src.run(tx.clone(), shutdown.clone()));
    let t2 = tokio::spawn(src_b.run(tx, shutdown));
    let mut got = messages(&mut rx, 2).await;
    got.sort();
    assert_eq!(
        got,
        ["one", "two"],
        "only the start_at=beginning source reads existing lines"
    );
    // A file that appears later is read from its start by both (once the first has started).
    started(
        &store,
        &format!("auth:{}", dir.path().join("a.log").display()),
    )
    .await;
    append(
        &dir.path().join("c.log"),
        &["<13>Jan  1 00:00:00 h c: three"],
    );
    assert_eq!(messages(&mut rx, 2).await, ["three", "three"]);
    nothing_more(&mut rx).await;
    trigger.fire();
    t1.await.unwrap().unwrap();
    t2.await.unwrap().unwrap();
}

#[tokio::test]
async fn rename_and_create_rotation_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    append(&path, &[]);
    let src = FileSource::new(
        opts(path.display().to_string(), StartAt::Beginning),
        Arc::new(MemoryCheckpointStore::new()),
    )
    .unwrap();
    let stats = src.stats();
    let (tx, mut rx) = bus("events", 64);
    let (trigger, shutdown) = shutdown_signal();
    let task = tokio::spawn(src.run(tx, shutdown));
    append(
        &path,
        &["<13>Jan  1 00:00:00 h a: 1", "<13>Jan  1 00:00:00 h a: 2"],
    );
    assert_eq!(messages(&mut rx, 2).await, ["1", "2"]);
    // The writer still holds the old file after the rename and writes one more line to it.
    let rotated = dir.path().join("auth.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    append(&rotated, &["<13>Jan  1 00:00:00 h a: 3"]);
    append(
        &path,
        &["<13>Jan  1 00:00:00 h a: 4", "<13>Jan  1 00:00:00 h a: 5"],
    );
    assert_eq!(messages(&mut rx, 3).await, ["3", "4", "5"]);
    nothing_more(&mut rx).await;
    // A writer that has not reopened its log yet still writes to the rotated file.
    append(&rotated, &["<13>Jan  1 00:00:00 h a: late"]);
    assert_eq!(messages(&mut rx, 1).await, ["late"]);
    assert_eq!(stats.rotations.load(Ordering::Relaxed), 1);
    trigger.fire();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn copytruncate_rotation_restarts_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, &[]);
    let src = FileSource::new(
        opts(path.display().to_string(), StartAt::Beginning),
        Arc::new(MemoryCheckpointStore::new()),
    )
    .unwrap();
    let stats = src.stats();
    let (tx, mut rx) = bus("events", 64);
    let (trigger, shutdown) = shutdown_signal();
    let task = tokio::spawn(src.run(tx, shutdown));
    append(
        &path,
        &[
            "<13>Jan  1 00:00:00 h a: before one",
            "<13>Jan  1 00:00:00 h a: before two",
        ],
    );
    assert_eq!(messages(&mut rx, 2).await.len(), 2);
    std::fs::copy(&path, dir.path().join("app.log.1")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    // Wait for the truncation to be seen before writing (a real copytruncate has the same race).
    while stats.rotations.load(Ordering::Relaxed) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    append(&path, &["<13>Jan  1 00:00:00 h a: after"]);
    assert_eq!(messages(&mut rx, 1).await, ["after"]);
    nothing_more(&mut rx).await;
    trigger.fire();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn checkpoints_survive_an_abrupt_stop_without_loss_or_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    let cp_path = dir.path().join("checkpoints.json");
    append(&path, &[&ssh(1), &ssh(2)]);
    let pattern = path.display().to_string();
    {
        let store = Arc::new(JsonFileCheckpointStore::open(&cp_path).unwrap());
        let src = FileSource::new(opts(pattern.clone(), StartAt::Beginning), store).unwrap();
        let (tx, mut rx) = bus("events", 64);
        let (_trigger, shutdown) = shutdown_signal();
        let task = tokio::spawn(src.run(tx, shutdown));
        let got: Vec<u32> = vec![
            next(&mut rx).await.pid.unwrap(),
            next(&mut rx).await.pid.unwrap(),
        ];
        assert_eq!(got, [1, 2]);
        nothing_more(&mut rx).await;
        // Like kill -9: no shutdown, no final save.
        task.abort();
        let _ = task.await;
    }
    append(&path, &[&ssh(3), &ssh(4)]);
    let store = Arc::new(JsonFileCheckpointStore::open(&cp_path).unwrap());
    let key = format!("auth:{pattern}");
    assert!(store.load(&key).unwrap().unwrap().offset > 0);
    let src = FileSource::new(opts(pattern, StartAt::Beginning), store).unwrap();
    let (tx, mut rx) = bus("events", 64);
    let (trigger, shutdown) = shutdown_signal();
    let task = tokio::spawn(src.run(tx, shutdown));
    assert_eq!(next(&mut rx).await.pid, Some(3));
    assert_eq!(next(&mut rx).await.pid, Some(4));
    nothing_more(&mut rx).await;
    trigger.fire();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn long_lines_are_cut_and_invalid_utf8_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.log");
    let mut o = opts(path.display().to_string(), StartAt::Beginning);
    o.max_line_bytes = 100;
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(format!("<13>Jan  1 00:00:00 h a: {}\n", "x".repeat(100_000)).as_bytes())
        .unwrap();
    f.write_all(b"<13>Jan  1 00:00:00 h a: bad \xc3\x28 utf8\n<13>Jan  1 00:00:00 h a: fine\n")
        .unwrap();
    drop(f);
    let src = FileSource::new(o, Arc::new(MemoryCheckpointStore::new())).unwrap();
    let stats = src.stats();
    let (tx, mut rx) = bus("events", 64);
    let (trigger, shutdown) = shutdown_signal();
    let task = tokio::spawn(src.run(tx, shutdown));
    let long = next(&mut rx).await;
    assert_eq!(long.message.len(), 100 - "<13>Jan  1 00:00:00 h a: ".len());
    assert!(long.fields.get("truncated").is_some());
    assert_eq!(next(&mut rx).await.message, "bad \u{fffd}( utf8");
    assert_eq!(next(&mut rx).await.message, "fine");
    assert_eq!(stats.truncated.load(Ordering::Relaxed), 1);
    assert_eq!(stats.lossy_utf8.load(Ordering::Relaxed), 1);
    trigger.fire();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn json_lines_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.jsonl");
    append(
        &path,
        &[
            r#"{"message":"a","level":"error","user":{"name":"x"}}"#,
            "not json",
        ],
    );
    let mut o = opts(path.display().to_string(), StartAt::Beginning);
    o.format = Format::Json;
    let src = FileSource::new(o, Arc::new(MemoryCheckpointStore::new())).unwrap();
    let (tx, mut rx) = bus("events", 64);
    let (trigger, shutdown) = shutdown_signal();
    let task = tokio::spawn(src.run(tx, shutdown));
    let r = next(&mut rx).await;
    assert_eq!(
        (
            r.format.as_str(),
            r.severity,
            r.fields.get("user.name").is_some()
        ),
        ("json", Some(3), true)
    );
    let raw = next(&mut rx).await;
    assert_eq!(
        (raw.format.as_str(), raw.message.as_str()),
        ("raw", "not json")
    );
    trigger.fire();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn syslog_udp_receives_datagrams() {
    let mut o = SyslogUdpOptions::new("udp");
    o.bind = "127.0.0.1:0".parse().unwrap();
    let src = SyslogUdpSource::bind(o).unwrap();
    assert!(
        src.recv_buffer_bytes() >= 200_000,
        "{}",
        src.recv_buffer_bytes()
    );
    let addr = src.local_addr().unwrap();
    let (tx, mut rx) = bus("events", 1024);
    let (trigger, shutdown) = shutdown_signal();
    let task = tokio::spawn(src.run(tx, shutdown));
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..100 {
        sock.send_to(
            format!("<38>1 2024-01-01T00:00:00Z h sshd {i} - - Invalid user u{i} from 10.1.1.1\n")
                .as_bytes(),
            addr,
        )
        .await
        .unwrap();
    }
    let mut pids: Vec<u32> = Vec::new();
    for _ in 0..100 {
        let r = next(&mut rx).await;
        assert_eq!(r.format, "rfc5424");
        assert_eq!(
            r.fields
                .get("peer")
                .and_then(|v| v.view().as_str().map(str::to_owned))
                .as_deref(),
            Some("127.0.0.1")
        );
        pids.push(r.pid.unwrap());
    }
    pids.sort();
    assert_eq!(pids, (0..100).collect::<Vec<_>>());
    trigger.fire();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn syslog_udp_counts_the_datagrams_the_kernel_drops() {
    let mut o = SyslogUdpOptions::new("udp-small");
    o.bind = "127.0.0.1:0".parse().unwrap();
    // The kernel's floor: a handful of datagrams fit.
    o.recv_buffer_bytes = 1;
    let src = SyslogUdpSource::bind(o).unwrap();
    let addr = src.local_addr().unwrap();
    let stats = src.stats();
    // Nothing reads yet: the buffer fills and the kernel drops the rest.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let line = |i: u32| {
        format!(
            "<38>Jan  1 00:00:00 h sshd[{i}]: Failed password for root from 10.0.0.1 port 22 ssh2"
        )
    };
    for i in 0..500 {
        sock.send_to(line(i).as_bytes(), addr).unwrap();
    }
    let (tx, mut rx) = bus("events", 1024);
    let (trigger, shutdown) = shutdown_signal();
    let task = tokio::spawn(src.run(tx, shutdown));
    // A datagram read after the drops carries their count: probe until one is read with
    // nothing queued before it; every datagram sent is then read or counted as dropped.
    let mut sent = 500;
    let (mut lines, mut drops) = (0, 0);
    for _ in 0..200 {
        sock.send_to(line(sent).as_bytes(), addr).unwrap();
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        lines = stats.lines.load(Ordering::Relaxed);
        drops = stats.kernel_drops.load(Ordering::Relaxed);
        if lines + drops == u64::from(sent) {
            break;
        }
    }
    assert_eq!(
        lines + drops,
        u64::from(sent),
        "{lines} read, {drops} counted as dropped"
    );
    assert!(
        drops > 400,
        "{drops} dropped of {sent} with a buffer of a few datagrams"
    );
    for _ in 0..lines {
        next(&mut rx).await;
    }
    nothing_more(&mut rx).await;
    trigger.fire();
    task.await.unwrap().unwrap();
}

async fn tcp_source(
    max_conn: usize,
    frame_timeout: Duration,
) -> (
    std::net::SocketAddr,
    BusReceiver<Event>,
    ironpost_core::module::ShutdownTrigger,
    Arc<ironpost_log_pipeline::sources::SourceStats>,
    tokio::task::JoinHandle<Result<(), ironpost_log_pipeline::sources::file::SourceError>>,
) {
    let mut o = SyslogTcpOptions::new("tcp");
    o.bind = "127.0.0.1:0".parse().unwrap();
    o.max_connections = max_conn;
    o.frame_timeout = frame_timeout;
    o.max_frame_bytes = 4096;
    let src = SyslogTcpSource::bind(o).await.unwrap();
    let addr = src.local_addr().unwrap();
    let stats = src.stats();
    let (tx, rx) = bus("events", 1024);
    let (trigger, shutdown) = shutdown_signal();
    let task = tokio::spawn(src.run(tx, shutdown));
    (addr, rx, trigger, stats, task)
}

/// Reads (and discards, e.g. a TLS alert) until the server closes the connection; true when it did.
async fn closed_by_server(s: &mut tokio::net::TcpStream) -> bool {
    let mut b = [0u8; 256];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), s.read(&mut b)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn syslog_tcp_detects_framing_per_connection() {
    let (addr, mut rx, trigger, _stats, task) = tcp_source(8, Duration::from_secs(30)).await;
    let mut a = tokio::net::TcpStream::connect(addr).await.unwrap();
    let msg = "<13>Jan  1 00:00:00 h a: counted\nwith newline";
    a.write_all(format!("{} {msg}", msg.len()).as_bytes())
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await.message, "counted\nwith newline");
    let mut b = tokio::net::TcpStream::connect(addr).await.unwrap();
    b.write_all(b"<13>Jan  1 00:00:00 h a: one\n<13>Jan  1 00:00:00 h a: two\n")
        .await
        .unwrap();
    assert_eq!(messages(&mut rx, 2).await, ["one", "two"]);
    b.write_all(br#"{"message":"json over tcp"}"#)
        .await
        .unwrap();
    drop(b);
    assert_eq!(next(&mut rx).await.message, "json over tcp");
    trigger.fire();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn syslog_tcp_enforces_limits() {
    let (addr, mut rx, trigger, stats, task) = tcp_source(1, Duration::from_millis(300)).await;
    // A 2 GB announcement closes the connection before anything is buffered.
    let mut big = tokio::net::TcpStream::connect(addr).await.unwrap();
    big.write_all(b"2147483648 <13>Jan").await.unwrap();
    assert!(closed_by_server(&mut big).await);
    assert_eq!(stats.framing_errors.load(Ordering::Relaxed), 1);
    // Slow loris: a byte at a time never completes a frame within frame_timeout.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut refused = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_by_server(&mut refused).await,
        "one connection at most"
    );
    assert_eq!(stats.connections_refused.load(Ordering::Relaxed), 1);
    let mut closed = false;
    for b in b"<13>Jan  1 00:00:00 h a: slow".iter().cycle().take(10_000) {
        if slow.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        if stats.connections_timed_out.load(Ordering::Relaxed) > 0 {
            closed = true;
            break;
        }
    }
    assert!(closed);
    assert!(closed_by_server(&mut slow).await);
    nothing_more(&mut rx).await;
    trigger.fire();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_broad_glob_never_reads_a_rotated_file_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    append(&path, &[]);
    let src = FileSource::new(
        opts(format!("{}*", path.display()), StartAt::Beginning),
        Arc::new(MemoryCheckpointStore::new()),
    )
    .unwrap();
    let (tx, mut rx) = bus("events", 64);
    let (trigger, shutdown) = shutdown_signal();
    let task = tokio::spawn(src.run(tx, shutdown));
    append(&path, &["<13>Jan  1 00:00:00 h a: 1"]);
    assert_eq!(messages(&mut rx, 1).await, ["1"]);
    std::fs::rename(&path, dir.path().join("auth.log.1")).unwrap();
    append(&path, &["<13>Jan  1 00:00:00 h a: 2"]);
    assert_eq!(messages(&mut rx, 1).await, ["2"]);
    append(
        &dir.path().join("auth.log.1"),
        &["<13>Jan  1 00:00:00 h a: 3"],
    );
    assert_eq!(messages(&mut rx, 1).await, ["3"]);
    nothing_more(&mut rx).await;
    trigger.fire();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn syslog_tcp_over_tls() {
    use ironpost_log_pipeline::sources::tcp::TlsOptions;
    use tokio_rustls::rustls;

    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, ck.cert.pem()).unwrap();
    std::fs::write(&key_path, ck.signing_key.serialize_pem()).unwrap();

    let mut o = SyslogTcpOptions::new("tls");
    o.bind = "127.0.0.1:0".parse().unwrap();
    o.frame_timeout = Duration::from_secs(2);
    o.tls = Some(TlsOptions {
        cert_path: cert_path.clone(),
        key_path: key_path.clone(),
    });
    let src = SyslogTcpSource::bind(o).await.unwrap();
    let addr = src.local_addr().unwrap();
    let stats = src.stats();
    let (tx, mut rx) = bus("events", 64);
    let (trigger, shutdown) = shutdown_signal();
    let task = tokio::spawn(src.run(tx, shutdown));

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ck.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let msg = "<13>1 2024-01-01T00:00:00Z h sshd 7 - - Accepted publickey for bob from 10.2.2.2 port 4000 ssh2";
    tls.write_all(format!("{} {msg}", msg.len()).as_bytes())
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let r = next(&mut rx).await;
    assert_eq!(
        (
            r.pid,
            r.fields
                .get("outcome")
                .and_then(|v| v.view().as_str().map(str::to_owned))
        ),
        (Some(7), Some("success".to_owned()))
    );

    // A plaintext peer on the TLS port fails the handshake and is counted.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"<13>Jan  1 00:00:00 h a: clear text\n")
        .await
        .unwrap();
    assert!(closed_by_server(&mut plain).await);
    assert_eq!(stats.tls_failures.load(Ordering::Relaxed), 1);
    nothing_more(&mut rx).await;
    trigger.fire();
    task.await.unwrap().unwrap();

    // A key file that is not a key names the file.
    let mut bad = SyslogTcpOptions::new("tls");
    bad.bind = "127.0.0.1:0".parse().unwrap();
    bad.tls = Some(TlsOptions {
        cert_path,
        key_path: dir.path().join("missing.pem"),
    });
    let err = SyslogTcpSource::bind(bad).await.unwrap_err().to_string();
    assert!(err.contains("missing.pem"), "{err}");
}
