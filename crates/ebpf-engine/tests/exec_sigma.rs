//! The shipped Sigma `process_creation` rules run unchanged on process events from the exec
//! tracer: the reverse-shell rule fires on an exec whose command line opens `/dev/tcp/`, and not
//! on a near miss.
//!
//! Needs root and a kernel with BTF; without them the test says so and returns.

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use ironpost_core::Event;
use ironpost_ebpf_engine::exec::process::ProcessResolver;
use ironpost_ebpf_engine::exec::{Exec, ExecTracer};
use ironpost_sigma::{EngineConfig, Loader, LogSourceMap};

const REVERSE_SHELL: &str = "f6ef8629-b83a-4387-ac50-9c7423f6f7d1";

fn exec_of(t: &mut ExecTracer, pid: u32) -> Exec {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(e) = t.try_next() {
            if e.pid == pid {
                return e;
            }
        }
        assert!(Instant::now() < deadline, "no exec of pid {pid} seen");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_reverse_shell_rule_fires_on_a_real_exec_and_not_on_a_near_miss() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: attaching the exec tracer needs root");
        return;
    }
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../rules/linux/process_creation"
    );
    let mut loader = Loader::new(LogSourceMap::default(), EngineConfig::default());
    for entry in std::fs::read_dir(rules).unwrap() {
        let path = entry.unwrap().path();
        loader.add_file(
            &path.display().to_string(),
            &std::fs::read_to_string(&path).unwrap(),
        );
    }
    let (mut engine, report) = loader.build();
    assert!(report.all_loaded(), "{:?}", report.errors());

    let mut tracer = ExecTracer::attach().expect("attaching the exec tracer");
    let mut resolver = ProcessResolver::default();
    let mut run = |script: &str| {
        let mut child = Command::new("/bin/sh")
            .args(["-c", script])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let _ = child.wait();
        let exec = exec_of(&mut tracer, pid);
        Event::Process(resolver.resolve(&exec, Utc::now()))
    };
    let hit = run("echo probe > /dev/tcp/127.0.0.1/9; true");
    let miss = run("echo /dev/tcp_probe; true");
    assert!(
        engine
            .matching_rules(&hit)
            .contains(&REVERSE_SHELL.to_owned()),
        "{hit:?}"
    );
    assert!(
        !engine
            .matching_rules(&miss)
            .contains(&REVERSE_SHELL.to_owned()),
        "{miss:?}"
    );
}
