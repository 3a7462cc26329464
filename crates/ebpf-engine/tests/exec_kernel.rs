//! The exec tracer attached for real: a child exec'ing a known program with known arguments is
//! observed with its exact argument vector, its parent and its ids; resolved into a process
//! event it carries its parent's image and command line, user, working directory and, inside a
//! Docker container, the container's id.
//!
//! Needs root (CAP_BPF, CAP_PERFMON) and a kernel with BTF; without them the test says so and
//! returns.

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use ironpost_ebpf_engine::exec::abi::EXEC_ARGS_MAX;
use ironpost_ebpf_engine::exec::process::ProcessResolver;
use ironpost_ebpf_engine::exec::{Exec, ExecTracer, KernelFilters};

fn attach() -> Option<ExecTracer> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: attaching the exec tracer needs root");
        return None;
    }
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("skipped: the kernel has no BTF (/sys/kernel/btf/vmlinux)");
        return None;
    }
    Some(ExecTracer::attach().expect("attaching the exec tracer"))
}

/// Waits (10 s at most) for the exec of process `pid`.
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
fn a_child_exec_is_seen_with_its_exact_arguments_and_parent() {
    let Some(mut t) = attach() else { return };
    let args = ["ironpost exec test", "--flag=x", "", "ünïcode"];
    let mut child = Command::new("/bin/echo")
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let e = exec_of(&mut t, pid);
    assert_eq!(e.filename, "/bin/echo");
    let mut want = vec!["/bin/echo".to_owned()];
    want.extend(args.iter().map(|a| a.to_string()));
    assert_eq!(e.argv, want);
    assert!(!e.argv_truncated);
    assert_eq!(e.ppid, std::process::id());
    assert_eq!(e.uid, 0);
    assert_eq!(e.gid, 0);
    assert_ne!(e.cgroup_id, 0);
    assert_eq!(
        e.command_line(),
        "/bin/echo ironpost exec test --flag=x  ünïcode"
    );
    let (events, lost) = t.counts().unwrap();
    assert!(events >= 1);
    assert_eq!(lost, 0);
}

#[test]
fn a_long_argument_vector_is_cut_and_flagged() {
    let Some(mut t) = attach() else { return };
    let long = "a".repeat(EXEC_ARGS_MAX * 2);
    let mut child = Command::new("/bin/true").arg(&long).spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let e = exec_of(&mut t, pid);
    assert!(e.argv_truncated);
    // "/bin/true" and its NUL, then as much of the argument as fits.
    let kept = "a".repeat(EXEC_ARGS_MAX - "/bin/true".len() - 1);
    assert_eq!(e.argv, vec!["/bin/true".to_owned(), kept]);
}

#[test]
fn the_argument_bound_is_configurable() {
    if attach().is_none() {
        return;
    }
    let mut t = ExecTracer::attach_with(&KernelFilters {
        max_args_bytes: 16,
        ..KernelFilters::default()
    })
    .expect("attaching with a 16-byte argument bound");
    let mut child = Command::new("/bin/true")
        .arg("ironpost-bound-test")
        .spawn()
        .unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let e = exec_of(&mut t, pid);
    assert!(e.argv_truncated);
    // 16 bytes: "/bin/true", its NUL, then 6 bytes of the argument.
    assert_eq!(e.argv, vec!["/bin/true".to_owned(), "ironpo".to_owned()]);
}

/// Waits (10 s at most) for an exec matching `pred`.
fn exec_where(t: &mut ExecTracer, pred: impl Fn(&Exec) -> bool) -> Exec {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(e) = t.try_next() {
            if pred(&e) {
                return e;
            }
        }
        assert!(Instant::now() < deadline, "no matching exec seen");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_process_event_carries_its_parent_user_and_working_directory() {
    let Some(mut t) = attach() else { return };
    let mut resolver = ProcessResolver::default();
    let dir = std::env::temp_dir().join(format!("ironpost-exec-cwd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The shell stays alive (it waits for sleep), so both are resolvable while running.
    let mut sh = Command::new("/bin/sh")
        .args(["-c", "/bin/sleep 30; true"])
        .current_dir(&dir)
        .spawn()
        .unwrap();
    let sh_pid = sh.id();
    let sh_exec = exec_of(&mut t, sh_pid);
    let sh_event = resolver.resolve(&sh_exec, Utc::now());
    let sleep = exec_where(&mut t, |e| e.ppid == sh_pid && e.filename == "/bin/sleep");
    let ev = resolver.resolve(&sleep, Utc::now());
    let _ = sh.kill();
    let _ = Command::new("kill").arg(sleep.pid.to_string()).status();
    let _ = sh.wait();
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(sh_event.command_line, "/bin/sh -c /bin/sleep 30; true");
    assert_eq!(
        sh_event
            .parent_image
            .as_deref()
            .map(|p| p.contains("exec_kernel")),
        Some(true)
    );
    assert_eq!(ev.image, "/bin/sleep");
    assert_eq!(ev.command_line, "/bin/sleep 30");
    assert_eq!(ev.parent_image.as_deref(), Some("/bin/sh"));
    assert_eq!(
        ev.parent_command_line.as_deref(),
        Some("/bin/sh -c /bin/sleep 30; true")
    );
    assert_eq!(ev.user.as_deref(), Some("root"));
    assert_eq!(ev.cwd.as_deref(), Some(dir.to_str().unwrap()));
    assert_eq!(ev.container, None);
    // The Sigma process_creation fields read from it.
    use ironpost_core::event::{FieldSource, FieldValue};
    assert_eq!(ev.field("Image"), Some(FieldValue::Str("/bin/sleep")));
    assert_eq!(ev.field("ParentImage"), Some(FieldValue::Str("/bin/sh")));
}

#[test]
fn an_exec_inside_a_docker_container_carries_its_id() {
    let image = "ironpost-test/busybox";
    let has_image = Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_image {
        eprintln!("skipped: docker or the local image {image} is not available");
        return;
    }
    let Some(mut t) = attach() else { return };
    let mut resolver = ProcessResolver::default();
    let name = format!("ironpost-exec-test-{}", std::process::id());
    let out = Command::new("docker")
        .args(["run", "-d", "--rm", "--name", &name, image, "sleep", "3117"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let e = exec_where(&mut t, |e| e.argv == ["sleep", "3117"]);
    let ev = resolver.resolve(&e, Utc::now());
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    assert_eq!(ev.container.map(|c| c.id), Some(id));
}

#[test]
fn kernel_filters_drop_excluded_paths_and_uids_before_userspace() {
    if attach().is_none() {
        return;
    }
    let mut t = ExecTracer::attach_with(&KernelFilters {
        uids: vec![65534],
        path_prefixes: vec!["/bin/tr".into()],
        ..KernelFilters::default()
    })
    .expect("attaching with filters");
    use std::os::unix::process::CommandExt;
    let mut excluded = Vec::new();
    for mut cmd in [
        {
            let mut c = Command::new("/bin/true");
            c.arg("ironpost-filtered-path");
            c
        },
        {
            let mut c = Command::new("/bin/echo");
            c.arg("ironpost-filtered-uid").uid(65534).gid(65534);
            c
        },
    ] {
        let mut child = cmd.stdout(std::process::Stdio::null()).spawn().unwrap();
        excluded.push(child.id());
        child.wait().unwrap();
    }
    // An exec after both: once it is read, a record of theirs would have been read before it.
    let mut child = Command::new("/bin/echo")
        .arg("ironpost-kept")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let kept = child.id();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while !seen.contains(&kept) {
        while let Some(e) = t.try_next() {
            seen.push(e.pid);
        }
        assert!(Instant::now() < deadline, "the kept exec was not seen");
        std::thread::sleep(Duration::from_millis(10));
    }
    for pid in excluded {
        assert!(
            !seen.contains(&pid),
            "filtered exec {pid} reached userspace"
        );
    }
    assert!(t.filtered().unwrap() >= 2);
}
