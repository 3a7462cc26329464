//! The observability deliverables against the real daemon: every metric it exposes is documented
//! in docs/metrics.md (and every documented one is exposed), and every panel query of the Grafana
//! dashboards in deploy/grafana/dashboards parses and returns data in a real Prometheus that
//! scrapes the daemon with the scrape configuration of deploy/prometheus.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Daemon, Setup, repo};

/// Modules that need root (XDP, the exec tracer) or a Docker Engine (the container guard).
const PRIVILEGED_MODULES: [&str; 3] = ["xdp", "exec", "container_guard"];

/// True when this run can include the privileged modules: as root, with a Docker Engine
/// answering (CI has both; elsewhere the test says what it leaves out).
fn privileged() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let docker = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !(root && docker) {
        eprintln!(
            "not root or no Docker Engine: the workload leaves out {PRIVILEGED_MODULES:?}, whose \
             dashboard queries then only return their fallback"
        );
    }
    root && docker
}

/// Modules this run cannot start. Dashboard queries about them only return their
/// `or on() vector(0)` fallback.
fn unrunnable() -> &'static [&'static str] {
    static PRIVILEGED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *PRIVILEGED.get_or_init(privileged) {
        &[]
    } else {
        &PRIVILEGED_MODULES
    }
}

/// The end of every dashboard query over a series that may not exist (module off, no sink).
const FALLBACK: &str = " or on() vector(0)";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.0 GET on loopback: the status code and the body.
fn http_get(port: u16, target: &str) -> std::io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {target} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP header end in {raw:?}")))?;
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    Ok((code, body.to_string()))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What docs/metrics.md lists: metric families with type and label names, and module counters.
struct MetricsDoc {
    families: BTreeMap<String, (String, BTreeSet<String>)>,
    counters: BTreeMap<String, BTreeSet<String>>,
}

/// The backticked words of a Markdown table cell.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn metrics_doc() -> MetricsDoc {
    let text = std::fs::read_to_string(repo().join("docs/metrics.md")).unwrap();
    let mut families = BTreeMap::new();
    let mut counters: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
        if !line.trim_start().starts_with('|') || cells.len() < 3 {
            continue;
        }
        let first = backticked(cells[0]);
        match first.as_slice() {
            [name] if name.starts_with("ironpost_") && cells.len() >= 4 => {
                let labels = backticked(cells[2]).into_iter().collect();
                let previous = families.insert(name.clone(), (cells[1].trim().to_string(), labels));
                assert!(previous.is_none(), "docs/metrics.md lists {name} twice");
            }
            [module] if !module.starts_with("ironpost_") => {
                let names = backticked(cells[1]);
                assert!(
                    !names.is_empty(),
                    "docs/metrics.md: a counter row of {module} names no counter: {line}"
                );
                counters.entry(module.clone()).or_default().extend(names);
            }
            _ => {}
        }
    }
    assert!(
        families.len() >= 10 && !counters.is_empty(),
        "docs/metrics.md: could not find its metric tables"
    );
    MetricsDoc { families, counters }
}

/// A metric sample line split into name and labels.
fn parse_sample(line: &str) -> (String, Vec<(String, String)>) {
    let end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = line[..end].to_string();
    let mut labels = Vec::new();
    if line[end..].starts_with('{') {
        let mut chars = line[end + 1..].chars();
        loop {
            let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
            let key = key.trim_start_matches(',').trim().to_string();
            if key.is_empty() || key.starts_with('}') {
                break;
            }
            assert_eq!(chars.next(), Some('"'), "bad label in {line}");
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
            labels.push((key, value));
        }
    }
    (name, labels)
}

/// What `/metrics` exposes: families with their `# TYPE` and label names, and module counters.
#[derive(Default)]
struct Exposed {
    families: BTreeMap<String, (String, BTreeSet<String>)>,
    counters: BTreeSet<(String, String)>,
}

fn exposed(body: &str) -> Exposed {
    let mut out = Exposed::default();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            out.families
                .entry(name.to_string())
                .or_default()
                .0
                .push_str(kind);
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let (name, labels) = parse_sample(line);
            let family = out
                .families
                .get_mut(&name)
                .unwrap_or_else(|| panic!("sample of {name} before its # TYPE line: {line}"));
            family.1.extend(labels.iter().map(|(k, _)| k.clone()));
            if name == "ironpost_module_events_total" {
                let get = |k: &str| labels.iter().find(|(n, _)| n == k).unwrap().1.clone();
                out.counters.insert((get("module"), get("counter")));
            }
        }
    }
    out
}

/// The TOML that turns on every module the tests can run unprivileged: the selftest module
/// (synthetic alerts and, with `panic_after_ms`, restarts), Sigma with the shipped rules, a log
/// source on a file, the periodic lockfile scan, retention and a JSON-lines sink.
fn workload(dir: &Path, panic_after_ms: u64) -> String {
    // The periodic scan needs a vulnerability index: import the RustSec records.
    let shared = repo().join("../shared");
    let db = dir.join("vulndb");
    let out = Command::new(support::cli_bin())
        .args(["db", "import"])
        .arg(shared.join("data/advisories/rustsec-osv"))
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "db import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = dir.join("app.log");
    std::fs::write(
        &log,
        "Nov 27 06:00:00 web sshd[42]: Failed password for root from 127.0.0.1 port 2222 ssh2\nnot a syslog line\n",
    )
    .unwrap();
    format!(
        r#"[selftest]
enabled = true
emit_alerts = 20
emit_rate = 20
panic_after_ms = {panic_after_ms}

[sigma]
rules = ["{rules}"]

[[log_pipeline.sources]]
name = "app"
type = "file"
paths = ["{log}"]
start_at = "beginning"
poll_interval_ms = 100

[store]
retention_days = 30

[sbom]
db_dir = "{db}"
scan_paths = ["{lockfile}"]

[[sinks]]
name = "alerts-file"
type = "jsonl"
path = "{sink}"
{privileged}"#,
        rules = repo().join("rules").display(),
        log = log.display(),
        sink = dir.join("alerts.jsonl").display(),
        db = db.display(),
        lockfile = shared.join("data/lockfiles/cargo/Cargo.lock").display(),
        privileged = if unrunnable().is_empty() {
            format!(
                "\n[xdp]\nenabled = true\ninterface = \"lo\"\nattach_mode = \"generic\"\n\n\
                 [exec]\nenabled = true\n\n\
                 [container_guard]\nenabled = true\npolicies_dir = \"{}\"\n",
                repo().join("policies").display()
            )
        } else {
            String::new()
        },
    )
}

/// Starts the daemon with the workload and its metrics on a fixed free loopback port.
fn start_daemon(panic_after_ms: u64) -> (Setup, Daemon, u16) {
    let port = free_port();
    let s = Setup::new("");
    let config = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let extra = workload(s.dir.path(), panic_after_ms);
    std::fs::write(&s.config, format!("{config}\n{extra}")).unwrap();
    let d = s.start();
    (s, d, port)
}

fn scrape(port: u16) -> String {
    let (code, body) = http_get(port, "/metrics").unwrap();
    assert_eq!(code, 200, "GET /metrics: {body}");
    body
}

#[test]
fn every_exposed_metric_is_documented_and_every_documented_metric_is_exposed() {
    let doc = metrics_doc();
    let (_s, _d, port) = start_daemon(0);
    // Wait until the modules of the workload have published their counters once.
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let body = scrape(port);
        let e = exposed(&body);
        let has = |m: &str, c: &str| e.counters.contains(&(m.to_string(), c.to_string()));
        if has("log_pipeline", "lines")
            && has("sbom", "findings_new")
            && has("retention", "records_deleted")
            && has("selftest", "alerts_emitted")
            && has("sigma", "rules_loaded")
            && e.families.contains_key("ironpost_sink_delivered_total")
            && (!unrunnable().is_empty()
                || (has("xdp", "packets")
                    && has("exec", "execs")
                    && has("container_guard", "alerts")))
        {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the workload's modules did not publish their counters within 30 s:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let e = exposed(&body);

    let undocumented: Vec<&String> = e
        .families
        .keys()
        .filter(|f| !doc.families.contains_key(*f))
        .collect();
    assert!(
        undocumented.is_empty(),
        "exposed but not in docs/metrics.md: {undocumented:?}"
    );
    let missing: Vec<&String> = doc
        .families
        .keys()
        .filter(|f| !e.families.contains_key(*f))
        .collect();
    assert!(
        missing.is_empty(),
        "in docs/metrics.md but not exposed: {missing:?}"
    );
    for (name, (kind, labels)) in &e.families {
        let (doc_kind, doc_labels) = &doc.families[name];
        assert_eq!(kind, doc_kind, "type of {name} in docs/metrics.md");
        assert_eq!(labels, doc_labels, "labels of {name} in docs/metrics.md");
    }

    for (module, counter) in &e.counters {
        assert!(
            doc.counters
                .get(module)
                .is_some_and(|names| names.contains(counter)),
            "ironpost_module_events_total{{module=\"{module}\",counter=\"{counter}\"}} is exposed but not in docs/metrics.md"
        );
    }
    let running: BTreeSet<&String> = e.counters.iter().map(|(m, _)| m).collect();
    for module in running {
        for counter in &doc.counters[module] {
            let exposed = e.counters.contains(&(module.clone(), counter.clone()));
            assert!(
                exposed,
                "docs/metrics.md lists counter {counter} of {module}, which runs but does not expose it"
            );
        }
    }
}

/// A Prometheus server, killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Prometheus {
    /// Starts `/usr/bin/prometheus` with the shipped scrape configuration pointed at `target`
    /// and every interval set to 1 s; `None` when the binary is absent.
    fn start(dir: &Path, target: u16) -> Option<Prometheus> {
        let bin = Path::new("/usr/bin/prometheus");
        if !bin.is_file() {
            return None;
        }
        let shipped =
            std::fs::read_to_string(repo().join("deploy/prometheus/prometheus.yml")).unwrap();
        let mut config = shipped.clone();
        for (from, to) in [
            ("127.0.0.1:9464", format!("127.0.0.1:{target}")),
            ("scrape_interval: 15s", "scrape_interval: 1s".to_string()),
            (
                "evaluation_interval: 15s",
                "evaluation_interval: 1s".to_string(),
            ),
            ("scrape_timeout: 5s", "scrape_timeout: 1s".to_string()),
        ] {
            assert!(
                config.contains(from),
                "deploy/prometheus/prometheus.yml no longer contains `{from}`; update this test"
            );
            config = config.replace(from, &to);
        }
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = free_port();
        let log = dir.join("prometheus.log");
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut p = Prometheus { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !matches!(http_get(port, "/-/ready"), Ok((200, _))) {
            if let Some(status) = p.child.try_wait().unwrap() {
                panic!("prometheus exited with {status}:\n{}", p.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "prometheus was not ready within 60 s:\n{}",
                p.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(p)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Evaluates `expr` now: the result list, or Prometheus's error.
    fn query(&self, expr: &str) -> Result<Vec<serde_json::Value>, String> {
        let (code, body) = http_get(
            self.port,
            &format!("/api/v1/query?query={}", percent_encode(expr)),
        )
        .map_err(|e| e.to_string())?;
        let doc: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("HTTP {code}: {e}: {body}"))?;
        if doc["status"] != "success" {
            return Err(format!(
                "HTTP {code}: {} {}",
                doc["errorType"], doc["error"]
            ));
        }
        match doc["data"]["resultType"].as_str() {
            Some("vector" | "matrix") => Ok(doc["data"]["result"].as_array().unwrap().clone()),
            Some("scalar" | "string") => Ok(vec![doc["data"]["result"].clone()]),
            other => Err(format!("unexpected result type {other:?}: {body}")),
        }
    }

    /// The single value of an instant query that returns one sample, if it does.
    fn value(&self, expr: &str) -> Option<f64> {
        let result = self.query(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        result.first()?["value"][1].as_str()?.parse().ok()
    }

    /// Polls `expr` until its value passes `min` (60 s at most).
    fn wait_for(&self, what: &str, expr: &str, min: f64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.value(expr).is_none_or(|v| v < min) {
            assert!(
                Instant::now() < deadline,
                "waited 60 s for {what} ({expr} >= {min}); last value {:?}\nprometheus log:\n{}",
                self.value(expr),
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One panel query: where it is, and its PromQL as Grafana writes it.
struct PanelQuery {
    place: String,
    expr: String,
}

fn collect_queries(file: &str, panels: &[serde_json::Value], out: &mut Vec<PanelQuery>) {
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or("(untitled)");
        if let Some(nested) = panel["panels"].as_array() {
            collect_queries(file, nested, out);
        }
        match panel["type"].as_str() {
            Some("row" | "text") => continue,
            Some(_) => {}
            None => panic!("{file}: panel {title} has no type"),
        }
        let targets = panel["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        assert!(!targets.is_empty(), "{file}: panel {title} queries nothing");
        for t in targets {
            let expr = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("{file}: a target of panel {title} has no expr"));
            out.push(PanelQuery {
                place: format!("{file}: {title} ({})", t["refId"].as_str().unwrap_or("?")),
                expr: expr.to_string(),
            });
        }
    }
}

/// The panel queries of every dashboard in deploy/grafana/dashboards.
fn dashboard_queries() -> Vec<PanelQuery> {
    let dir = repo().join("deploy/grafana/dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "expected three dashboards in {}",
        dir.display()
    );
    let mut queries = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            doc["uid"].is_string() && doc["title"].is_string(),
            "{name}: no uid or title"
        );
        let before = queries.len();
        collect_queries(&name, doc["panels"].as_array().unwrap(), &mut queries);
        assert!(queries.len() > before, "{name}: no panel query");
    }
    queries
}

/// Grafana's variables replaced by what Grafana would send for one host and a short range.
fn substitute(expr: &str) -> String {
    let out = expr
        .replace("$__rate_interval", "1m")
        .replace("$__range", "5m")
        .replace("$instance", ".+");
    assert!(!out.contains('$'), "unknown Grafana variable in {expr}");
    out
}

/// Checks a query names only documented metrics and module counters.
fn check_documented(doc: &MetricsDoc, q: &PanelQuery) {
    let mut rest = q.expr.as_str();
    while let Some(at) = rest.find("ironpost_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            doc.families.contains_key(&name),
            "{}: metric {name} is not in docs/metrics.md",
            q.place
        );
        rest = &rest[at + name.len()..];
    }
    for selector in q.expr.split('{').skip(1) {
        let selector = selector.split('}').next().unwrap();
        let mut module = None;
        let mut counters = Vec::new();
        for matcher in selector.split(',') {
            let Some((key, value)) = matcher.split_once('=') else {
                continue;
            };
            let value = value.trim_start_matches('~').trim_matches('"');
            match key.trim() {
                "module" => module = Some(value.to_string()),
                "counter" => counters.extend(value.split('|').map(str::to_string)),
                _ => {}
            }
        }
        if let Some(module) = module.filter(|_| !counters.is_empty()) {
            for c in counters {
                assert!(
                    doc.counters.get(&module).is_some_and(|n| n.contains(&c)),
                    "{}: counter {c} of module {module} is not in docs/metrics.md",
                    q.place
                );
            }
        }
    }
}

#[test]
fn every_dashboard_query_parses_and_returns_data_in_prometheus() {
    let queries = dashboard_queries();
    let doc = metrics_doc();
    for q in &queries {
        check_documented(&doc, q);
    }

    let tmp = tempfile::tempdir().unwrap();
    // The selftest module panics 1.5 s after each start, so restarts show in the metrics.
    let (_s, _d, port) = start_daemon(1500);
    let Some(prometheus) = Prometheus::start(tmp.path(), port) else {
        eprintln!("skipped: /usr/bin/prometheus is absent (Debian package `prometheus`)");
        return;
    };
    prometheus.wait_for(
        "three scrapes of the daemon",
        "count_over_time(ironpost_uptime_seconds[5m])",
        3.0,
    );
    prometheus.wait_for(
        "a restart of the selftest module",
        r#"ironpost_module_restarts_total{module="selftest"}"#,
        1.0,
    );
    prometheus.wait_for(
        "stored alerts",
        r#"ironpost_module_events_total{module="store_writer",counter="alerts_written"}"#,
        1.0,
    );
    prometheus.wait_for(
        "delivered alerts",
        r#"sum(ironpost_sink_delivered_total)"#,
        1.0,
    );
    prometheus.wait_for(
        "a lockfile scan with new findings",
        r#"ironpost_module_events_total{module="sbom",counter="findings_new"}"#,
        1.0,
    );
    if unrunnable().is_empty() {
        prometheus.wait_for(
            "packets seen by XDP on lo",
            r#"ironpost_module_events_total{module="xdp",counter="packets"}"#,
            1.0,
        );
        // The workload's own execs: the machine may run nothing else meanwhile.
        for _ in 0..5 {
            let _ = Command::new("/bin/true").status();
        }
        prometheus.wait_for(
            "execs seen by the exec tracer",
            r#"ironpost_module_events_total{module="exec",counter="execs"}"#,
            1.0,
        );
        prometheus.wait_for(
            "the container guard connected to Docker",
            r#"ironpost_module_healthy{module="container_guard"}"#,
            1.0,
        );
    }
    prometheus.wait_for(
        "log lines read",
        r#"ironpost_module_events_total{module="log_pipeline",counter="lines"}"#,
        2.0,
    );
    // Two more scrapes, so every rate() has samples after the counters moved.
    let now = prometheus
        .value("count_over_time(ironpost_uptime_seconds[5m])")
        .unwrap();
    prometheus.wait_for(
        "two more scrapes",
        "count_over_time(ironpost_uptime_seconds[5m])",
        now + 2.0,
    );

    let mut failures = Vec::new();
    for q in &queries {
        let expr = substitute(&q.expr);
        match prometheus.query(&expr) {
            Err(e) => failures.push(format!("{}: {expr}: {e}", q.place)),
            Ok(r) if r.is_empty() => failures.push(format!("{}: {expr}: no data", q.place)),
            Ok(_) => {}
        }
        // The fallback may hide only the series of modules this test cannot run.
        if let Some(bare) = expr.strip_suffix(FALLBACK) {
            let about_unrunnable = unrunnable()
                .iter()
                .any(|m| bare.contains(&format!("module=\"{m}\"")));
            match prometheus.query(bare) {
                Err(e) => failures.push(format!("{}: {bare}: {e}", q.place)),
                Ok(r) if r.is_empty() && !about_unrunnable => failures.push(format!(
                    "{}: {bare}: no data without the fallback, for a module the test runs",
                    q.place
                )),
                Ok(_) => {}
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} dashboard queries failed:\n{}",
        failures.len(),
        queries.len(),
        failures.join("\n")
    );
}
