//! The guard against the real Docker Engine: every container, network and image is named
//! `ironpost-test-…` and removed when the test ends, passed or failed.

mod common;

use std::os::unix::fs::MetadataExt;

use common::*;
use ironpost_container_guard::Decision;
use ironpost_core::ActionState;
use ironpost_core::event::{Event, ProcessEvent};

fn states(records: &[ironpost_core::ActionRecord]) -> Vec<(String, ActionState)> {
    records
        .iter()
        .map(|r| (r.action.clone(), r.state))
        .collect()
}

fn all_in(records: &[ironpost_core::ActionRecord], state: ActionState) -> bool {
    !records.is_empty() && records.iter().all(|r| r.state == state)
}

const PAUSE: &str = "type = \"pause\"";
const ISOLATE: &str = "type = \"network_isolate\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_from_a_container_log_pauses_exactly_that_container() {
    if !engine_ready() {
        return;
    }
    let mut res = Resources::new("pause");
    let net = res.network("net");
    let a = res.container("a", Some(&net), &[]);
    let b = res.container("b", Some(&net), &[]);
    let h = Harness::start(settings(), &[("pause", &policy("", &[PAUSE]))], &[&a, &b]).await;

    let decision = h
        .guard
        .handle_alert(&alert_from_container_log("web_shell", &a));
    assert!(matches!(decision, Decision::Queued(_)), "{decision:?}");
    let recs = h
        .wait_records(&a, "pause done", |r| all_in(r, ActionState::Done))
        .await;
    assert_eq!(states(&recs), [("pause".to_owned(), ActionState::Done)]);
    assert!(recs[0].alert_id.is_some());
    assert_eq!(recs[0].policy.as_deref(), Some("pause"));
    assert_eq!(recs[0].details["attributed_via"], "evidence.container");
    assert!(paused(&a), "the attributed container is paused");
    assert!(!paused(&b), "the other container is not");
    assert!(h.records(&b).is_empty());

    // The inventory saw the pause through the events stream, without polling.
    h.wait_inventory(|inv| inv.get(&a).is_some_and(|c| c.state == "paused"))
        .await;

    let release = h.guard.release(&res.name("a")).await.unwrap();
    assert_eq!(release.released.len(), 1, "{release:?}");
    assert!(release.errors.is_empty(), "{release:?}");
    assert!(!paused(&a));
    h.wait_records(&a, "pause released", |r| all_in(r, ActionState::Released))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolate_then_release_restores_connectivity_between_two_containers() {
    if !engine_ready() {
        return;
    }
    let mut res = Resources::new("isolate");
    let net = res.network("net");
    let a = res.container("a", Some(&net), &[]);
    let b = res.container("b", Some(&net), &[]);
    let h = Harness::start(
        settings(),
        &[("isolate", &policy("", &[ISOLATE, PAUSE]))],
        &[&a, &b],
    )
    .await;
    let a_ip = h.guard.inventory().get(&a).unwrap().networks[0]
        .ipv4
        .unwrap();
    let b_ip = h.guard.inventory().get(&b).unwrap().networks[0]
        .ipv4
        .unwrap();
    assert!(reaches(&a, &b_ip.to_string()), "connected before");

    // The only clue is the source address, which belongs to container a.
    let mut alert = alert("port_scan", ironpost_core::Severity::High);
    alert.attribution.src_ip = Some(a_ip);
    alert.attribution.dst_ip = Some("203.0.113.9".parse().unwrap());
    assert!(matches!(h.guard.handle_alert(&alert), Decision::Queued(_)));
    let recs = h
        .wait_records(&a, "isolate and pause done", |r| {
            r.len() == 2 && all_in(r, ActionState::Done)
        })
        .await;
    assert_eq!(recs[0].action, "network_isolate");
    assert_eq!(recs[0].details["attributed_via"], "src_ip");
    assert_eq!(recs[0].details["networks"][0]["name"], net.as_str());
    assert_eq!(inspect(&a, "{{len .NetworkSettings.Networks}}"), "0");
    assert!(paused(&a));
    // b is untouched and still on the network.
    assert_eq!(
        inspect(&b, "{{len .NetworkSettings.Networks}}"),
        "1",
        "the other container keeps its network"
    );
    assert!(
        !can_ping(&b, &a_ip.to_string()),
        "a is cut off while isolated"
    );

    let release = h.guard.release(&a).await.unwrap();
    assert!(release.errors.is_empty(), "{release:?}");
    assert_eq!(release.released.len(), 2);
    // Networks come back before the unpause.
    assert_eq!(release.released[0].action, "network_isolate");
    assert!(!paused(&a));
    assert!(
        inspect(&a, "{{json .NetworkSettings.Networks}}").contains(&net),
        "reconnected to {net}"
    );
    assert!(reaches(&a, &b_ip.to_string()), "a reaches b again");
    assert!(reaches(&b, &res.name("a")), "b reaches a again, by name");
    h.wait_records(&a, "released", |r| all_in(r, ActionState::Released))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing_but_records() {
    if !engine_ready() {
        return;
    }
    let mut res = Resources::new("dryrun");
    let net = res.network("net");
    let a = res.container("a", Some(&net), &[]);
    let b = res.container("b", Some(&net), &[]);
    let mut s = settings();
    s.dry_run = true;
    let h = Harness::start(
        s,
        &[("all", &policy("", &[ISOLATE, PAUSE, "type = \"kill\""]))],
        &[&a, &b],
    )
    .await;
    assert!(matches!(
        h.guard.handle_alert(&alert_from_container_log("r", &a)),
        Decision::DryRun(_)
    ));
    let recs = h
        .wait_records(&a, "dry-run records", |r| r.len() == 3)
        .await;
    assert!(all_in(&recs, ActionState::DryRun), "{recs:#?}");
    assert!(!paused(&a));
    assert_eq!(inspect(&a, "{{.State.Running}}"), "true");
    assert_eq!(inspect(&a, "{{len .NetworkSettings.Networks}}"), "1");

    // A policy's own dry_run holds even when the global one is off.
    let h2 = Harness::start(
        settings(),
        &[("p", &policy("dry_run = true", &[PAUSE]))],
        &[&b],
    )
    .await;
    assert!(matches!(
        h2.guard.handle_alert(&alert_from_container_log("r", &b)),
        Decision::DryRun(_)
    ));
    h2.wait_records(&b, "policy dry run", |r| all_in(r, ActionState::DryRun))
        .await;
    assert!(!paused(&b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooldown_and_circuit_breaker_hold() {
    if !engine_ready() {
        return;
    }
    let mut res = Resources::new("limits");
    let a = res.container("a", None, &[]);
    let b = res.container("b", None, &[]);
    let c = res.container("c", None, &[]);
    let mut s = settings();
    s.breaker_max = 2;
    let h = Harness::start(s, &[("pause", &policy("", &[PAUSE]))], &[&a, &b, &c]).await;

    assert!(matches!(
        h.guard.handle_alert(&alert_from_container_log("r", &a)),
        Decision::Queued(_)
    ));
    h.wait_records(&a, "a paused", |r| all_in(r, ActionState::Done))
        .await;
    // Released by hand behind the guard's back: the cooldown still holds for this policy.
    docker_ok(&["unpause", &a]);
    assert!(matches!(
        h.guard.handle_alert(&alert_from_container_log("r2", &a)),
        Decision::Cooldown(_)
    ));
    assert!(
        !paused(&a),
        "the cooldown kept the guard from pausing again"
    );

    assert!(matches!(
        h.guard.handle_alert(&alert_from_container_log("r", &b)),
        Decision::Queued(_)
    ));
    // Two responses in the window: the third container is spared.
    assert!(matches!(
        h.guard.handle_alert(&alert_from_container_log("r", &c)),
        Decision::BreakerOpen(_)
    ));
    h.wait_records(&b, "b paused", |r| all_in(r, ActionState::Done))
        .await;
    let recs = h
        .wait_records(&c, "c suppressed", |r| all_in(r, ActionState::Suppressed))
        .await;
    assert!(
        recs[0]
            .error
            .as_deref()
            .unwrap()
            .contains("circuit breaker")
    );
    assert!(!paused(&c));
    let recs = h
        .wait_records(&a, "a suppressed by cooldown", |r| {
            r.iter().any(|x| x.state == ActionState::Suppressed)
        })
        .await;
    assert!(
        recs.iter()
            .any(|r| r.error.as_deref().is_some_and(|e| e.contains("cooldown")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_and_own_containers_are_never_touched() {
    if !engine_ready() {
        return;
    }
    let mut res = Resources::new("protect");
    let p = res.container("p", None, &["ironpost.protect=true"]);
    let own = res.container("own", None, &[]);
    let mut s = settings();
    s.own_container = Some(own.clone());
    let h = Harness::start(
        s,
        &[("all", &policy("", &[ISOLATE, PAUSE, "type = \"kill\""]))],
        &[&p, &own],
    )
    .await;
    for id in [&p, &own] {
        assert!(matches!(
            h.guard.handle_alert(&alert_from_container_log("r", id)),
            Decision::Protected(_)
        ));
        let recs = h.wait_records(id, "suppressed", |r| r.len() == 3).await;
        assert!(all_in(&recs, ActionState::Suppressed), "{recs:#?}");
        assert!(!paused(id));
        assert_eq!(inspect(id, "{{.State.Running}}"), "true");
        assert_eq!(inspect(id, "{{len .NetworkSettings.Networks}}"), "1");
    }
    assert!(recs_error(&h, &p).contains("ironpost.protect"));
    assert!(recs_error(&h, &own).contains("own container"));
}

fn fresh_guard(h: &Harness) -> std::sync::Arc<ironpost_container_guard::Guard> {
    ironpost_container_guard::Guard::new(
        settings(),
        h.guard.docker().clone(),
        ironpost_container_guard::Inventory::new(),
        Vec::new(),
        h.store.clone(),
        ironpost_core::module::Counters::default(),
    )
}

fn recs_error(h: &Harness, id: &str) -> String {
    h.records(id)[0].error.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_policy_waits_for_approve() {
    if !engine_ready() {
        return;
    }
    let mut res = Resources::new("approve");
    let a = res.container("a", None, &[]);
    let h = Harness::start(
        settings(),
        &[("ask", &policy("approval = true", &[PAUSE]))],
        &[&a],
    )
    .await;
    let Decision::AwaitingApproval(id) = h.guard.handle_alert(&alert_from_container_log("r", &a))
    else {
        panic!("expected an approval wait");
    };
    let recs = h
        .wait_records(&a, "planned", |r| all_in(r, ActionState::Planned))
        .await;
    assert!(!paused(&a), "nothing happens before approval");
    assert_eq!(h.guard.pending().len(), 1);
    // A daemon started again finds the plan still waiting.
    let again = fresh_guard(&h);
    assert_eq!(again.restore_pending().await.unwrap(), 1);
    assert_eq!(again.pending()[0].id, id);
    assert_eq!(again.pending()[0].steps, h.guard.pending()[0].steps);
    assert!(h.guard.approve("nope").is_err());
    // Approving by record id works as well as by plan id.
    h.guard.approve(&recs[0].id).unwrap();
    h.wait_records(&a, "approved and done", |r| all_in(r, ActionState::Done))
        .await;
    assert!(paused(&a));
    assert!(h.guard.pending().is_empty());
    assert!(h.guard.approve(&id).is_err(), "a plan is approved once");
    assert_eq!(
        fresh_guard(&h).restore_pending().await.unwrap(),
        0,
        "a plan carried out is not restored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_ladder_snapshots_with_the_alert_id_and_kills() {
    if !engine_ready() {
        return;
    }
    let mut res = Resources::new("ladder");
    let a = res.container("a", None, &[]);
    let exports = tempfile::tempdir().unwrap();
    let snapshot = format!(
        "type = \"snapshot\"\nexport_dir = \"{}\"",
        exports.path().display()
    );
    let h = Harness::start(
        settings(),
        &[(
            "ladder",
            &policy(
                "",
                &[
                    ISOLATE,
                    PAUSE,
                    &snapshot,
                    "type = \"stop\"\ntimeout_secs = 1",
                    "type = \"kill\"",
                ],
            ),
        )],
        &[&a],
    )
    .await;
    let alert = alert_from_container_log("r", &a);
    let (repo, tag) = ironpost_container_guard::actions::snapshot_image(
        "ironpost-test-forensics",
        &h.guard.inventory().get(&a).unwrap(),
        alert.id.as_str(),
    );
    res.image(&format!("{repo}:{tag}"));
    assert!(matches!(h.guard.handle_alert(&alert), Decision::Queued(_)));
    let recs = h
        .wait_records(&a, "ladder finished", |r| {
            r.len() == 5
                && r.iter()
                    .all(|x| matches!(x.state, ActionState::Done | ActionState::Failed))
        })
        .await;
    assert!(all_in(&recs, ActionState::Done), "{recs:#?}");
    assert_eq!(
        recs.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        ["network_isolate", "pause", "snapshot", "stop", "kill"]
    );
    assert_eq!(tag, alert.id.as_str());
    assert!(docker_succeeds(&[
        "image",
        "inspect",
        &format!("{repo}:{tag}")
    ]));
    assert_eq!(recs[2].details["image"], format!("{repo}:{tag}"));
    // The file system export is a tar of the container's root.
    let tar = recs[2].details["export"].as_str().unwrap().to_owned();
    assert!(
        tar.starts_with(&exports.path().display().to_string()),
        "{tar}"
    );
    let listing = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&listing.stdout).contains("bin/busybox"),
        "the export holds the container's files"
    );
    assert_eq!(inspect(&a, "{{.State.Running}}"), "false");
    // The kill after the stop found the container stopped: an "already" answer counts as done.
    assert!(recs[4].details.get("already").is_some() || recs[4].details.get("signal").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_cgroup_id_maps_to_its_container() {
    if !engine_ready() {
        return;
    }
    let mut res = Resources::new("cgroup");
    let a = res.container("a", None, &[]);
    let h = Harness::start(settings(), &[("pause", &policy("", &[PAUSE]))], &[&a]).await;
    let info = h.guard.inventory().get(&a).unwrap();
    let Some(cg_id) = info.cgroup_id else {
        eprintln!("skipped: this host has no cgroup2 hierarchy to take cgroup ids from");
        return;
    };
    // The id is the inode of the container's directory under the cgroup2 mount.
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount = ironpost_container_guard::cgroup::cgroup2_mount(&mountinfo).unwrap();
    let path = info.cgroup_path.clone().unwrap();
    assert!(path.contains(&a), "{path}");
    let ino = std::fs::metadata(mount.join(path.trim_start_matches('/')))
        .unwrap()
        .ino();
    assert_eq!(cg_id, ino);

    let mut alert = alert("proc", ironpost_core::Severity::High);
    alert.evidence.push(Event::Process(ProcessEvent {
        timestamp: chrono::Utc::now(),
        pid: 42,
        ppid: 1,
        uid: 0,
        gid: 0,
        user: None,
        image: "/bin/sh".into(),
        argv: vec!["sh".into()],
        argv_truncated: false,
        command_line: "sh".into(),
        cwd: None,
        parent_image: None,
        parent_command_line: None,
        cgroup_id: cg_id,
        container: None,
    }));
    assert!(matches!(h.guard.handle_alert(&alert), Decision::Queued(_)));
    h.wait_records(&a, "paused by cgroup", |r| all_in(r, ActionState::Done))
        .await;
    assert!(paused(&a));
    assert_eq!(
        h.records(&a)[0].details["attributed_via"],
        "evidence.cgroup_id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unattributed_alert_triggers_nothing() {
    if !engine_ready() {
        return;
    }
    let mut res = Resources::new("unattr");
    let a = res.container("a", None, &[]);
    let h = Harness::start(settings(), &[("pause", &policy("", &[PAUSE]))], &[&a]).await;
    let mut alert = alert("r", ironpost_core::Severity::Critical);
    alert.attribution.src_ip = Some("198.51.100.7".parse().unwrap());
    assert_eq!(h.guard.handle_alert(&alert), Decision::Unattributed);
    // Removed containers leave the inventory through the events stream.
    docker_ok(&["rm", "-f", &a]);
    h.wait_inventory(|inv| inv.get(&a).is_none()).await;
    assert_eq!(
        h.guard.handle_alert(&alert_from_container_log("r", &a)),
        Decision::Unattributed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_logs_reach_the_event_bus_with_the_container_attached() {
    if !engine_ready() {
        return;
    }
    let mut res = Resources::new("logs");
    let quiet = res.container("quiet", None, &[]);
    let h = Harness::start(settings(), &[], &[&quiet]).await;
    let (tx, mut rx) = ironpost_core::bus::bus("events", 64);
    let selection =
        ironpost_container_guard::logs::LogSelection::new(&[res.name("web*")], &[], "access_log")
            .unwrap();
    let follower = tokio::spawn(ironpost_container_guard::logs::follow(
        h.guard.docker().clone(),
        h.guard.inventory().clone(),
        selection,
        tx,
        ironpost_core::module::Counters::default(),
    ));
    // Started after the follower: read from its first line, even one written at once.
    let name = res.name("web");
    let line = "203.0.113.7 - - [27/Nov/2026:06:00:00 +0000] \\\"GET /cgi-bin/../../etc/passwd HTTP/1.1\\\" 404 153 \\\"-\\\" \\\"curl/8\\\"";
    let web = docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        IMAGE,
        "sh",
        "-c",
        &format!("echo \"{line}\"; echo second line; sleep 3600"),
    ]);
    res.container_named(&name);
    let event = tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
        .await
        .expect("no log line within 30 s")
        .unwrap();
    let Event::Log(rec) = event else {
        panic!("expected a log record, got {event:?}");
    };
    assert_eq!(rec.format, "access_log", "{rec:#?}");
    assert!(rec.message.contains("/etc/passwd") || format!("{rec:?}").contains("/etc/passwd"));
    let c = rec.container.clone().unwrap();
    assert_eq!(c.id, web);
    assert_eq!(c.name.as_deref(), Some(name.as_str()));
    let Event::Log(second) = rx.recv().await.unwrap() else {
        panic!("expected a second record");
    };
    assert_eq!(second.format, "text");
    assert!(second.message.contains("second line"));
    // The quiet container is not selected: nothing else arrives.
    assert!(rx.try_recv().is_none());
    follower.abort();
}
