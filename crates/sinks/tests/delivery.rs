//! The sinks against real peers on loopback: an HTTPS server with injected failures, syslog
//! receivers over UDP, TCP and TLS, and dead peers that must not hold the others back.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use ironpost_core::Severity;
use ironpost_sinks::{SinkRecord, SinkSet, SinkState};
use support::*;
use tokio::io::AsyncReadExt;

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn webhook_over_https_retries_after_500s_and_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let tls = self_signed(dir.path());
    let server = ScriptedServer::start(
        Some(tls.acceptor.clone()),
        vec![Answer::Status(500), Answer::Hang, Answer::Status(503)],
    )
    .await;
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "t0ken-from-file\n").unwrap();
    let set = SinkSet::build(&sinks(&format!(
        "[[sinks]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"https://127.0.0.1:{}/hook?x=1\"\nca_file = \"{}\"\ntoken = \"secret:file:{}\"\nheaders = {{ X-Source = \"ironpost\" }}\nbatch_size = 10\nmax_attempts = 6\nbackoff_initial_ms = 10\nbackoff_max_ms = 40\ntimeout_secs = 1\n",
        server.addr.port(),
        tls.ca_file.display(),
        token_file.display()
    )))
    .unwrap();
    let mut offered = BTreeSet::new();
    for n in 0..25 {
        let a = alert("ssh.brute", Severity::High, n);
        offered.insert(a.id.as_str().to_owned());
        assert_eq!(set.offer(SinkRecord::Alert(a)), 1);
    }
    let running = Running::start(set);
    assert!(
        wait_until(LIMIT, || running.0.status()[0].delivered == 25).await,
        "{:?}",
        running.0.status()
    );
    let st = &running.0.status()[0];
    assert_eq!((st.failed, st.dropped, st.retries), (0, 0, 3));
    assert_eq!(st.state, SinkState::Ok);
    let delivered: BTreeSet<String> = server.delivered_ids().into_iter().collect();
    assert_eq!(delivered, offered);
    let seen = server.seen();
    // 500, hang, 503, then 200 for the first batch; then two more batches (10 + 10 + 5).
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(seen.iter().all(|s| s.path == "/hook?x=1"));
    let h = &seen[0].headers;
    assert_eq!(h["authorization"], "Bearer t0ken-from-file");
    assert_eq!(h["x-source"], "ironpost");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&seen[5].body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[tokio::test]
async fn failed_deliveries_go_to_the_dead_letter_file_and_4xx_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let always_500 = ScriptedServer::start(None, vec![Answer::Status(500); 100]).await;
    let bad_request = ScriptedServer::start(None, vec![Answer::Status(400); 100]).await;
    let dl = |n: &str| dir.path().join(format!("{n}.dead.jsonl"));
    let set = SinkSet::build(&sinks(&format!(
        "[[sinks]]\nname = \"five-hundred\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}/\"\nbatch_size = 4\nmax_attempts = 3\nbackoff_initial_ms = 5\ndead_letter = \"{}\"\n\
         [[sinks]]\nname = \"four-hundred\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}/\"\nbatch_size = 4\nmax_attempts = 3\nbackoff_initial_ms = 5\ndead_letter = \"{}\"\n",
        always_500.addr.port(),
        dl("500").display(),
        bad_request.addr.port(),
        dl("400").display()
    )))
    .unwrap();
    for n in 0..8 {
        set.offer(SinkRecord::Alert(alert("r", Severity::Medium, n)));
    }
    let running = Running::start(set);
    assert!(
        wait_until(LIMIT, || running
            .0
            .status()
            .iter()
            .all(|s| s.dead_lettered == 8))
        .await,
        "{:?}",
        running.0.status()
    );
    let st = running.0.status();
    // Two batches of 4, three attempts each, against the 500s; one attempt each against the 400s.
    assert_eq!((st[0].failed, st[0].retries, st[0].delivered), (8, 4, 0));
    assert_eq!(always_500.seen().len(), 6);
    assert_eq!((st[1].failed, st[1].retries), (8, 0));
    assert_eq!(bad_request.seen().len(), 2);
    assert_eq!(st[1].state, SinkState::Failing);
    assert!(
        st[1].last_error.as_deref().unwrap().contains("HTTP 400"),
        "{:?}",
        st[1].last_error
    );
    let text = std::fs::read_to_string(dl("500")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8);
    assert_eq!(lines[0]["sink"], "five-hundred");
    assert_eq!(lines[0]["attempts"], 3);
    assert_eq!(lines[0]["record"]["kind"], "alert");
    assert!(lines[0]["error"].as_str().unwrap().contains("HTTP 500"));
}

#[tokio::test]
async fn a_body_template_renders_each_record() {
    let server = ScriptedServer::start(None, Vec::new()).await;
    let set = SinkSet::build(&sinks(&format!(
        "[[sinks]]\nname = \"chat\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}/chat\"\nbatch_size = 1\nbody_template = '{{\"text\": \"[{{{{severity}}}}] {{{{title}}}} on {{{{attribution.host}}}} ({{{{kind}}}})\"}}'\n",
        server.addr.port()
    )))
    .unwrap();
    set.offer(SinkRecord::Alert(alert("r", Severity::Critical, 7)));
    let running = Running::start(set);
    assert!(wait_until(LIMIT, || running.0.status()[0].delivered == 1).await);
    let seen = server.seen();
    let v: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(v["text"], "[critical] Test alert 7 on test-host (alert)");
}

/// Reads octet-counted frames (`LEN SP MSG`) until `n` messages have come.
async fn read_frames<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, n: usize) -> Vec<String> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    while out.len() < n {
        let got = stream.read(&mut chunk).await.unwrap();
        assert!(got > 0, "the sender closed after {} messages", out.len());
        buf.extend_from_slice(&chunk[..got]);
        while let Some(sp) = buf.iter().position(|b| *b == b' ') {
            let len: usize = std::str::from_utf8(&buf[..sp]).unwrap().parse().unwrap();
            if buf.len() < sp + 1 + len {
                break;
            }
            out.push(String::from_utf8(buf[sp + 1..sp + 1 + len].to_vec()).unwrap());
            buf.drain(..sp + 1 + len);
        }
    }
    out
}

fn check_rfc5424(msg: &str, ids: &BTreeSet<String>) -> String {
    let m = syslog_loose::parse_message(msg, syslog_loose::Variant::RFC5424);
    assert_eq!(m.protocol, syslog_loose::Protocol::RFC5424(1), "{msg}");
    assert_eq!(m.appname, Some("ironpost"), "{msg}");
    assert_eq!(m.hostname, Some("test-host"), "{msg}");
    assert_eq!(m.msgid, Some("alert"), "{msg}");
    assert_eq!(m.facility, Some(syslog_loose::SyslogFacility::LOG_AUTH));
    assert_eq!(m.severity, Some(syslog_loose::SyslogSeverity::SEV_ERR));
    let sd = &m.structured_data[0];
    assert_eq!(sd.id, "ironpost@32473");
    let param = |k: &str| sd.params().find(|(n, _)| **n == k).map(|(_, v)| v);
    assert_eq!(param("rule").as_deref(), Some("ssh.brute"));
    assert_eq!(param("container").as_deref(), Some("web-1"));
    let id = param("id").unwrap();
    assert!(ids.contains(&id));
    let body: serde_json::Value = serde_json::from_str(m.msg).unwrap();
    assert_eq!(body["id"], id.as_str());
    id
}

#[tokio::test]
async fn syslog_reaches_udp_tcp_and_tls_receivers_as_rfc5424() {
    let dir = tempfile::tempdir().unwrap();
    let tls = self_signed(dir.path());
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let set = SinkSet::build(&sinks(&format!(
        "[[sinks]]\nname = \"u\"\ntype = \"syslog\"\nprotocol = \"udp\"\naddress = \"{}\"\n\
         [[sinks]]\nname = \"t\"\ntype = \"syslog\"\nprotocol = \"tcp\"\naddress = \"{}\"\nbatch_size = 7\n\
         [[sinks]]\nname = \"s\"\ntype = \"syslog\"\nprotocol = \"tls\"\naddress = \"{}\"\nca_file = \"{}\"\n",
        udp.local_addr().unwrap(),
        tcp.local_addr().unwrap(),
        tls_listener.local_addr().unwrap(),
        tls.ca_file.display()
    )))
    .unwrap();
    let n = 20;
    let mut ids = BTreeSet::new();
    for i in 0..n {
        let a = alert("ssh.brute", Severity::High, i);
        ids.insert(a.id.as_str().to_owned());
        set.offer(SinkRecord::Alert(a));
    }
    let running = Running::start(set);
    let mut got_udp = BTreeSet::new();
    let mut buf = vec![0u8; 65536];
    while got_udp.len() < n as usize {
        let len = tokio::time::timeout(LIMIT, udp.recv(&mut buf))
            .await
            .expect("UDP messages stopped coming")
            .unwrap();
        got_udp.insert(check_rfc5424(
            std::str::from_utf8(&buf[..len]).unwrap(),
            &ids,
        ));
    }
    assert_eq!(got_udp, ids);
    let (mut conn, _) = tcp.accept().await.unwrap();
    let frames = tokio::time::timeout(LIMIT, read_frames(&mut conn, n as usize))
        .await
        .unwrap();
    let got_tcp: BTreeSet<String> = frames.iter().map(|m| check_rfc5424(m, &ids)).collect();
    assert_eq!(got_tcp, ids);
    let (raw, _) = tls_listener.accept().await.unwrap();
    let mut stream = tls.acceptor.accept(raw).await.unwrap();
    let frames = tokio::time::timeout(LIMIT, read_frames(&mut stream, n as usize))
        .await
        .unwrap();
    let got_tls: BTreeSet<String> = frames.iter().map(|m| check_rfc5424(m, &ids)).collect();
    assert_eq!(got_tls, ids);
    assert!(
        wait_until(LIMIT, || running
            .0
            .status()
            .iter()
            .all(|s| s.delivered == n))
        .await
    );
}

#[tokio::test]
async fn a_dead_sink_does_not_hold_back_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let silent = silent_server().await;
    let file = dir.path().join("alerts.jsonl");
    let set = SinkSet::build(&sinks(&format!(
        "[[sinks]]\nname = \"file\"\ntype = \"jsonl\"\npath = \"{}\"\nqueue = 100000\n\
         [[sinks]]\nname = \"never-answers\"\ntype = \"webhook\"\nurl = \"http://{silent}/\"\nqueue = 50\ntimeout_secs = 600\n\
         [[sinks]]\nname = \"refused\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}/\"\nqueue = 50\nbackoff_initial_ms = 60000\n",
        file.display(),
        dead_port()
    )))
    .unwrap();
    let running = Running::start(set);
    let n = 20_000u64;
    for i in 0..n {
        running
            .0
            .offer(SinkRecord::Alert(alert("r", Severity::Low, i)));
        if i % 1000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    assert!(
        wait_until(LIMIT, || running.0.status()[0].delivered == n).await,
        "{:?}",
        running.0.status()
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count() as u64, n);
    let st = running.0.status();
    assert_eq!(st[0].dropped, 0);
    for dead in &st[1..] {
        assert_eq!(dead.delivered, 0, "{dead:?}");
        // At most one batch in flight and a full queue; every other record was dropped.
        assert!(dead.dropped >= n - 50 - 100, "{dead:?}");
        assert_eq!(dead.backlog, 50, "{dead:?}");
    }
    assert_eq!(st[2].state, SinkState::Retrying);
    assert!(
        st[2]
            .last_error
            .as_deref()
            .unwrap()
            .contains("connecting to 127.0.0.1")
    );
}
