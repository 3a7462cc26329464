//! The exec tracer: every successful exec on the host, from the `sched_process_exec` BTF
//! tracepoint (`bpf/exec.bpf.c`), as pid, parent pid, uid, gid, cgroup id, executable path,
//! argument vector (cut at [`abi::EXEC_ARGS_MAX`] bytes and flagged) and working directory (read
//! in the kernel, cut at [`abi::EXEC_CWD_MAX`] bytes or [`abi::EXEC_CWD_DEPTH_MAX`] steps and
//! flagged).
//!
//! [`process::ProcessResolver`] turns each into a `ProcessEvent` with Sigma's `process_creation`
//! fields (parent image and command line from a cache of earlier execs or `/proc`, user name,
//! container id; the working directory from `/proc` only when the kernel could not read it
//! whole).

pub mod abi;
pub mod process;

use std::os::fd::AsRawFd;
use std::time::Duration;

use aya::maps::{MapData, MapError, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, ProgramError};
use aya::{Btf, Ebpf};

use aya::maps::{Array, HashMap};

use abi::{
    EXEC_CWD_COMPLETE, EXEC_CWD_TRUNCATED, EXEC_PREFIX_LEN_MAX, EXEC_PREFIXES_MAX,
    EXEC_STAT_EVENTS, EXEC_STAT_FILTERED, EXEC_STAT_RINGBUF_FULL, ExecPathPrefix, RawExec,
    RawExecRecord,
};

/// Execs the kernel drops before they reach userspace: it saves the ring buffer and the
/// resolution work. Prefixes beyond [`EXEC_PREFIXES_MAX`] or longer than
/// [`EXEC_PREFIX_LEN_MAX`] bytes are left to userspace filtering, which always applies them all.
/// Containers are filtered by cgroup, learnt while the tracer runs: see [`CgroupFilter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelFilters {
    /// User ids whose execs are not reported.
    pub uids: Vec<u32>,
    /// Executable path prefixes whose execs are not reported.
    pub path_prefixes: Vec<String>,
    /// Bytes of the argument vector kept per exec, at most [`abi::EXEC_ARGS_MAX`] (0: that
    /// maximum); a longer vector is cut and flagged.
    pub max_args_bytes: usize,
}

/// The kernel's set of cgroup (v2) ids whose execs are dropped before anything is recorded:
/// how excluded containers are filtered in the kernel. The container of an exec is known only
/// in userspace (from `/proc/<pid>/cgroup`), so userspace adds a container's cgroup here once
/// it has attributed an exec of that cgroup to an excluded container (see
/// [`process::ProcessResolver::unified_container`]); the first execs of a container still reach
/// userspace, whose filter stays authoritative.
pub struct CgroupFilter {
    map: HashMap<MapData, u64, u8>,
}

impl std::fmt::Debug for CgroupFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CgroupFilter").finish_non_exhaustive()
    }
}

impl CgroupFilter {
    /// Drops the execs of cgroup `cgroup_id` in the kernel from now on. Refuses 0 and 1, the
    /// root cgroup's id (the id of every process where no cgroup v2 hierarchy is used); keeps at
    /// most [`abi::EXEC_EXCLUDE_CGROUPS_MAX`], forgetting the least recently used.
    pub fn exclude(&mut self, cgroup_id: u64) -> Result<(), ExecError> {
        if cgroup_id <= 1 {
            return Ok(());
        }
        self.map
            .insert(cgroup_id, 1, 0)
            .map_err(|e| ExecError::Map {
                name: "exec_exclude_cgroups",
                source: Box::new(e),
            })
    }
}

/// The compiled exec tracer, embedded at build time.
pub static EXEC_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/exec.bpf.o"));

/// How often a reader drains the ring buffer without being woken. The kernel wakes readers for
/// an exec only when 10 ms have passed since its last wake-up or 64 records are waiting (a
/// wake-up is a self-IPI, a VM exit in a virtual machine: several times the cost of the rest of
/// the program); the tail of a burst that comes sooner waits for this timer. It bounds how late
/// an exec is read.
pub const DRAIN_INTERVAL: Duration = Duration::from_millis(50);

/// The program's name in the object.
pub const EXEC_PROGRAM_NAME: &str = "ironpost_exec";

/// What failed while loading or attaching the tracer.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The kernel's BTF (`/sys/kernel/btf/vmlinux`) is unreadable: CO-RE cannot relocate.
    #[error("reading the kernel's BTF (/sys/kernel/btf/vmlinux): {0}")]
    Btf(#[source] aya::BtfError),
    /// The object did not load.
    #[error("loading the exec tracer object: {0}")]
    Load(#[source] Box<aya::EbpfError>),
    /// The program was refused or could not attach.
    #[error("exec tracer program: {0}")]
    Program(#[source] Box<ProgramError>),
    /// Polling the ring buffer failed.
    #[error("polling the exec ring buffer: {0}")]
    Poll(#[source] std::io::Error),
    /// The object lacks a program or map this code expects.
    #[error("the exec tracer object has no {0}")]
    Missing(&'static str),
    /// A map is missing or of another type.
    #[error("exec tracer map `{name}`: {source}")]
    Map {
        /// The map name.
        name: &'static str,
        /// The cause.
        #[source]
        source: Box<MapError>,
    },
}

/// The working directory of an exec, as the kernel read it when the exec happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelCwd {
    /// The absolute path, from the process's root (inside a chroot or a container's mount
    /// namespace, the path the process itself sees). A directory removed while it was the
    /// working directory keeps the path it had (where `/proc` adds ` (deleted)`).
    Path(String),
    /// The walk was cut (the path is longer than [`abi::EXEC_CWD_MAX`] bytes or deeper than
    /// [`abi::EXEC_CWD_DEPTH_MAX`] steps): its deepest components as a relative path, `c/d` of
    /// `/a/b/c/d`.
    Truncated(String),
    /// The kernel could not read it.
    Unreadable,
}

impl KernelCwd {
    /// Decodes the record's components (deepest first, NUL-terminated) and status.
    fn decode(components: &[u8], status: u8) -> KernelCwd {
        let components = components.strip_suffix(&[0]).unwrap_or(components);
        let mut path = Vec::with_capacity(components.len() + 1);
        if !components.is_empty() {
            for c in components.rsplit(|b| *b == 0) {
                path.push(b'/');
                path.extend_from_slice(c);
            }
        }
        match status {
            EXEC_CWD_COMPLETE if path.is_empty() => KernelCwd::Path("/".to_owned()),
            EXEC_CWD_COMPLETE => KernelCwd::Path(String::from_utf8_lossy(&path).into_owned()),
            EXEC_CWD_TRUNCATED => {
                KernelCwd::Truncated(String::from_utf8_lossy(path.get(1..).unwrap_or(&[])).into())
            }
            _ => KernelCwd::Unreadable,
        }
    }
}

/// One exec as reported by the kernel, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Real user id.
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// The process's cgroup (v2) id.
    pub cgroup_id: u64,
    /// The executable path as given to exec.
    pub filename: String,
    /// The argument vector.
    pub argv: Vec<String>,
    /// True when the argument vector was cut.
    pub argv_truncated: bool,
    /// The working directory.
    pub cwd: KernelCwd,
    /// The process's start time (CLOCK_MONOTONIC ns; 0 when unknown): with the pid, it names the
    /// process unambiguously.
    pub start_ns: u64,
    /// The parent's start time (0 when unknown).
    pub parent_start_ns: u64,
}

impl Exec {
    /// Decodes a ring-buffer record ([`RawExecRecord`]: the exec and its working directory);
    /// `None` when it is shorter than the record.
    pub fn from_record(bytes: &[u8]) -> Option<Exec> {
        if bytes.len() < std::mem::size_of::<RawExecRecord>() {
            return None;
        }
        let mut exec = Exec::from_raw(&RawExec::from_bytes(bytes)?);
        let (components, status) = RawExecRecord::cwd_parts(bytes)?;
        exec.cwd = KernelCwd::decode(components, status);
        (exec.start_ns, exec.parent_start_ns) = RawExecRecord::start_times(bytes)?;
        Some(exec)
    }

    /// Decodes the exec part of a record (lossy UTF-8); the working directory is
    /// [`KernelCwd::Unreadable`], the start times 0.
    pub fn from_raw(raw: &RawExec) -> Exec {
        let name_end = raw
            .filename
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(raw.filename.len());
        let args = &raw.args[..(raw.args_len as usize).min(raw.args.len())];
        let args = args.strip_suffix(&[0]).unwrap_or(args);
        let argv = if args.is_empty() {
            Vec::new()
        } else {
            args.split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        };
        Exec {
            pid: raw.pid,
            ppid: raw.ppid,
            uid: raw.uid,
            gid: raw.gid,
            cgroup_id: raw.cgroup_id,
            filename: String::from_utf8_lossy(&raw.filename[..name_end]).into_owned(),
            argv,
            argv_truncated: raw.args_truncated != 0,
            cwd: KernelCwd::Unreadable,
            start_ns: 0,
            parent_start_ns: 0,
        }
    }

    /// The command line: the arguments joined by spaces.
    pub fn command_line(&self) -> String {
        self.argv.join(" ")
    }
}

/// The kernel's counts of the tracer, summed over every CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecCounts {
    /// Execs put on the ring buffer.
    pub reported: u64,
    /// Execs lost to a full ring buffer.
    pub lost: u64,
    /// Execs dropped by the kernel filters.
    pub filtered: u64,
    /// Ring-buffer records too short to decode, skipped (counted by the reader, not the kernel).
    pub undecodable: u64,
}

/// The exec tracer, loaded and attached.
pub struct ExecTracer {
    ebpf: Ebpf,
    events: RingBuf<MapData>,
    stats: PerCpuArray<MapData, u64>,
    cgroups: Option<CgroupFilter>,
    /// Records skipped because they could not be decoded.
    undecodable: u64,
}

impl std::fmt::Debug for ExecTracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecTracer").finish_non_exhaustive()
    }
}

impl ExecTracer {
    /// Loads the tracer, relocated against the running kernel's BTF, and attaches it.
    pub fn attach() -> Result<ExecTracer, ExecError> {
        ExecTracer::attach_with(&KernelFilters::default())
    }

    /// As [`ExecTracer::attach`], with `filters` applied in the kernel.
    pub fn attach_with(filters: &KernelFilters) -> Result<ExecTracer, ExecError> {
        let btf = Btf::from_sys_fs().map_err(ExecError::Btf)?;
        let args_max = match filters.max_args_bytes {
            0 => abi::EXEC_ARGS_MAX,
            n => n.min(abi::EXEC_ARGS_MAX),
        } as u32;
        let mut ebpf = aya::EbpfLoader::new()
            .override_global("exec_args_max", &args_max, true)
            .load(EXEC_OBJECT)
            .map_err(|e| ExecError::Load(Box::new(e)))?;
        {
            let map = ebpf
                .map_mut("exec_exclude_uids")
                .ok_or(ExecError::Missing("map exec_exclude_uids"))?;
            let mut uids: HashMap<&mut MapData, u32, u8> =
                HashMap::try_from(map).map_err(|e| ExecError::Map {
                    name: "exec_exclude_uids",
                    source: Box::new(e),
                })?;
            for uid in &filters.uids {
                uids.insert(uid, 1, 0).map_err(|e| ExecError::Map {
                    name: "exec_exclude_uids",
                    source: Box::new(e),
                })?;
            }
        }
        {
            let map = ebpf
                .map_mut("exec_exclude_paths")
                .ok_or(ExecError::Missing("map exec_exclude_paths"))?;
            let mut paths: Array<&mut MapData, ExecPathPrefix> =
                Array::try_from(map).map_err(|e| ExecError::Map {
                    name: "exec_exclude_paths",
                    source: Box::new(e),
                })?;
            let fitting = filters
                .path_prefixes
                .iter()
                .filter(|p| !p.is_empty() && p.len() <= EXEC_PREFIX_LEN_MAX)
                .take(EXEC_PREFIXES_MAX);
            for (i, prefix) in fitting.enumerate() {
                let mut slot = ExecPathPrefix {
                    len: prefix.len() as u32,
                    bytes: [0; EXEC_PREFIX_LEN_MAX],
                };
                slot.bytes[..prefix.len()].copy_from_slice(prefix.as_bytes());
                paths.set(i as u32, slot, 0).map_err(|e| ExecError::Map {
                    name: "exec_exclude_paths",
                    source: Box::new(e),
                })?;
            }
        }
        let program: &mut BtfTracePoint = ebpf
            .program_mut(EXEC_PROGRAM_NAME)
            .ok_or(ExecError::Missing("program ironpost_exec"))?
            .try_into()
            .map_err(|e| ExecError::Program(Box::new(e)))?;
        program
            .load("sched_process_exec", &btf)
            .map_err(|e| ExecError::Program(Box::new(e)))?;
        program
            .attach()
            .map_err(|e| ExecError::Program(Box::new(e)))?;
        let map_err = |name: &'static str| {
            move |source: MapError| ExecError::Map {
                name,
                source: Box::new(source),
            }
        };
        let events = ebpf
            .take_map("exec_events")
            .ok_or(ExecError::Missing("map exec_events"))?;
        let events = RingBuf::try_from(events).map_err(map_err("exec_events"))?;
        let stats = ebpf
            .take_map("exec_stats")
            .ok_or(ExecError::Missing("map exec_stats"))?;
        let stats = PerCpuArray::try_from(stats).map_err(map_err("exec_stats"))?;
        let cgroups = ebpf
            .take_map("exec_exclude_cgroups")
            .ok_or(ExecError::Missing("map exec_exclude_cgroups"))?;
        let cgroups = HashMap::try_from(cgroups).map_err(map_err("exec_exclude_cgroups"))?;
        Ok(ExecTracer {
            ebpf,
            events,
            stats,
            cgroups: Some(CgroupFilter { map: cgroups }),
            undecodable: 0,
        })
    }

    /// The kernel's cgroup filter, to fill while the tracer runs (once: later calls answer
    /// `None`).
    pub fn cgroup_filter(&mut self) -> Option<CgroupFilter> {
        self.cgroups.take()
    }

    /// The next exec waiting in the ring buffer, without blocking. A record that cannot be
    /// decoded is skipped and counted ([`ExecTracer::undecodable`]).
    pub fn try_next(&mut self) -> Option<Exec> {
        loop {
            let item = self.events.next()?;
            if let Some(exec) = Exec::from_record(&item) {
                return Some(exec);
            }
            self.undecodable += 1;
        }
    }

    /// Ring-buffer records skipped so far because they could not be decoded.
    pub fn undecodable(&self) -> u64 {
        self.undecodable
    }

    /// Blocks (in `poll(2)` on the ring buffer's descriptor, woken by the kernel) until the
    /// kernel signals execs or `timeout` has passed; true when it signalled. For a reading thread
    /// of its own, which should drain with [`ExecTracer::try_next`] after every return, signalled
    /// or not, and wait at most [`DRAIN_INTERVAL`]: the kernel does not signal every exec.
    /// [`ExecTracer::run`] is the async equivalent.
    pub fn wait(&self, timeout: Duration) -> Result<bool, ExecError> {
        let mut fd = libc::pollfd {
            fd: self.events.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, on a descriptor the ring buffer keeps open.
        let n = unsafe { libc::poll(&mut fd, 1, ms) };
        match n {
            n if n > 0 => Ok(true),
            0 => Ok(false),
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    Ok(false)
                } else {
                    Err(ExecError::Poll(e))
                }
            }
        }
    }

    /// The kernel's run-time statistics of the program: `(total time, runs)`. Both stay zero
    /// unless BPF statistics are enabled (`aya::sys::enable_stats`, or the
    /// `kernel.bpf_stats_enabled` sysctl) while it runs.
    pub fn program_run_stats(&self) -> Result<(Duration, u64), ExecError> {
        let program: &BtfTracePoint = self
            .ebpf
            .program(EXEC_PROGRAM_NAME)
            .ok_or(ExecError::Missing("program ironpost_exec"))?
            .try_into()
            .map_err(|e| ExecError::Program(Box::new(e)))?;
        let info = program
            .info()
            .map_err(|e| ExecError::Program(Box::new(e)))?;
        Ok((info.run_time(), info.run_count()))
    }

    /// Reads execs through tokio's `AsyncFd` (and every [`DRAIN_INTERVAL`]) until `shutdown`
    /// resolves, handing each to `on_exec`, and every second the kernel's counts to `on_counts`.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()>,
        on_exec: &mut (dyn FnMut(Exec) + Send),
        on_counts: &mut (dyn FnMut(ExecCounts) + Send),
    ) -> Result<(), ExecError> {
        let ExecTracer {
            ebpf: _ebpf,
            events,
            stats,
            cgroups: _cgroups,
            mut undecodable,
        } = self;
        // SAFETY: the ring buffer owns its map's file descriptor, keeps it open for its whole
        // life and always answers the same descriptor.
        let mut ring = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(events, tokio::io::Interest::READABLE)
        }
        .map_err(|e| ExecError::Poll(e.into_parts().1))?;
        let counts = |stats: &PerCpuArray<MapData, u64>| -> Result<ExecCounts, ExecError> {
            let sum = |i: u32| -> Result<u64, ExecError> {
                Ok(stats
                    .get(&i, 0)
                    .map_err(|e| ExecError::Map {
                        name: "exec_stats",
                        source: Box::new(e),
                    })?
                    .iter()
                    .sum())
            };
            Ok(ExecCounts {
                reported: sum(EXEC_STAT_EVENTS)?,
                lost: sum(EXEC_STAT_RINGBUF_FULL)?,
                filtered: sum(EXEC_STAT_FILTERED)?,
                undecodable: 0,
            })
        };
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        let mut drain = tokio::time::interval(DRAIN_INTERVAL);
        drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                guard = ring.readable_mut() => {
                    let mut guard = guard.map_err(ExecError::Poll)?;
                    while let Some(item) = guard.get_inner_mut().next() {
                        match Exec::from_record(&item) {
                            Some(exec) => on_exec(exec),
                            None => undecodable += 1,
                        }
                    }
                    guard.clear_ready();
                }
                _ = drain.tick() => {
                    while let Some(item) = ring.get_mut().next() {
                        match Exec::from_record(&item) {
                            Some(exec) => on_exec(exec),
                            None => undecodable += 1,
                        }
                    }
                }
                _ = tick.tick() => {
                    on_counts(ExecCounts {
                        undecodable,
                        ..counts(&stats)?
                    });
                }
            }
        }
    }

    /// Execs the kernel filters dropped, summed over every CPU.
    pub fn filtered(&self) -> Result<u64, ExecError> {
        Ok(self
            .stats
            .get(&EXEC_STAT_FILTERED, 0)
            .map_err(|e| ExecError::Map {
                name: "exec_stats",
                source: Box::new(e),
            })?
            .iter()
            .sum())
    }

    /// Execs reported and execs lost to a full ring buffer, summed over every CPU.
    pub fn counts(&self) -> Result<(u64, u64), ExecError> {
        let sum = |i: u32| -> Result<u64, ExecError> {
            Ok(self
                .stats
                .get(&i, 0)
                .map_err(|e| ExecError::Map {
                    name: "exec_stats",
                    source: Box::new(e),
                })?
                .iter()
                .sum())
        };
        Ok((sum(EXEC_STAT_EVENTS)?, sum(EXEC_STAT_RINGBUF_FULL)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::{EXEC_CWD_MAX, EXEC_CWD_UNREADABLE};

    #[test]
    fn working_directories_are_rebuilt_from_the_deepest_component_up() {
        let path = |s: &str| KernelCwd::Path(s.to_owned());
        assert_eq!(
            KernelCwd::decode(b"b\0a\0", EXEC_CWD_COMPLETE),
            path("/a/b")
        );
        assert_eq!(KernelCwd::decode(b"tmp\0", EXEC_CWD_COMPLETE), path("/tmp"));
        assert_eq!(KernelCwd::decode(b"", EXEC_CWD_COMPLETE), path("/"));
        assert_eq!(
            KernelCwd::decode(b"d\0c\0", EXEC_CWD_TRUNCATED),
            KernelCwd::Truncated("c/d".into())
        );
        assert_eq!(
            KernelCwd::decode(b"", EXEC_CWD_TRUNCATED),
            KernelCwd::Truncated(String::new())
        );
        assert_eq!(
            KernelCwd::decode(b"x\0", EXEC_CWD_UNREADABLE),
            KernelCwd::Unreadable
        );
    }

    #[test]
    fn a_record_decodes_with_its_working_directory() {
        let mut bytes = vec![0u8; std::mem::size_of::<RawExecRecord>()];
        let put = |b: &mut Vec<u8>, at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);
        put(
            &mut bytes,
            std::mem::offset_of!(RawExec, pid),
            &7u32.to_ne_bytes(),
        );
        put(
            &mut bytes,
            std::mem::offset_of!(RawExec, filename),
            b"/bin/true\0",
        );
        let cwd = b"c d\0b\0a\0";
        put(
            &mut bytes,
            std::mem::offset_of!(RawExecRecord, cwd_len),
            &(cwd.len() as u32).to_ne_bytes(),
        );
        put(&mut bytes, std::mem::offset_of!(RawExecRecord, cwd), cwd);
        put(
            &mut bytes,
            std::mem::offset_of!(RawExecRecord, start_ns),
            &11u64.to_ne_bytes(),
        );
        put(
            &mut bytes,
            std::mem::offset_of!(RawExecRecord, parent_start_ns),
            &5u64.to_ne_bytes(),
        );
        let e = Exec::from_record(&bytes).unwrap();
        assert_eq!((e.pid, e.filename.as_str()), (7, "/bin/true"));
        assert_eq!((e.start_ns, e.parent_start_ns), (11, 5));
        assert_eq!(e.cwd, KernelCwd::Path("/a/b/c d".into()));
        // A length past EXEC_CWD_MAX (never written by the kernel) is clamped, not trusted.
        put(
            &mut bytes,
            std::mem::offset_of!(RawExecRecord, cwd_len),
            &(EXEC_CWD_MAX as u32 + 100).to_ne_bytes(),
        );
        assert!(Exec::from_record(&bytes).is_some());
        assert!(Exec::from_record(&bytes[..bytes.len() - 1]).is_none());
    }

    /// Runs `cmd` (whose last argument is `marker`) and returns the kernel's working directory
    /// of the exec whose argument vector ends with `marker`.
    fn cwd_of(t: &mut ExecTracer, mut cmd: std::process::Command, marker: &str) -> KernelCwd {
        let status = cmd.status().expect("spawning");
        assert!(status.success(), "{cmd:?}: {status}");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            while let Some(e) = t.try_next() {
                if e.argv.last().map(String::as_str) == Some(marker) && e.filename == "/bin/true" {
                    return e.cwd;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exec of {marker} seen"
            );
            t.wait(Duration::from_millis(100)).unwrap();
        }
    }

    /// `unshare -m /bin/sh -c SCRIPT ARGS...`: mounts made by the script stay in a private mount
    /// namespace and vanish with it.
    fn in_private_mount_ns(
        script: &str,
        args: &[&std::path::Path],
        marker: &str,
    ) -> std::process::Command {
        let mut c = std::process::Command::new("unshare");
        c.args(["-m", "/bin/sh", "-c", script])
            .args(args)
            .arg(marker);
        c
    }

    #[test]
    fn the_kernel_reads_the_working_directory_at_exec() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0
            || !std::path::Path::new("/sys/kernel/btf/vmlinux").exists()
        {
            eprintln!("skipped: attaching the exec tracer needs root and BTF");
            return;
        }
        let mut t = ExecTracer::attach().expect("attaching the exec tracer");
        let base = std::env::temp_dir().join(format!("ironpost-exec-cwd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        // The kernel reports the real path.
        let base = std::fs::canonicalize(&base).unwrap();
        let nested = base.join("a/b c/ünï/d/e/f");
        let deep = (0..70).fold(base.join("deep"), |p, i| p.join(format!("d{i}")));
        let long = (0..6).fold(base.join("long"), |p, i| {
            p.join(format!("{i}{}", "x".repeat(200)))
        });
        for d in [&nested, &deep, &long]
            .into_iter()
            .cloned()
            .chain(["tmpfs", "src/sub", "bind", "root/usr"].map(|d| base.join(d)))
        {
            std::fs::create_dir_all(d).unwrap();
        }
        let marker = |case: &str| format!("ironpost-cwd-{}-{case}", std::process::id());
        let run_in = |dir: &std::path::Path, m: &str| {
            let mut c = std::process::Command::new("/bin/true");
            c.arg(m).current_dir(dir);
            c
        };
        let path = |p: &std::path::Path| KernelCwd::Path(p.to_str().unwrap().to_owned());

        let m = marker("nested");
        assert_eq!(cwd_of(&mut t, run_in(&nested, &m), &m), path(&nested));
        let m = marker("root");
        assert_eq!(
            cwd_of(&mut t, run_in(std::path::Path::new("/"), &m), &m),
            KernelCwd::Path("/".into())
        );
        // A tmpfs mounted on the way: the walk crosses from its root to its mount point.
        let m = marker("tmpfs");
        let cmd = in_private_mount_ns(
            r#"mount -t tmpfs ironpost-test "$0" && mkdir -p "$0/x/y" && cd "$0/x/y" && exec /bin/true "$1""#,
            &[&base.join("tmpfs")],
            &m,
        );
        assert_eq!(cwd_of(&mut t, cmd, &m), path(&base.join("tmpfs/x/y")));
        // A bind mount: the path through the mount point, not the source's.
        let m = marker("bind");
        let cmd = in_private_mount_ns(
            r#"mount --bind "$0" "$1" && cd "$1/sub" && exec /bin/true "$2""#,
            &[&base.join("src"), &base.join("bind")],
            &m,
        );
        assert_eq!(cwd_of(&mut t, cmd, &m), path(&base.join("bind/sub")));
        // Under chroot, the path the process sees (from its root), which /proc shows otherwise.
        if std::fs::read_link("/bin").is_ok_and(|l| l.ends_with("usr/bin")) {
            for l in ["bin", "lib", "lib64", "sbin"] {
                std::os::unix::fs::symlink(format!("usr/{l}"), base.join("root").join(l)).unwrap();
            }
            let m = marker("chroot");
            let cmd = in_private_mount_ns(
                r#"mount --bind /usr "$0/usr" && exec chroot "$0" /bin/sh -c 'cd /usr/share && exec /bin/true "$0"' "$1""#,
                &[&base.join("root")],
                &m,
            );
            assert_eq!(
                cwd_of(&mut t, cmd, &m),
                KernelCwd::Path("/usr/share".into())
            );
        }
        // Past EXEC_CWD_DEPTH_MAX steps, and past EXEC_CWD_MAX bytes: the deepest components.
        let m = marker("deep");
        match cwd_of(&mut t, run_in(&deep, &m), &m) {
            KernelCwd::Truncated(tail) => {
                assert!(
                    deep.to_str().unwrap().ends_with(&format!("/{tail}")),
                    "{tail}"
                );
                // Every step a component, but for mount crossings (/tmp may be a mount).
                let kept = tail.split('/').count();
                assert!(
                    (abi::EXEC_CWD_DEPTH_MAX - 3..=abi::EXEC_CWD_DEPTH_MAX).contains(&kept),
                    "{kept}"
                );
            }
            other => panic!("{other:?}"),
        }
        let m = marker("long");
        match cwd_of(&mut t, run_in(&long, &m), &m) {
            KernelCwd::Truncated(tail) => {
                assert!(
                    long.to_str().unwrap().ends_with(&format!("/{tail}")),
                    "{tail}"
                );
                // Whole components of 202 bytes (with their NUL) up to EXEC_CWD_MAX.
                assert!(
                    tail.len() < EXEC_CWD_MAX && tail.len() > EXEC_CWD_MAX - 2 * 202,
                    "{}",
                    tail.len()
                );
            }
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn an_excluded_cgroup_is_dropped_in_the_kernel() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0
            || !std::path::Path::new("/sys/kernel/btf/vmlinux").exists()
        {
            eprintln!("skipped: attaching the exec tracer needs root and BTF");
            return;
        }
        use std::io::{BufRead, Write};
        let mut t = ExecTracer::attach().expect("attaching the exec tracer");
        let mut filter = t.cgroup_filter().expect("the cgroup filter");
        assert!(t.cgroup_filter().is_none());
        let mnt = std::env::temp_dir().join(format!("ironpost-exec-cg-{}", std::process::id()));
        std::fs::create_dir_all(&mnt).unwrap();
        let marker = format!("ironpost-cgroup-{}", std::process::id());
        // In a private mount namespace: mount the cgroup v2 hierarchy, make a cgroup and say its
        // id (its inode), wait, exec /bin/true in it, then remove it.
        let script = r#"mount -t cgroup2 none "$0" || exit 1
            mkdir "$0/ironpost-test-$$" && stat -c %i "$0/ironpost-test-$$" || exit 1
            read go
            /bin/sh -c 'echo $$ > "$0" && exec /bin/true "$1"' "$0/ironpost-test-$$/cgroup.procs" "$1"
            rmdir "$0/ironpost-test-$$""#;
        let mut sh = std::process::Command::new("unshare")
            .args(["-m", "/bin/sh", "-c", script])
            .arg(&mnt)
            .arg(&marker)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(sh.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Ok(cgroup_id) = line.trim().parse::<u64>() else {
            let _ = sh.wait();
            let _ = std::fs::remove_dir(&mnt);
            eprintln!("skipped: no cgroup v2 hierarchy to make a cgroup in");
            return;
        };
        filter.exclude(cgroup_id).unwrap();
        let filtered_before = t.filtered().unwrap();
        writeln!(sh.stdin.take().unwrap(), "go").unwrap();
        assert!(sh.wait().unwrap().success());
        let _ = std::fs::remove_dir(&mnt);
        // An exec after it: once that is read, a record of the filtered one would have been.
        let kept = format!("{marker}-kept");
        std::process::Command::new("/bin/true")
            .arg(&kept)
            .status()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while !seen.iter().any(|e: &Exec| e.argv.last() == Some(&kept)) {
            while let Some(e) = t.try_next() {
                seen.push(e);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the kept exec was not seen"
            );
            t.wait(Duration::from_millis(100)).unwrap();
        }
        // unshare and the shells end with the marker too; /bin/true ran in the cgroup.
        assert!(
            !seen
                .iter()
                .any(|e| e.filename == "/bin/true" && e.argv.last() == Some(&marker)),
            "the exec in the excluded cgroup reached userspace"
        );
        assert!(!seen.iter().any(|e| e.cgroup_id == cgroup_id));
        assert!(t.filtered().unwrap() > filtered_before);
    }

    #[test]
    fn start_times_name_the_parent_process_whichever_thread_forked() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0
            || !std::path::Path::new("/sys/kernel/btf/vmlinux").exists()
        {
            eprintln!("skipped: attaching the exec tracer needs root and BTF");
            return;
        }
        let mut t = ExecTracer::attach().expect("attaching the exec tracer");
        let marker = format!("ironpost-start-{}", std::process::id());
        let run = |m: String| {
            std::process::Command::new("/bin/sh")
                .args(["-c", "/bin/true \"$0\"; true", &m])
                .status()
                .unwrap();
        };
        // From this (test) thread, and from another thread of the same process.
        run(format!("{marker}-a"));
        let m = format!("{marker}-b");
        std::thread::spawn(move || run(m)).join().unwrap();
        let mut seen: Vec<Exec> = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let find = |seen: &[Exec], file: &str, m: &str| {
            seen.iter()
                .find(|e| e.filename == file && e.argv.iter().any(|a| a == m))
                .cloned()
        };
        let (a_sh, a_true, b_sh) = loop {
            while let Some(e) = t.try_next() {
                seen.push(e);
            }
            let a = format!("{marker}-a");
            let b = format!("{marker}-b");
            if let (Some(x), Some(y), Some(z), Some(_)) = (
                find(&seen, "/bin/sh", &a),
                find(&seen, "/bin/true", &a),
                find(&seen, "/bin/sh", &b),
                find(&seen, "/bin/true", &b),
            ) {
                break (x, y, z);
            }
            assert!(std::time::Instant::now() < deadline, "execs not seen");
            t.wait(Duration::from_millis(100)).unwrap();
        };
        assert_ne!(a_sh.start_ns, 0);
        assert_eq!(a_true.parent_start_ns, a_sh.start_ns);
        assert!(a_true.start_ns > a_sh.start_ns);
        assert_eq!(a_sh.parent_start_ns, b_sh.parent_start_ns);
        assert_ne!(a_sh.start_ns, b_sh.start_ns);
    }
}
