//! The exec tracer: every successful exec on the host, from the `sched_process_exec` BTF
//! tracepoint (`bpf/exec.bpf.c`), as pid, parent pid, uid, gid, cgroup id, executable path and
//! argument vector (cut at [`abi::EXEC_ARGS_MAX`] bytes and flagged).
//!
//! [`process::ProcessResolver`] turns each into a `ProcessEvent` with Sigma's `process_creation`
//! fields (parent image and command line from a cache of earlier execs or `/proc`, user name,
//! working directory, container id).

pub mod abi;
pub mod process;

use aya::maps::{MapData, MapError, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, ProgramError};
use aya::{Btf, Ebpf};

use aya::maps::{Array, HashMap};

use abi::{
    EXEC_PREFIX_LEN_MAX, EXEC_PREFIXES_MAX, EXEC_STAT_EVENTS, EXEC_STAT_FILTERED,
    EXEC_STAT_RINGBUF_FULL, ExecPathPrefix, RawExec,
};

/// Execs the kernel drops before they reach userspace: it saves the ring buffer and the
/// resolution work. Prefixes beyond [`EXEC_PREFIXES_MAX`] or longer than
/// [`EXEC_PREFIX_LEN_MAX`] bytes are left to userspace filtering, which always applies them all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelFilters {
    /// User ids whose execs are not reported.
    pub uids: Vec<u32>,
    /// Executable path prefixes whose execs are not reported.
    pub path_prefixes: Vec<String>,
}

/// The compiled exec tracer, embedded at build time.
pub static EXEC_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/exec.bpf.o"));

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
}

impl Exec {
    /// Decodes a raw record (lossy UTF-8).
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
}

/// The exec tracer, loaded and attached.
pub struct ExecTracer {
    _ebpf: Ebpf,
    events: RingBuf<MapData>,
    stats: PerCpuArray<MapData, u64>,
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
        let mut ebpf = Ebpf::load(EXEC_OBJECT).map_err(|e| ExecError::Load(Box::new(e)))?;
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
        Ok(ExecTracer {
            _ebpf: ebpf,
            events,
            stats,
        })
    }

    /// The next exec waiting in the ring buffer, without blocking.
    pub fn try_next(&mut self) -> Option<Exec> {
        loop {
            let item = self.events.next()?;
            if let Some(raw) = RawExec::from_bytes(&item) {
                return Some(Exec::from_raw(&raw));
            }
        }
    }

    /// Reads execs through tokio's `AsyncFd` until `shutdown` resolves, handing each to
    /// `on_exec`, and every second the kernel's counts to `on_counts`.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()>,
        on_exec: &mut (dyn FnMut(Exec) + Send),
        on_counts: &mut (dyn FnMut(ExecCounts) + Send),
    ) -> Result<(), ExecError> {
        let ExecTracer {
            _ebpf,
            events,
            stats,
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
            })
        };
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                guard = ring.readable_mut() => {
                    let mut guard = guard.map_err(ExecError::Poll)?;
                    while let Some(item) = guard.get_inner_mut().next() {
                        if let Some(raw) = RawExec::from_bytes(&item) {
                            on_exec(Exec::from_raw(&raw));
                        }
                    }
                    guard.clear_ready();
                }
                _ = tick.tick() => {
                    on_counts(counts(&stats)?);
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
