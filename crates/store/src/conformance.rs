//! The behaviour every backend must show, as one suite that each backend's tests run.
//!
//! Call [`run_all`] with a fresh, empty store; it panics with a message naming the broken
//! property.

use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};
use ironpost_core::{
    ActionRecord, ActionState, Alert, AlertId, Attribution, ScanFinding, Severity, SourceCheckpoint,
};

use crate::{ActionQuery, AlertQuery, Store};

/// A sample alert of `rule` from `host`, detected `minute` minutes after a fixed origin.
pub fn sample_alert(rule: &str, host: &str, minute: i64, severity: Severity) -> Alert {
    let origin = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let at = origin + Duration::minutes(minute);
    let mut group = BTreeMap::new();
    group.insert(
        "src_ip".to_owned(),
        format!("10.0.0.{}", minute.rem_euclid(250)),
    );
    Alert {
        id: AlertId::derive(rule, &format!("{host}/{}", Alert::group_key(&group)), at),
        rule_id: rule.to_owned(),
        title: format!("Title of {rule}"),
        severity,
        module: "sigma".into(),
        event_time: at,
        detected_at: at,
        window_start: at,
        group,
        count: 1,
        attribution: Attribution {
            host: host.to_owned(),
            src_ip: Some("10.0.0.1".parse().unwrap()),
            ..Attribution::default()
        },
        tags: vec!["attack.t1110".into()],
        evidence: Vec::new(),
    }
}

/// Runs every property against `store`, which must be empty.
pub fn run_all(store: &dyn Store) {
    alerts_are_idempotent(store);
    alerts_filter_and_order(store);
    actions_upsert(store);
    findings_are_idempotent(store);
    checkpoints_round_trip(store);
    retention_deletes_only_old_records(store);
}

fn alerts_are_idempotent(store: &dyn Store) {
    let a = sample_alert("idem", "h1", 0, Severity::High);
    assert_eq!(store.insert_alerts(std::slice::from_ref(&a)).unwrap(), 1);
    assert_eq!(
        store.insert_alerts(&[a.clone(), a.clone()]).unwrap(),
        0,
        "a replayed alert is stored again"
    );
    assert_eq!(
        store.alert(a.id.as_str()).unwrap().as_ref(),
        Some(&a),
        "alert does not round-trip"
    );
    assert_eq!(store.alert("missing").unwrap(), None);
}

fn alerts_filter_and_order(store: &dyn Store) {
    let before = store.alert_count().unwrap();
    let batch: Vec<Alert> = (1..=10)
        .map(|m| {
            let sev = if m % 2 == 0 {
                Severity::Critical
            } else {
                Severity::Low
            };
            sample_alert(
                if m <= 5 { "r-a" } else { "r-b" },
                if m % 3 == 0 { "h2" } else { "h1" },
                m,
                sev,
            )
        })
        .collect();
    assert_eq!(store.insert_alerts(&batch).unwrap(), 10);
    assert_eq!(store.alert_count().unwrap(), before + 10);
    let all = store
        .alerts(&AlertQuery {
            limit: 1000,
            ..AlertQuery::default()
        })
        .unwrap();
    assert!(
        all.windows(2).all(|w| w[0].detected_at >= w[1].detected_at),
        "alerts are not newest first"
    );
    let by_rule = store
        .alerts(&AlertQuery {
            rule: Some("r-a".into()),
            limit: 100,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(by_rule.len(), 5);
    let severe = store
        .alerts(&AlertQuery {
            min_severity: Some(Severity::High),
            rule: Some("r-b".into()),
            limit: 100,
            ..AlertQuery::default()
        })
        .unwrap();
    assert!(severe.iter().all(|a| a.severity >= Severity::High) && severe.len() == 3);
    let since = batch[7].detected_at;
    let recent = store
        .alerts(&AlertQuery {
            since: Some(since),
            rule: Some("r-b".into()),
            limit: 100,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(recent.len(), 3, "since filter");
    let h2 = store
        .alerts(&AlertQuery {
            host: Some("h2".into()),
            limit: 100,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(h2.len(), 3, "host filter");
    let limited = store
        .alerts(&AlertQuery {
            limit: 2,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(limited.len(), 2, "limit");
}

fn actions_upsert(store: &dyn Store) {
    let now = Utc::now();
    let mut action = ActionRecord {
        id: "act-1".into(),
        alert_id: Some("alert-1".into()),
        host: "h1".into(),
        module: "container_guard".into(),
        action: "pause".into(),
        target: "c0ffee".into(),
        state: ActionState::Planned,
        policy: Some("web".into()),
        error: None,
        details: serde_json::json!({"networks": ["bridge"]}),
        created_at: now,
        updated_at: now,
    };
    store.upsert_action(&action).unwrap();
    action.state = ActionState::Done;
    action.updated_at = now + Duration::seconds(1);
    store.upsert_action(&action).unwrap();
    let listed = store
        .actions(&ActionQuery {
            target: Some("c0ffee".into()),
            ..ActionQuery::default()
        })
        .unwrap();
    assert_eq!(listed.len(), 1, "an updated action is a second record");
    assert_eq!(listed[0].state, ActionState::Done);
    assert_eq!(listed[0].details, action.details);
    assert!(
        store
            .actions(&ActionQuery {
                target: Some("other".into()),
                ..ActionQuery::default()
            })
            .unwrap()
            .is_empty()
    );
}

fn findings_are_idempotent(store: &dyn Store) {
    let f = ScanFinding {
        id: ScanFinding::derive_id("/srv/Cargo.lock", "time", "0.1.0", "RUSTSEC-2020-0071"),
        host: "h1".into(),
        package: "time".into(),
        version: "0.1.0".into(),
        ecosystem: "crates.io".into(),
        advisory_id: "RUSTSEC-2020-0071".into(),
        aliases: vec!["CVE-2020-26235".into()],
        severity: Severity::Medium,
        fixed: vec!["0.2.23".into()],
        location: "/srv/Cargo.lock".into(),
        first_seen: Utc::now(),
    };
    assert_eq!(
        store.insert_findings(std::slice::from_ref(&f)).unwrap(),
        vec![f.id.clone()]
    );
    assert!(
        store
            .insert_findings(std::slice::from_ref(&f))
            .unwrap()
            .is_empty(),
        "a finding is new twice"
    );
    assert_eq!(store.findings(10).unwrap(), vec![f]);
}

fn checkpoints_round_trip(store: &dyn Store) {
    assert_eq!(store.checkpoint("file:/var/log/auth.log").unwrap(), None);
    let t = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let mut cp = SourceCheckpoint {
        source: "file:/var/log/auth.log".into(),
        device: 2049,
        inode: u64::MAX / 3,
        offset: 4096,
        updated_at: t,
    };
    store.save_checkpoints(std::slice::from_ref(&cp)).unwrap();
    cp.offset = 8192;
    store.save_checkpoints(std::slice::from_ref(&cp)).unwrap();
    assert_eq!(store.checkpoint(&cp.source).unwrap(), Some(cp));
}

fn retention_deletes_only_old_records(store: &dyn Store) {
    let total = store.alert_count().unwrap();
    let old = sample_alert("retention", "h1", -100_000, Severity::Low);
    store.insert_alerts(std::slice::from_ref(&old)).unwrap();
    assert_eq!(store.alert_count().unwrap(), total + 1);
    let cutoff = old.detected_at + Duration::seconds(1);
    let deleted = store.delete_older_than(cutoff).unwrap();
    assert!(deleted >= 1, "retention deleted nothing");
    assert_eq!(
        store.alert(old.id.as_str()).unwrap(),
        None,
        "an old alert survived retention"
    );
    assert_eq!(
        store.alert_count().unwrap(),
        total,
        "retention deleted recent alerts"
    );
}

/// Writes one action, one finding and one checkpoint (`file:/spooled`) without reading back:
/// for stores whose writes land later (a spool).
pub fn run_writes_only(store: &dyn Store) {
    let now = Utc::now();
    store
        .upsert_action(&ActionRecord {
            id: "spooled-action".into(),
            alert_id: None,
            host: "h".into(),
            module: "container_guard".into(),
            action: "pause".into(),
            target: "c".into(),
            state: ActionState::Done,
            policy: None,
            error: None,
            details: serde_json::Value::Null,
            created_at: now,
            updated_at: now,
        })
        .unwrap();
    store
        .insert_findings(&[ScanFinding {
            id: "spooled-finding".into(),
            host: "h".into(),
            package: "p".into(),
            version: "1".into(),
            ecosystem: "npm".into(),
            advisory_id: "GHSA-x".into(),
            aliases: Vec::new(),
            severity: Severity::Low,
            fixed: Vec::new(),
            location: "package-lock.json".into(),
            first_seen: now,
        }])
        .unwrap();
    store
        .save_checkpoints(&[SourceCheckpoint {
            source: "file:/spooled".into(),
            device: 1,
            inode: 2,
            offset: 3,
            updated_at: now,
        }])
        .unwrap();
}
