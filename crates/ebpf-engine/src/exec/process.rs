//! From a kernel exec record to a [`ProcessEvent`] with Sigma's `process_creation` fields: the
//! parent's image and command line from a cache of earlier execs (or `/proc`, once, for parents
//! that have not exec'd since the tracer started), the user name, the working directory (the kernel's, or `/proc`
//! when the kernel could not read it whole) and the container.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ironpost_core::event::{ContainerRef, ProcessEvent};

use super::{Exec, KernelCwd};

/// How many execs the parent cache remembers (oldest forgotten first).
pub const PARENT_CACHE_SIZE: usize = 65_536;

/// How many cgroups the container cache remembers (it is emptied when full).
pub const CGROUP_CACHE_SIZE: usize = 4096;

/// Where an event's working directory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CwdSource {
    /// The kernel's record, read at exec.
    Kernel,
    /// `/proc/<pid>/cwd`, because the kernel's was cut or unreadable (racy: the process may have
    /// exited, or changed directory, by then).
    Proc,
    /// Neither: the kernel's was unreadable and the process gone. A cut kernel path is then
    /// reported with a leading `.../`.
    None,
}

/// Turns exec records into process events.
#[derive(Debug)]
pub struct ProcessResolver {
    proc_root: PathBuf,
    passwd: PathBuf,
    /// By pid: the process's start time, image and command line. The start time tells a pid's
    /// later owner from the process remembered.
    execs: HashMap<u32, (u64, String, String)>,
    order: VecDeque<u32>,
    users: Option<HashMap<u32, String>>,
    /// By cgroup id: the container, and whether the cgroup's unified (v2) path names it.
    containers: HashMap<u64, (Option<String>, bool)>,
}

impl Default for ProcessResolver {
    fn default() -> Self {
        ProcessResolver::new("/proc", "/etc/passwd")
    }
}

impl ProcessResolver {
    /// A resolver reading processes under `proc_root` and users from `passwd`.
    pub fn new(proc_root: impl Into<PathBuf>, passwd: impl Into<PathBuf>) -> ProcessResolver {
        ProcessResolver {
            proc_root: proc_root.into(),
            passwd: passwd.into(),
            execs: HashMap::new(),
            order: VecDeque::new(),
            users: None,
            containers: HashMap::new(),
        }
    }

    fn remember(&mut self, pid: u32, start_ns: u64, image: String, command_line: String) {
        if self
            .execs
            .insert(pid, (start_ns, image, command_line))
            .is_none()
        {
            self.order.push_back(pid);
        }
        while self.order.len() > PARENT_CACHE_SIZE {
            if let Some(old) = self.order.pop_front() {
                self.execs.remove(&old);
            }
        }
    }

    /// The image and command line of process `ppid` started at `start_ns` (0: unknown, any):
    /// remembered from its exec, or read from `/proc` and then remembered, so that the children
    /// of a long-lived parent cost one read of `/proc`.
    fn parent(&mut self, ppid: u32, start_ns: u64) -> (Option<String>, Option<String>) {
        if let Some((started, image, cmd)) = self.execs.get(&ppid)
            && (*started == start_ns || *started == 0 || start_ns == 0)
        {
            return (Some(image.clone()), Some(cmd.clone()));
        }
        let dir = self.proc_root.join(ppid.to_string());
        let image = std::fs::read_link(dir.join("exe"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        let cmd = std::fs::read(dir.join("cmdline")).ok().map(|raw| {
            let raw = raw.strip_suffix(&[0]).unwrap_or(&raw);
            raw.split(|b| *b == 0)
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()
                .join(" ")
        });
        if start_ns != 0
            && let (Some(image), Some(cmd)) = (&image, &cmd)
        {
            self.remember(ppid, start_ns, image.clone(), cmd.clone());
        }
        (image, cmd)
    }

    fn user(&mut self, uid: u32) -> Option<String> {
        if self.users.is_none() {
            self.users = Some(
                std::fs::read_to_string(&self.passwd)
                    .map(|t| parse_passwd(&t))
                    .unwrap_or_default(),
            );
        }
        self.users.as_ref().and_then(|u| u.get(&uid).cloned())
    }

    /// The container of the processes of cgroup `cgroup_id`, from `/proc/<pid>/cgroup` of one
    /// of them the first time that cgroup is seen (not remembered when that process is gone).
    fn container(&mut self, cgroup_id: u64, proc_dir: &Path) -> Option<String> {
        if cgroup_id != 0
            && let Some((known, _)) = self.containers.get(&cgroup_id)
        {
            return known.clone();
        }
        let text = std::fs::read_to_string(proc_dir.join("cgroup")).ok()?;
        let (id, unified) = container_in_cgroup_file(&text);
        if cgroup_id != 0 {
            if self.containers.len() >= CGROUP_CACHE_SIZE {
                self.containers.clear();
            }
            self.containers.insert(cgroup_id, (id.clone(), unified));
        }
        id
    }

    /// The container whose cgroup `cgroup_id` is, when the unified (v2) cgroup path of a process
    /// in it names that container: then every exec of that cgroup is the container's, and the
    /// kernel may filter the cgroup. `None` for cgroups not seen yet, outside containers, or
    /// attributed through a cgroup v1 hierarchy only (their v2 cgroup may be shared, or the
    /// root).
    pub fn unified_container(&self, cgroup_id: u64) -> Option<&str> {
        match self.containers.get(&cgroup_id) {
            Some((Some(id), true)) if cgroup_id > 1 => Some(id),
            _ => None,
        }
    }

    /// The process event of `exec`, seen at `timestamp`. Reads `/proc` for what the kernel record
    /// does not carry.
    pub fn resolve(&mut self, exec: &Exec, timestamp: DateTime<Utc>) -> ProcessEvent {
        self.resolve_with_source(exec, timestamp).0
    }

    /// As [`ProcessResolver::resolve`], and where the working directory came from.
    pub fn resolve_with_source(
        &mut self,
        exec: &Exec,
        timestamp: DateTime<Utc>,
    ) -> (ProcessEvent, CwdSource) {
        let (parent_image, parent_command_line) = self.parent(exec.ppid, exec.parent_start_ns);
        let dir = self.proc_root.join(exec.pid.to_string());
        let (cwd, cwd_source) = match &exec.cwd {
            KernelCwd::Path(p) => (Some(p.clone()), CwdSource::Kernel),
            cut_or_unreadable => match std::fs::read_link(dir.join("cwd")) {
                Ok(p) => (Some(p.to_string_lossy().into_owned()), CwdSource::Proc),
                Err(_) => match cut_or_unreadable {
                    KernelCwd::Truncated(tail) => (Some(format!(".../{tail}")), CwdSource::None),
                    _ => (None, CwdSource::None),
                },
            },
        };
        let container = self.container(exec.cgroup_id, &dir).map(|id| ContainerRef {
            id,
            name: None,
            image: None,
        });
        let command_line = exec.command_line();
        self.remember(
            exec.pid,
            exec.start_ns,
            exec.filename.clone(),
            command_line.clone(),
        );
        let event = ProcessEvent {
            timestamp,
            pid: exec.pid,
            ppid: exec.ppid,
            uid: exec.uid,
            gid: exec.gid,
            user: self.user(exec.uid),
            image: exec.filename.clone(),
            argv: exec.argv.clone(),
            argv_truncated: exec.argv_truncated,
            command_line,
            cwd,
            parent_image,
            parent_command_line,
            cgroup_id: exec.cgroup_id,
            container,
        };
        (event, cwd_source)
    }
}

/// User names by uid from the text of `/etc/passwd`.
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let uid = f.nth(1)?.parse().ok()?;
            Some((uid, name.to_owned()))
        })
        .collect()
}

/// The container id in the text of `/proc/<pid>/cgroup` (cgroup v1 and v2), if any, and
/// whether the unified hierarchy's line (`0::PATH`) names it.
fn container_in_cgroup_file(text: &str) -> (Option<String>, bool) {
    let mut found = None;
    let mut unified = None;
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(hierarchy), Some(controllers), Some(path)) = (f.next(), f.next(), f.next())
        else {
            continue;
        };
        let id = container_id_from_cgroup_path(path);
        if hierarchy == "0" && controllers.is_empty() {
            unified = id.clone();
        }
        if found.is_none() {
            found = id;
        }
    }
    let named = found.is_some() && unified == found;
    (found, named)
}

/// The container id a cgroup path names: Docker (`/docker/ID`, `docker-ID.scope`), containerd
/// (`cri-containerd-ID.scope`, `/containerd/.../ID`), CRI-O and Podman (`crio-ID.scope`,
/// `libpod-ID.scope`), under systemd or cgroupfs, v1 or v2.
pub fn container_id_from_cgroup_path(path: &str) -> Option<String> {
    path.split('/').rev().find_map(|component| {
        let c = component.strip_suffix(".scope").unwrap_or(component);
        let id = ["docker-", "cri-containerd-", "crio-", "libpod-"]
            .iter()
            .find_map(|p| c.strip_prefix(p))
            .unwrap_or(c);
        (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4a3f1c8e9b2d7f6a5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f";

    #[test]
    fn container_ids_are_found_in_every_cgroup_layout() {
        for path in [
            format!("/docker/{ID}"),
            format!("/system.slice/docker-{ID}.scope"),
            format!(
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-{ID}.scope"
            ),
            format!("/kubepods/besteffort/pod1/{ID}"),
            format!("/machine.slice/libpod-{ID}.scope/container"),
            format!("/crio-{ID}.scope"),
        ] {
            assert_eq!(
                container_id_from_cgroup_path(&path).as_deref(),
                Some(ID),
                "{path}"
            );
        }
        for path in [
            "/",
            "/user.slice/user-0.slice/session-3.scope",
            "/docker",
            "/system.slice/docker.service",
        ] {
            assert_eq!(container_id_from_cgroup_path(path), None, "{path}");
        }
    }

    #[test]
    fn passwd_gives_names_by_uid() {
        let users = parse_passwd(
            "# comment\nroot:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\nbroken\n",
        );
        assert_eq!(users.get(&0).map(String::as_str), Some("root"));
        assert_eq!(users.get(&33).map(String::as_str), Some("www-data"));
        assert_eq!(users.len(), 2);
    }

    #[test]
    fn the_parent_comes_from_earlier_execs_and_the_cache_is_bounded() {
        let dir = tempfile_dir();
        let mut r = ProcessResolver::new(&dir, dir.join("passwd"));
        // Started at pid * 10 ns, unless said otherwise.
        let exec = |pid: u32, ppid: u32, argv: &[&str]| Exec {
            pid,
            ppid,
            uid: 0,
            gid: 0,
            cgroup_id: 1,
            filename: argv[0].to_owned(),
            argv: argv.iter().map(|a| a.to_string()).collect(),
            argv_truncated: false,
            cwd: KernelCwd::Path("/srv".into()),
            start_ns: u64::from(pid) * 10,
            parent_start_ns: u64::from(ppid) * 10,
        };
        let now = Utc::now();
        let sh = r.resolve(&exec(100, 1, &["/bin/sh", "-c", "x"]), now);
        assert_eq!(sh.parent_image, None);
        let child = r.resolve(&exec(101, 100, &["/usr/bin/base64", "-d"]), now);
        assert_eq!(child.image, "/usr/bin/base64");
        assert_eq!(child.command_line, "/usr/bin/base64 -d");
        assert_eq!(child.parent_image.as_deref(), Some("/bin/sh"));
        assert_eq!(child.parent_command_line.as_deref(), Some("/bin/sh -c x"));
        assert_eq!(child.cwd.as_deref(), Some("/srv"));
        // Pid 100 reused by another process (started later), not in /proc: not the shell.
        let mut orphan = exec(102, 100, &["/bin/true"]);
        orphan.parent_start_ns = 5000;
        assert_eq!(r.resolve(&orphan, now).parent_image, None);
        // A parent that never exec'd under the tracer: read from /proc once, then remembered.
        std::fs::create_dir_all(dir.join("200")).unwrap();
        let _ = std::fs::remove_file(dir.join("200/exe"));
        std::os::unix::fs::symlink("/usr/sbin/cron", dir.join("200/exe")).unwrap();
        std::fs::write(dir.join("200/cmdline"), b"cron\0-f\0").unwrap();
        let first = r.resolve(&exec(201, 200, &["/bin/sh"]), now);
        std::fs::remove_dir_all(dir.join("200")).unwrap();
        let second = r.resolve(&exec(202, 200, &["/bin/sh"]), now);
        for ev in [first, second] {
            assert_eq!(ev.parent_image.as_deref(), Some("/usr/sbin/cron"));
            assert_eq!(ev.parent_command_line.as_deref(), Some("cron -f"));
        }
        for pid in 0..(PARENT_CACHE_SIZE as u32 + 10) {
            r.remember(1000 + pid, 1, "x".into(), "x".into());
        }
        assert_eq!(r.execs.len(), PARENT_CACHE_SIZE);
        assert!(!r.execs.contains_key(&100));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_working_directory_falls_back_to_proc_only_when_the_kernel_has_none() {
        let dir = tempfile_dir().join("cwd");
        std::fs::create_dir_all(dir.join("42")).unwrap();
        let _ = std::fs::remove_file(dir.join("42/cwd"));
        std::os::unix::fs::symlink("/var/tmp", dir.join("42/cwd")).unwrap();
        let mut r = ProcessResolver::new(&dir, dir.join("passwd"));
        let exec = |pid, cwd| Exec {
            pid,
            ppid: 1,
            uid: 0,
            gid: 0,
            cgroup_id: 0,
            filename: "/bin/true".into(),
            argv: vec!["/bin/true".into()],
            argv_truncated: false,
            cwd,
            start_ns: 0,
            parent_start_ns: 0,
        };
        let now = Utc::now();
        let (ev, src) = r.resolve_with_source(&exec(42, KernelCwd::Path("/srv".into())), now);
        assert_eq!((ev.cwd.as_deref(), src), (Some("/srv"), CwdSource::Kernel));
        let (ev, src) = r.resolve_with_source(&exec(42, KernelCwd::Unreadable), now);
        assert_eq!(
            (ev.cwd.as_deref(), src),
            (Some("/var/tmp"), CwdSource::Proc)
        );
        let (ev, src) = r.resolve_with_source(&exec(42, KernelCwd::Truncated("c/d".into())), now);
        assert_eq!(
            (ev.cwd.as_deref(), src),
            (Some("/var/tmp"), CwdSource::Proc)
        );
        let (ev, src) = r.resolve_with_source(&exec(43, KernelCwd::Truncated("c/d".into())), now);
        assert_eq!((ev.cwd.as_deref(), src), (Some(".../c/d"), CwdSource::None));
        let (ev, src) = r.resolve_with_source(&exec(43, KernelCwd::Unreadable), now);
        assert_eq!((ev.cwd, src), (None, CwdSource::None));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn containers_are_remembered_by_cgroup_id() {
        let dir = tempfile_dir().join("cgroups");
        std::fs::create_dir_all(dir.join("50")).unwrap();
        std::fs::write(
            dir.join("50/cgroup"),
            format!("0::/system.slice/docker-{ID}.scope\n"),
        )
        .unwrap();
        let mut r = ProcessResolver::new(&dir, dir.join("passwd"));
        let proc_dir = |pid: u32| dir.join(pid.to_string());
        assert_eq!(r.container(9, &proc_dir(50)).as_deref(), Some(ID));
        // Another process of the same cgroup, already gone from /proc: the cache answers.
        assert_eq!(r.container(9, &proc_dir(51)).as_deref(), Some(ID));
        // A cgroup not seen before, its process gone: nothing, and nothing remembered.
        assert_eq!(r.container(10, &proc_dir(52)), None);
        assert!(!r.containers.contains_key(&10));
        // Named by the unified hierarchy: the kernel may filter that cgroup.
        assert_eq!(r.unified_container(9), Some(ID));
        // Named by a v1 hierarchy only (the v2 cgroup is the root, or a service's): it may not.
        std::fs::create_dir_all(dir.join("53")).unwrap();
        std::fs::write(
            dir.join("53/cgroup"),
            format!("4:memory:/docker/{ID}\n0::/system.slice/docker.service\n"),
        )
        .unwrap();
        assert_eq!(r.container(11, &proc_dir(53)).as_deref(), Some(ID));
        assert_eq!(r.unified_container(11), None);
        std::fs::create_dir_all(dir.join("54")).unwrap();
        std::fs::write(
            dir.join("54/cgroup"),
            format!("4:memory:/docker/{ID}\n0::/\n"),
        )
        .unwrap();
        assert_eq!(r.container(1, &proc_dir(54)).as_deref(), Some(ID));
        assert_eq!(r.unified_container(1), None);
        assert_eq!(r.unified_container(12), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ironpost-resolver-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
