//! `[[sinks]]` on the real daemon: selftest alerts reach a JSON-lines file and a loopback
//! webhook after they are stored, a dead sink holds back no other, `ironpost status` shows each
//! sink, and `config show` prints no secret.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use support::*;

/// A plain HTTP/1.1 server on loopback answering 200 to every POST; returns its port and the
/// bodies it received.
fn webhook_receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let b = bodies.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let b = b.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut conn = conn;
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        reader.read_line(&mut line).unwrap();
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = l.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    b.lock().unwrap().push(String::from_utf8(body).unwrap());
                    conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .unwrap();
                }
            });
        }
    });
    (port, bodies)
}

fn sink<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["sinks"]
        .as_array()
        .unwrap_or_else(|| panic!("no sinks in {doc}"))
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no sink {name} in {doc}"))
}

#[test]
fn stored_alerts_reach_the_sinks_and_a_dead_sink_holds_back_no_other() {
    let n = 3000u64;
    let (hook_port, bodies) = webhook_receiver();
    let dead_port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.jsonl");
    let s = Setup::new(&format!(
        "[selftest]\nenabled = true\nemit_alerts = {n}\n\n\
         [[sinks]]\nname = \"file\"\ntype = \"jsonl\"\npath = \"{}\"\n\n\
         [[sinks]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{hook_port}/in\"\nbatch_size = 200\nmin_severity = \"informational\"\n\n\
         [[sinks]]\nname = \"dead\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{dead_port}/\"\nqueue = 10\nbackoff_initial_ms = 60000\n",
        file.display()
    ));
    let d = s.start();
    s.wait_for("every alert through the live sinks", |doc| {
        doc["sinks"].as_array().is_some_and(|_| {
            sink(doc, "file")["delivered"] == n && sink(doc, "hook")["delivered"] == n
        })
    });
    let doc = s.status();
    let dead = sink(&doc, "dead");
    assert_eq!(dead["delivered"], 0, "{dead}");
    assert_eq!(dead["state"], "retrying", "{dead}");
    assert_eq!(dead["backlog"], 10, "{dead}");
    // One batch of at most 10 in flight, 10 queued, the rest dropped and counted.
    assert!(dead["dropped"].as_u64().unwrap() >= n - 20, "{dead}");
    assert!(
        dead["last_error"]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{dead_port}")),
        "{dead}"
    );
    assert_eq!(sink(&doc, "file")["dropped"], 0);
    // The sinks module reports degraded, naming the failing sink, at its next look.
    s.wait_for("the sinks module degraded by the dead sink", |doc| {
        doc["modules"].as_array().unwrap().iter().any(|m| {
            m["name"] == "sinks"
                && m["state"] == "degraded"
                && m["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("sink dead"))
        })
    });

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, n);
    assert!(
        lines
            .iter()
            .all(|l| l["kind"] == "alert" && l["rule_id"] == "ironpost.selftest")
    );
    let mut ids: Vec<String> = bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(|b| {
            serde_json::from_str::<Vec<serde_json::Value>>(b)
                .unwrap()
                .into_iter()
                .map(|a| a["id"].as_str().unwrap().to_owned())
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len() as u64, n);
    // Every delivered alert is in the store: sinks see what the store accepted.
    let stored: std::collections::BTreeSet<String> = stored_alerts(&s.data())
        .into_iter()
        .map(|a| a.id.as_str().to_owned())
        .collect();
    assert!(ids.iter().all(|id| stored.contains(id)));

    let out = s.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SINK"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("dead") && l.contains("webhook") && l.contains("retrying")),
        "{text}"
    );
    let (status, log) = d.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
}

#[test]
fn sigterm_delivers_every_stored_alert_to_the_file_sink() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.jsonl");
    let s = Setup::new(&format!(
        "[selftest]\nenabled = true\nemit_alerts = 5000\n\n\
         [[sinks]]\nname = \"file\"\ntype = \"jsonl\"\npath = \"{}\"\n",
        file.display()
    ));
    let d = s.start();
    s.wait_for("alerts being emitted", |doc| {
        doc["modules"].as_array().unwrap().iter().any(|m| {
            m["name"] == "selftest" && m["counters"]["alerts_emitted"].as_u64().unwrap_or(0) > 0
        })
    });
    let (status, log) = d.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    let stored: std::collections::BTreeSet<String> = stored_alerts(&s.data())
        .into_iter()
        .map(|a| a.id.as_str().to_owned())
        .collect();
    assert_eq!(stored.len(), 5000, "alerts lost in the drain");
    let delivered: std::collections::BTreeSet<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        delivered, stored,
        "the sink missed stored alerts at shutdown"
    );
}

#[test]
fn sink_secrets_are_read_from_files_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "file-token-123\n").unwrap();
    let s = Setup::new(&format!(
        "[[sinks]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"https://hooks.example/T0/SECRETPATH\"\ntoken = \"literal-token-456\"\nheaders = {{ X-Api-Key = \"header-key-789\" }}\n\n\
         [[sinks]]\nname = \"am\"\ntype = \"alertmanager\"\nurl = \"http://127.0.0.1:9\"\ntoken = \"secret:file:{}\"\nusername = \"ops\"\npassword = \"secret:env:IRONPOST_TEST_UNSET_PASSWORD\"\n",
        token.display()
    ));
    let out = s.cli(&["config", "show"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    for secret in ["literal-token-456", "header-key-789", "SECRETPATH"] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
    assert!(shown.contains("secret:file:"), "{shown}");
    // The password's variable is unset: the sinks module fails with the key, the daemon runs on.
    let d = s.start();
    s.wait_for("the sinks module failing on the missing secret", |doc| {
        doc["modules"].as_array().unwrap().iter().any(|m| {
            m["name"] == "sinks"
                && m["state"] == "failed"
                && m["reason"].as_str().is_some_and(|r| {
                    r.contains("`password`") && r.contains("IRONPOST_TEST_UNSET_PASSWORD")
                })
        })
    });
    let (status, log) = d.terminate();
    assert_eq!(status.code(), Some(0));
    for secret in ["literal-token-456", "header-key-789", "file-token-123"] {
        assert!(!log.contains(secret), "{secret} logged");
    }
}
