//! Mapping processes to containers through cgroups, and finding the daemon's own container.
//!
//! The exec tracer reports a process's cgroup id: the inode of its directory in the unified
//! (v2) hierarchy, which is what `bpf_get_current_cgroup_id` answers on both pure v2 and hybrid
//! hosts. The inventory learns each container's cgroup path from `/proc/<pid>/cgroup` of its
//! init process and the inode of that directory under the cgroup2 mount.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The path of the unified-hierarchy line (`0::/path`) of a `/proc/<pid>/cgroup` text.
pub fn unified_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// The mount point of the cgroup2 file system in a `/proc/self/mountinfo` text.
pub fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // Fields: id parent major:minor root mount-point options [optional...] - fstype ...
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        left.split_whitespace().nth(4).map(PathBuf::from)
    })
}

/// The first 64-hex-digit run in `text` that stands alone between separators: how Docker
/// names a container in cgroup paths (`/docker/<id>`, `docker-<id>.scope`) and in mount paths.
pub fn container_id_in(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut start = None;
    for (i, b) in bytes
        .iter()
        .enumerate()
        .chain(std::iter::once((bytes.len(), &b'/')))
    {
        if b.is_ascii_hexdigit() && b.is_ascii_lowercase() || b.is_ascii_digit() {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take()
            && i - s == 64
        {
            return Some(&text[s..i]);
        }
    }
    None
}

/// The cgroup path and cgroup id of process `pid`, when the host has a cgroup2 hierarchy.
pub fn of_process(pid: u32) -> Option<(String, Option<u64>)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let path = unified_path(&text)?.to_owned();
    let id = std::fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|m| cgroup2_mount(&m))
        .and_then(|mount| std::fs::metadata(mount.join(path.trim_start_matches('/'))).ok())
        .map(|m| m.ino());
    Some((path, id))
}

/// The id of the container this process runs in, if it runs in one: from its cgroup, else
/// from the bind mounts Docker makes of `/etc/hostname` and friends.
pub fn own_container_id() -> Option<String> {
    own_container_id_from(Path::new("/proc/self"))
}

fn own_container_id_from(proc_self: &Path) -> Option<String> {
    if let Ok(text) = std::fs::read_to_string(proc_self.join("cgroup")) {
        for line in text.lines() {
            let path = line.splitn(3, ':').nth(2).unwrap_or("");
            if (path.contains("docker") || path.contains("containerd"))
                && let Some(id) = container_id_in(path)
            {
                return Some(id.to_owned());
            }
        }
    }
    let mounts = std::fs::read_to_string(proc_self.join("mountinfo")).ok()?;
    mounts.lines().find_map(|line| {
        let root = line.split_whitespace().nth(3)?;
        let (_, rest) = root.split_once("/containers/")?;
        container_id_in(rest).map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "8826ac2fe0716a0347afa7d3ea33f53a8ac0928ea29ceb990f49c27c32966718";

    #[test]
    fn finds_the_unified_path_and_the_container_id() {
        let text = format!("9:name=systemd:/docker/{ID}\n1:cpu:/docker/{ID}\n0::/docker/{ID}\n");
        assert_eq!(unified_path(&text), Some(format!("/docker/{ID}").as_str()));
        assert_eq!(unified_path("1:cpu:/\n"), None);
        assert_eq!(container_id_in(&format!("/docker/{ID}")), Some(ID));
        assert_eq!(
            container_id_in(&format!("/system.slice/docker-{ID}.scope")),
            Some(ID)
        );
        // 63 or 65 digits are not a container id.
        assert_eq!(container_id_in(&format!("/docker/{}", &ID[1..])), None);
        assert_eq!(container_id_in(&format!("/docker/{ID}0")), None);
        assert_eq!(container_id_in("/user.slice"), None);
    }

    #[test]
    fn finds_the_cgroup2_mount() {
        let mountinfo = "\
30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
40 30 0:35 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw
41 30 0:36 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
";
        assert_eq!(
            cgroup2_mount(mountinfo),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(
            cgroup2_mount("41 30 0:36 / /x rw - cgroup cgroup rw\n"),
            None
        );
    }

    #[test]
    fn finds_its_own_container_from_cgroup_or_mounts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cgroup"), format!("0::/docker/{ID}\n")).unwrap();
        assert_eq!(own_container_id_from(dir.path()).as_deref(), Some(ID));

        // With a private cgroup namespace the cgroup says `/`; the hostname bind mount tells.
        std::fs::write(dir.path().join("cgroup"), "0::/\n").unwrap();
        std::fs::write(
            dir.path().join("mountinfo"),
            format!(
                "600 500 8:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw - ext4 /dev/sda1 rw\n"
            ),
        )
        .unwrap();
        assert_eq!(own_container_id_from(dir.path()).as_deref(), Some(ID));

        std::fs::write(
            dir.path().join("mountinfo"),
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n",
        )
        .unwrap();
        assert_eq!(own_container_id_from(dir.path()), None);
    }

    #[test]
    fn maps_this_process_to_its_cgroup() {
        // Every Linux process has a cgroup; the id exists whenever a cgroup2 hierarchy does.
        let Some((path, _id)) = of_process(std::process::id()) else {
            eprintln!("skipped: this host has no unified cgroup hierarchy line");
            return;
        };
        assert!(path.starts_with('/'));
    }
}
