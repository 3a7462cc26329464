//! The exec tracer end to end: the real daemon with `[exec]` and the shipped process_creation
//! rules; a reverse-shell-looking exec on the host becomes an alert in the store, its near miss
//! does not; short-lived execs in a nested temporary directory, under a tmpfs mount and under a
//! bind mount carry their exact working directory, argument vector and parent.
//!
//! Needs root and a kernel with BTF; without them the test says so and returns.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Setup, stored_alerts};

const REVERSE_SHELL: &str = "f6ef8629-b83a-4387-ac50-9c7423f6f7d1";

/// False (after saying why) when the tracer cannot run here.
fn can_trace() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: the exec tracer needs root");
        return false;
    }
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("skipped: the kernel has no BTF");
        return false;
    }
    true
}

#[test]
fn a_reverse_shell_exec_becomes_an_alert_through_the_daemon() {
    if !can_trace() {
        return;
    }
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rules/linux/process_creation"
    );
    // No suppression: the tracer sees every exec on the host, and a matching root /bin/sh of
    // another test (or anything else) running first would otherwise hold this one back.
    let s = Setup::new(&format!(
        "[sigma]\nenabled = true\nrules = [\"{rules}\"]\nsuppression_secs = 0\n\n[exec]\nenabled = true\nexclude_path_prefixes = [\"/usr/lib/\"]\n"
    ));
    let d = s.start();
    s.wait_for("exec healthy", |doc| {
        doc["modules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "exec" && m["state"] == "healthy")
    });
    let marker = format!("ironpost-e2e-{}", std::process::id());
    for script in [
        format!("echo {marker}-miss /dev/tcp_x; true"),
        format!("echo {marker}-hit > /dev/tcp/127.0.0.1/9; true"),
    ] {
        let _ = Command::new("/bin/sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let alert = loop {
        let found = stored_alerts(&s.data()).into_iter().find(|a| {
            a.rule_id == REVERSE_SHELL
                && a.evidence.iter().any(|e| match e {
                    ironpost_core::Event::Process(p) => p.command_line.contains(&marker),
                    _ => false,
                })
        });
        if let Some(a) = found {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no reverse-shell alert stored within 30 s; status: {}",
            s.status()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let lines: Vec<String> = alert
        .evidence
        .iter()
        .filter_map(|e| match e {
            ironpost_core::Event::Process(p) => Some(p.command_line.clone()),
            _ => None,
        })
        .collect();
    assert!(
        lines.iter().any(|l| l.contains(&format!("{marker}-hit"))),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains(&format!("{marker}-miss"))),
        "{lines:?}"
    );
    assert!(s.module("exec")["counters"]["execs"].as_u64().unwrap() >= 2);
    let (status, log) = d.terminate();
    assert!(status.success(), "{log}");
}

/// The process event of the first stored alert whose evidence has exactly `command_line`
/// (30 s at most).
fn process_with_command_line(s: &Setup, command_line: &str) -> ironpost_core::event::ProcessEvent {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = stored_alerts(&s.data()).into_iter().find_map(|a| {
            a.evidence.into_iter().find_map(|e| match e {
                ironpost_core::Event::Process(p) if p.command_line == command_line => Some(p),
                _ => None,
            })
        });
        if let Some(p) = found {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "no alert with the command line {command_line:?} within 30 s; status: {}",
            s.status()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn short_lived_execs_carry_their_exact_working_directory_through_the_daemon() {
    if !can_trace() {
        return;
    }
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../rules/linux/process_creation"
    );
    // No suppression: every exec below is a /bin/sh of root's matching the same rule (and so
    // are the other test's).
    let s = Setup::new(&format!(
        "[sigma]\nenabled = true\nrules = [\"{rules}\"]\nsuppression_secs = 0\n\n[exec]\nenabled = true\n"
    ));
    // The kernel reports real paths: resolve the temporary directory's symlinks, if any.
    let base = std::fs::canonicalize(s.dir.path()).unwrap();
    let nested = base.join("work/a b/ünï/c/d/e");
    for d in [
        nested.clone(),
        base.join("tmpfs"),
        base.join("src/sub"),
        base.join("bind"),
    ] {
        std::fs::create_dir_all(d).unwrap();
    }
    let d = s.start();
    s.wait_for("exec healthy", |doc| {
        doc["modules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "exec" && m["state"] == "healthy")
    });
    let marker = |case: &str| format!("ironpost-e2e-cwd-{}-{case}", std::process::id());
    // Each exec is a shell that exits at once (dash has no /dev/tcp): gone long before anything
    // could read /proc/<pid>/cwd.
    let script = |case: &str| format!("echo {} > /dev/tcp/127.0.0.1/9; true", marker(case));
    let command_line = |case: &str| format!("/bin/sh -c {}", script(case));
    let run = |mut cmd: Command| {
        let status = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{cmd:?}: {status}");
    };

    // A nested temporary directory, the test as the parent.
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", &script("nested")]).current_dir(&nested);
    run(cmd);
    // Under a tmpfs and a bind mount, made in a private mount namespace (nothing leaks out).
    let in_mount_ns = |mount: &str, dirs: &[&Path], cwd: &str, case: &str| {
        let mut cmd = Command::new("unshare");
        cmd.args([
            "-m",
            "/bin/sh",
            "-c",
            &format!("{mount} && cd \"{cwd}\" && exec /bin/sh -c \"$2\""),
        ])
        .args(dirs)
        .arg(script(case));
        cmd
    };
    let mnt = base.join("tmpfs");
    run(in_mount_ns(
        "mount -t tmpfs ironpost-e2e \"$0\" && mkdir -p \"$0/x/y\"",
        &[&mnt, &mnt],
        &format!("{}/x/y", mnt.display()),
        "tmpfs",
    ));
    run(in_mount_ns(
        "mount --bind \"$0\" \"$1\"",
        &[&base.join("src"), &base.join("bind")],
        &format!("{}/sub", base.join("bind").display()),
        "bind",
    ));

    let p = process_with_command_line(&s, &command_line("nested"));
    assert_eq!(p.cwd.as_deref(), nested.to_str());
    assert_eq!(p.image, "/bin/sh");
    assert_eq!(p.argv, ["/bin/sh", "-c", script("nested").as_str()]);
    assert_eq!(p.ppid, std::process::id());
    let me: PathBuf = std::env::current_exe().unwrap();
    assert_eq!(p.parent_image.as_deref(), me.to_str());
    let p = process_with_command_line(&s, &command_line("tmpfs"));
    assert_eq!(p.cwd, Some(format!("{}/x/y", mnt.display())));
    let p = process_with_command_line(&s, &command_line("bind"));
    assert_eq!(p.cwd, Some(format!("{}/sub", base.join("bind").display())));
    // Where working directories came from is counted (the kernel's, unless cut or unreadable).
    let counters = &s.module("exec")["counters"];
    eprintln!("exec counters: {counters}");
    for name in ["execs_cwd_from_proc", "execs_cwd_unknown"] {
        assert!(counters[name].as_u64().is_some(), "{name}: {counters}");
    }
    let (status, log) = d.terminate();
    assert!(status.success(), "{log}");
}
