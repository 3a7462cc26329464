//! The Alertmanager sink against a real Alertmanager (Debian's `prometheus-alertmanager`)
//! started on a loopback port; the alerts are read back through its API.

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ironpost_core::Severity;
use ironpost_sinks::{SinkRecord, SinkSet};
use support::*;

const BINARY: &str = "/usr/bin/prometheus-alertmanager";

struct Alertmanager {
    child: Child,
    port: u16,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking `GET path` on loopback; returns status and body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

fn start(dir: &Path) -> Option<Alertmanager> {
    if !Path::new(BINARY).is_file() {
        println!("skipped: {BINARY} is absent (Debian package prometheus-alertmanager)");
        return None;
    }
    let config = dir.join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let port = dead_port();
    let child = Command::new(BINARY)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("alertmanager.log")).unwrap())
        .spawn()
        .unwrap();
    let am = Alertmanager { child, port };
    for _ in 0..300 {
        if get(port, "/-/ready").is_some_and(|(s, _)| s == 200) {
            return Some(am);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "Alertmanager did not become ready; its log:\n{}",
        std::fs::read_to_string(dir.join("alertmanager.log")).unwrap_or_default()
    );
}

#[tokio::test]
async fn a_real_alertmanager_receives_labelled_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let Some(am) = start(dir.path()) else {
        return;
    };
    let set = SinkSet::build(&sinks(&format!(
        "[[sinks]]\nname = \"am\"\ntype = \"alertmanager\"\nurl = \"http://127.0.0.1:{}\"\nlabels = {{ team = \"secops\" }}\nresolve_after_secs = 600\n",
        am.port
    )))
    .unwrap();
    let alerts: Vec<_> = (0..3)
        .map(|n| alert("ssh.brute", Severity::Critical, n))
        .collect();
    for a in &alerts {
        set.offer(SinkRecord::Alert(a.clone()));
    }
    let action = ironpost_core::ActionRecord {
        id: "act-1".into(),
        alert_id: Some(alerts[0].id.as_str().to_owned()),
        host: "test-host".into(),
        module: "container_guard".into(),
        action: "pause".into(),
        target: "web-1".into(),
        state: ironpost_core::ActionState::Done,
        policy: None,
        error: None,
        details: serde_json::Value::Null,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    set.offer(SinkRecord::Action(action));
    let running = Running::start(set);
    assert!(
        wait_until(Duration::from_secs(30), || running.0.status()[0].delivered
            == 4)
        .await,
        "{:?}",
        running.0.status()
    );
    let port = am.port;
    let mut found = Vec::new();
    // Alertmanager ingests asynchronously: read until all four are listed.
    for _ in 0..100 {
        let (status, body) =
            tokio::task::spawn_blocking(move || get(port, "/api/v2/alerts").unwrap())
                .await
                .unwrap();
        assert_eq!(status, 200, "{body}");
        found = serde_json::from_str::<Vec<serde_json::Value>>(&body).unwrap();
        if found.len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found.len(), 4, "{found:?}");
    let mut ids: Vec<String> = found
        .iter()
        .filter(|a| a["labels"]["kind"] == "alert")
        .map(|a| {
            let l = &a["labels"];
            assert_eq!(l["alertname"], "ssh.brute");
            assert_eq!(l["severity"], "critical");
            assert_eq!(l["host"], "test-host");
            assert_eq!(l["container"], "web-1");
            assert_eq!(l["team"], "secops");
            assert_eq!(a["status"]["state"], "active");
            assert!(
                a["annotations"]["title"]
                    .as_str()
                    .unwrap()
                    .starts_with("Test alert")
            );
            a["annotations"]["alert_id"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.sort();
    let mut want: Vec<String> = alerts.iter().map(|a| a.id.as_str().to_owned()).collect();
    want.sort();
    assert_eq!(ids, want);
    let act = found
        .iter()
        .find(|a| a["labels"]["kind"] == "action")
        .unwrap();
    assert_eq!(act["labels"]["alertname"], "ironpost.action.pause");
    assert_eq!(act["labels"]["container"], "web-1");
}
