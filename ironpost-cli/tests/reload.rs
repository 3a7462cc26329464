//! Hot reload against the real daemon: SIGHUP, `ironpost reload` and the file watcher change
//! rules, log sources and XDP lists without a restart; an invalid configuration, rule or list
//! file keeps what runs, is counted, and is shown with its file and line by `ironpost status`.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{Daemon, Setup, append_line as append};

fn rule(title: &str, id_tail: u32, keyword: &str) -> String {
    format!(
        "title: {title}\nid: 6a0f0d0e-0000-4000-8000-{id_tail:012}\nstatus: test\nlevel: high\n\
         logsource:\n  product: linux\ndetection:\n  keywords:\n    - '{keyword}'\n  condition: keywords\n"
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A daemon configuration with the watcher at `watch_ms`, metrics on `port`, and `extra`.
fn write_config(s: &Setup, watch_ms: u64, port: u16, extra: &str) {
    std::fs::write(
        &s.config,
        format!(
            "[general]\ndata_dir = \"{}\"\nlog_level = \"debug\"\nwatch_interval_ms = {watch_ms}\n\n\
             [metrics]\nlisten = \"127.0.0.1:{port}\"\n\n{extra}\n",
            s.data().display()
        ),
    )
    .unwrap();
}

fn source(name: &str, path: &Path) -> String {
    format!(
        "[[log_pipeline.sources]]\nname = \"{name}\"\ntype = \"file\"\npaths = [\"{}\"]\n\
         start_at = \"beginning\"\npoll_interval_ms = 50\n",
        path.display()
    )
}

fn alert_titles(s: &Setup) -> Vec<String> {
    let out = s.cli(&["alerts", "list", "--json", "--limit", "1000"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = doc
        .as_array()
        .or_else(|| doc["alerts"].as_array())
        .cloned()
        .unwrap_or_default();
    list.iter()
        .map(|a| a["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn wait_alert(s: &Setup, title: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !alert_titles(s).iter().any(|t| t == title) {
        assert!(
            Instant::now() < deadline,
            "no alert `{title}` within 30 s; alerts: {:?}",
            alert_titles(s)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn generation(doc: &serde_json::Value) -> u64 {
    doc["config"]["generation"].as_u64().unwrap_or(0)
}

fn scrape(port: u16) -> String {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    body
}

fn metric(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

fn start(s: &Setup) -> Daemon {
    let d = s.start();
    s.wait_for("generation 1", |doc| generation(doc) == 1);
    d
}

#[test]
fn sighup_and_reload_apply_rules_and_sources_and_refuse_a_bad_config() {
    let s = Setup::new("");
    let rules = s.dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("alpha.yml"),
        rule("Marker Alpha", 1, "alpha-marker"),
    )
    .unwrap();
    let (log1, log2) = (s.dir.path().join("one.log"), s.dir.path().join("two.log"));
    std::fs::write(&log1, "").unwrap();
    std::fs::write(&log2, "").unwrap();
    let port = free_port();
    let sigma = format!("[sigma]\nrules = [\"{}\"]\n\n", rules.display());
    // Watching off: this test drives reloads itself.
    write_config(&s, 0, port, &format!("{sigma}{}", source("one", &log1)));
    let d = start(&s);

    append(&log1, "Nov 27 06:00:00 web app[1]: alpha-marker seen");
    wait_alert(&s, "Marker Alpha");

    // A new rule and a new log source, applied by SIGHUP.
    std::fs::write(
        rules.join("beta.yml"),
        rule("Marker Beta", 2, "beta-marker"),
    )
    .unwrap();
    write_config(
        &s,
        0,
        port,
        &format!("{sigma}{}\n{}", source("one", &log1), source("two", &log2)),
    );
    d.signal(libc::SIGHUP);
    s.wait_for("generation 2", |doc| generation(doc) == 2);
    append(&log2, "Nov 27 06:00:01 web app[1]: beta-marker seen");
    wait_alert(&s, "Marker Beta");
    let doc = s.status();
    assert_eq!(doc["pid"].as_i64(), Some(i64::from(d.pid())), "no restart");
    let pipeline = s.module("log_pipeline");
    assert_eq!(pipeline["restarts"], 0, "a replacement is not a failure");
    // The restarted pipeline went on from its checkpoints: one.log's line was not read twice.
    assert_eq!(s.module("sigma")["counters"]["events"], 2);

    // `ironpost reload` with nothing changed.
    let out = s.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("generation 3"), "{said}");
    assert!(said.contains("nothing changed"), "{said}");

    // A bad configuration: refused with file and line, the old one keeps running.
    let good = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        format!("{good}\n[log_pipeline]\nenabled = maybe\n"),
    )
    .unwrap();
    let bad_line = good.lines().count() + 3;
    let out = s.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
    let err = support::stderr(&out);
    assert!(
        err.contains("ironpost.toml") && err.contains(&format!("{bad_line}")),
        "the error names the file and line {bad_line}: {err}"
    );
    let doc = s.status();
    assert_eq!(generation(&doc), 3, "the old generation stays");
    assert_eq!(doc["config"]["failures"], 1);
    let last = doc["config"]["last_error"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(last.contains("ironpost.toml"), "{last}");
    let human = s.cli(&["status"]);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("config: generation 3") && human.contains("last reload error"),
        "{human}"
    );
    let body = scrape(port);
    assert_eq!(
        metric(&body, "ironpost_config_reloads_total{result=\"failure\"}"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(metric(&body, "ironpost_config_generation"), Some(3.0));
    // Still detecting with what runs.
    append(&log2, "Nov 27 06:00:02 web app[1]: alpha-marker again");
    let before = s.module("sigma")["counters"]["matches"].as_u64().unwrap();
    s.wait_for("a match by the running rules", |_| {
        s.module("sigma")["counters"]["matches"].as_u64().unwrap() > before
    });

    // A non-live key: kept, reported as needing a restart.
    write_config(
        &s,
        0,
        port,
        &format!(
            "{sigma}{}\n{}\n[store]\nbatch_size = 7\n",
            source("one", &log1),
            source("two", &log2)
        ),
    );
    let out = s.cli(&["reload", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        answer["restart_required"],
        serde_json::json!(["store.batch_size"])
    );
    let doc = s.status();
    assert!(doc["config"]["last_error"].is_null(), "{doc}");
    let (status, _) = d.terminate();
    assert!(status.success());
}

#[test]
fn watched_rule_file_corrupted_keeps_the_old_rules() {
    let s = Setup::new("");
    let rules = s.dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let file = rules.join("alpha.yml");
    std::fs::write(&file, rule("Marker Alpha", 1, "alpha-marker")).unwrap();
    let log = s.dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let port = free_port();
    write_config(
        &s,
        100,
        port,
        &format!(
            "[sigma]\nrules = [\"{}\"]\n\n{}",
            rules.display(),
            source("app", &log)
        ),
    );
    let d = start(&s);

    // Truncated mid-write: a flow sequence never closed.
    std::fs::write(
        &file,
        "title: Marker Alpha\nid: x\nlogsource:\n  product: linux\ndetection:\n  keywords: [alpha\n  condition: keywords\n",
    )
    .unwrap();
    s.wait_for("a failed reload", |doc| doc["config"]["failures"] == 1);
    let doc = s.status();
    assert_eq!(generation(&doc), 1);
    let error = doc["config"]["last_error"]["error"].as_str().unwrap();
    assert!(
        error.contains("alpha.yml") && error.contains("line"),
        "names the file and line: {error}"
    );
    assert_eq!(doc["config"]["last_error"]["trigger"], "watch");
    assert_eq!(
        metric(
            &scrape(port),
            "ironpost_config_reloads_total{result=\"failure\"}"
        ),
        Some(1.0)
    );
    // The old rule still fires.
    append(&log, "Nov 27 06:00:00 web app[1]: alpha-marker seen");
    wait_alert(&s, "Marker Alpha");

    // Fixed, with a new title: the watcher applies it.
    std::fs::write(&file, rule("Marker Alpha Two", 1, "gamma-marker")).unwrap();
    s.wait_for("generation 2", |doc| generation(doc) == 2);
    assert!(s.status()["config"]["last_error"].is_null());
    append(&log, "Nov 27 06:00:01 web app[1]: gamma-marker seen");
    wait_alert(&s, "Marker Alpha Two");
    assert_eq!(s.status()["config"]["failures"], 1, "one failure only");
    let (status, _) = d.terminate();
    assert!(status.success());
}

fn block_targets(s: &Setup) -> Vec<(String, String)> {
    let out = s.cli(&["block", "list", "--json"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = doc
        .as_array()
        .or_else(|| doc["entries"].as_array())
        .cloned()
        .unwrap_or_default();
    let mut out: Vec<(String, String)> = list
        .iter()
        .map(|e| {
            (
                e["target"].as_str().unwrap_or_default().to_owned(),
                e["origin"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn watched_blocklist_file_changes_entries_in_place() {
    let s = Setup::new("");
    let list: PathBuf = s.dir.path().join("blocklist.txt");
    std::fs::write(&list, "# hostile hosts\n192.0.2.1\n").unwrap();
    let port = free_port();
    // No such interface: the sensor is degraded, the blocklist and its control routes work.
    write_config(
        &s,
        100,
        port,
        &format!(
            "[sigma]\nenabled = false\n\n[xdp]\nenabled = true\ninterface = \"ipnone0\"\nblocklist_file = \"{}\"\n",
            list.display()
        ),
    );
    let d = start(&s);
    assert_eq!(
        block_targets(&s),
        vec![("192.0.2.1".to_owned(), "config".to_owned())]
    );
    let out = s.cli(&["block", "add", "198.51.100.7", "--reason", "by hand"]);
    assert!(out.status.success(), "{}", support::stderr(&out));

    std::fs::write(&list, "192.0.2.2 # moved\n2001:db8::/48\n").unwrap();
    s.wait_for("generation 2", |doc| generation(doc) == 2);
    assert_eq!(
        block_targets(&s),
        vec![
            ("192.0.2.2".to_owned(), "config".to_owned()),
            ("198.51.100.7".to_owned(), "control".to_owned()),
            ("2001:db8::/48".to_owned(), "config".to_owned()),
        ],
        "the file's entries replaced, the one added by hand kept"
    );

    std::fs::write(&list, "192.0.2.3\nnot-an-address\n").unwrap();
    s.wait_for("a failed reload", |doc| doc["config"]["failures"] == 1);
    let error = s.status()["config"]["last_error"]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.contains("blocklist.txt:2") && error.contains("not-an-address"),
        "{error}"
    );
    assert_eq!(block_targets(&s).len(), 3, "the previous lists stay");
    assert_eq!(generation(&s.status()), 2);
    let (status, _) = d.terminate();
    assert!(status.success());
}
