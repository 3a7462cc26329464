//! From a kernel exec record to a [`ProcessEvent`] with Sigma's `process_creation` fields: the
//! parent's image and command line from a cache of earlier execs (or `/proc` for parents that
//! started before the tracer), the user name, the working directory and the container.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ironpost_core::event::{ContainerRef, ProcessEvent};

use super::Exec;

/// How many execs the parent cache remembers (oldest forgotten first).
pub const PARENT_CACHE_SIZE: usize = 65_536;

/// Turns exec records into process events.
#[derive(Debug)]
pub struct ProcessResolver {
    proc_root: PathBuf,
    passwd: PathBuf,
    execs: HashMap<u32, (String, String)>,
    order: VecDeque<u32>,
    users: Option<HashMap<u32, String>>,
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
        }
    }

    fn remember(&mut self, pid: u32, image: String, command_line: String) {
        if self.execs.insert(pid, (image, command_line)).is_none() {
            self.order.push_back(pid);
        }
        while self.order.len() > PARENT_CACHE_SIZE {
            if let Some(old) = self.order.pop_front() {
                self.execs.remove(&old);
            }
        }
    }

    fn parent(&self, ppid: u32) -> (Option<String>, Option<String>) {
        if let Some((image, cmd)) = self.execs.get(&ppid) {
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

    /// The process event of `exec`, seen at `timestamp`. Reads `/proc` for what the kernel record
    /// does not carry; a process that has already exited gets no working directory.
    pub fn resolve(&mut self, exec: &Exec, timestamp: DateTime<Utc>) -> ProcessEvent {
        let (parent_image, parent_command_line) = self.parent(exec.ppid);
        let dir = self.proc_root.join(exec.pid.to_string());
        let cwd = std::fs::read_link(dir.join("cwd"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        let container = container_of(&dir).map(|id| ContainerRef {
            id,
            name: None,
            image: None,
        });
        let command_line = exec.command_line();
        self.remember(exec.pid, exec.filename.clone(), command_line.clone());
        ProcessEvent {
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
        }
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

/// The container id in `/proc/<pid>/cgroup` (cgroup v1 and v2), if any.
fn container_of(proc_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(proc_dir.join("cgroup")).ok()?;
    text.lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .find_map(container_id_from_cgroup_path)
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
        let exec = |pid, ppid, argv: &[&str]| Exec {
            pid,
            ppid,
            uid: 0,
            gid: 0,
            cgroup_id: 1,
            filename: argv[0].to_owned(),
            argv: argv.iter().map(|a| a.to_string()).collect(),
            argv_truncated: false,
        };
        let now = Utc::now();
        let sh = r.resolve(&exec(100, 1, &["/bin/sh", "-c", "x"]), now);
        assert_eq!(sh.parent_image, None);
        let child = r.resolve(&exec(101, 100, &["/usr/bin/base64", "-d"]), now);
        assert_eq!(child.image, "/usr/bin/base64");
        assert_eq!(child.command_line, "/usr/bin/base64 -d");
        assert_eq!(child.parent_image.as_deref(), Some("/bin/sh"));
        assert_eq!(child.parent_command_line.as_deref(), Some("/bin/sh -c x"));
        for pid in 0..(PARENT_CACHE_SIZE as u32 + 10) {
            r.remember(1000 + pid, "x".into(), "x".into());
        }
        assert_eq!(r.execs.len(), PARENT_CACHE_SIZE);
        assert!(!r.execs.contains_key(&100));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ironpost-resolver-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
