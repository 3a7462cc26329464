//! The record shared with `bpf/exec_abi.h`, mirrored field for field (checked by
//! `tests/layout.rs` against the object's BTF), and the working directory `bpf/exec.bpf.c`
//! appends to it ([`RawExecRecord`], pinned by static assertions on both sides).

/// `EXEC_FILENAME_MAX`.
pub const EXEC_FILENAME_MAX: usize = 256;
/// `EXEC_ARGS_MAX`: bytes of the argument vector kept per exec.
pub const EXEC_ARGS_MAX: usize = 1024;

/// `EXEC_CWD_MAX`: bytes of the working directory kept per exec; longer ones are cut and flagged.
pub const EXEC_CWD_MAX: usize = 1024;
/// `EXEC_CWD_NAME_MAX`: the longest path component (NAME_MAX and its NUL), and the slack after
/// `EXEC_CWD_MAX` in [`RawExecRecord::cwd`].
pub const EXEC_CWD_NAME_MAX: usize = 256;
/// `EXEC_CWD_DEPTH_MAX`: steps of the kernel's walk up the working directory (components plus
/// mount crossings); deeper ones are cut and flagged.
pub const EXEC_CWD_DEPTH_MAX: usize = 64;

/// `EXEC_CWD_COMPLETE`: the whole working directory was read.
pub const EXEC_CWD_COMPLETE: u8 = 0;
/// `EXEC_CWD_TRUNCATED`: the walk hit [`EXEC_CWD_MAX`] or [`EXEC_CWD_DEPTH_MAX`]; the deepest
/// components are kept.
pub const EXEC_CWD_TRUNCATED: u8 = 1;
/// `EXEC_CWD_UNREADABLE`: the kernel could not read it (no fs, a fault, a detached tree).
pub const EXEC_CWD_UNREADABLE: u8 = 2;

/// `EXEC_EXCLUDE_CGROUPS_MAX`: cgroups the kernel can drop the execs of (least recently used
/// forgotten first; `exec_exclude_cgroups` in `bpf/exec.bpf.c`).
pub const EXEC_EXCLUDE_CGROUPS_MAX: usize = 4096;

/// `EXEC_STAT_EVENTS`: execs reported.
pub const EXEC_STAT_EVENTS: u32 = 0;
/// `EXEC_STAT_RINGBUF_FULL`: execs lost to a full ring buffer.
pub const EXEC_STAT_RINGBUF_FULL: u32 = 1;
/// `EXEC_STAT_FILTERED`: execs the kernel filters dropped.
pub const EXEC_STAT_FILTERED: u32 = 2;
/// `EXEC_STAT_COUNT`.
pub const EXEC_STAT_COUNT: u32 = 3;

/// `EXEC_PREFIXES_MAX`: path prefixes the kernel filters on.
pub const EXEC_PREFIXES_MAX: usize = 8;
/// `EXEC_PREFIX_LEN_MAX`: the longest path prefix the kernel filters on.
pub const EXEC_PREFIX_LEN_MAX: usize = 64;

/// `struct exec_path_prefix`: one excluded path prefix; `len` 0 marks an unused slot.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ExecPathPrefix {
    /// Bytes of `bytes` used.
    pub len: u32,
    /// The prefix.
    pub bytes: [u8; EXEC_PREFIX_LEN_MAX],
}

// SAFETY: repr(C), integers and bytes only, valid for any bit pattern.
unsafe impl aya::Pod for ExecPathPrefix {}

/// `struct exec_event`: one exec.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawExec {
    /// CLOCK_MONOTONIC nanoseconds.
    pub timestamp_ns: u64,
    /// The cgroup (v2) id of the process.
    pub cgroup_id: u64,
    /// Process id (thread group id).
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Real user id.
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// Bytes of `args` used.
    pub args_len: u32,
    /// 1 when the argument vector was cut at [`EXEC_ARGS_MAX`].
    pub args_truncated: u8,
    /// Zero.
    pub reserved: [u8; 3],
    /// The executable path as given to exec, NUL-terminated.
    pub filename: [u8; EXEC_FILENAME_MAX],
    /// The argument vector, NUL-separated.
    pub args: [u8; EXEC_ARGS_MAX],
}

/// `struct exec_record` (`bpf/exec.bpf.c`): one ring-buffer record, the exec and then its
/// working directory.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawExecRecord {
    /// The exec.
    pub ev: RawExec,
    /// The process's start time (`task_struct.start_time`, CLOCK_MONOTONIC nanoseconds): with
    /// the pid, it names the process unambiguously.
    pub start_ns: u64,
    /// The parent's start time.
    pub parent_start_ns: u64,
    /// Bytes of `cwd` used.
    pub cwd_len: u32,
    /// [`EXEC_CWD_COMPLETE`], [`EXEC_CWD_TRUNCATED`] or [`EXEC_CWD_UNREADABLE`].
    pub cwd_status: u8,
    /// Zero.
    pub cwd_reserved: [u8; 3],
    /// The working directory's components, deepest first, each NUL-terminated (`b\0a\0` for
    /// `/a/b`; empty for `/`).
    pub cwd: [u8; EXEC_CWD_MAX + EXEC_CWD_NAME_MAX],
}

// The same figures as the _Static_assert lines of bpf/exec.bpf.c.
const _: () = {
    assert!(std::mem::size_of::<RawExec>() == 1320);
    assert!(std::mem::offset_of!(RawExecRecord, start_ns) == 1320);
    assert!(std::mem::offset_of!(RawExecRecord, parent_start_ns) == 1328);
    assert!(std::mem::offset_of!(RawExecRecord, cwd_len) == 1336);
    assert!(std::mem::offset_of!(RawExecRecord, cwd_status) == 1340);
    assert!(std::mem::offset_of!(RawExecRecord, cwd) == 1344);
    assert!(std::mem::size_of::<RawExecRecord>() == 2624);
};

impl RawExecRecord {
    /// `(start_ns, parent_start_ns)` of a record's bytes.
    pub fn start_times(bytes: &[u8]) -> Option<(u64, u64)> {
        let at = |offset: usize| -> Option<u64> {
            Some(u64::from_ne_bytes(
                bytes.get(offset..offset + 8)?.try_into().ok()?,
            ))
        };
        Some((
            at(std::mem::offset_of!(RawExecRecord, start_ns))?,
            at(std::mem::offset_of!(RawExecRecord, parent_start_ns))?,
        ))
    }

    /// The working directory's bytes, `(components deepest first, status)`: `cwd_len` bytes of
    /// `cwd`, clamped to [`EXEC_CWD_MAX`].
    pub fn cwd_parts(bytes: &[u8]) -> Option<(&[u8], u8)> {
        let tail = bytes.get(std::mem::offset_of!(RawExecRecord, cwd_len)..)?;
        let len = u32::from_ne_bytes(tail.get(..4)?.try_into().ok()?) as usize;
        let status = *tail.get(4)?;
        let cwd = bytes.get(std::mem::offset_of!(RawExecRecord, cwd)..)?;
        Some((cwd.get(..len.min(EXEC_CWD_MAX))?, status))
    }
}

impl RawExec {
    /// Decodes a ring-buffer record; `None` when it is shorter than the record.
    pub fn from_bytes(bytes: &[u8]) -> Option<RawExec> {
        if bytes.len() < std::mem::size_of::<RawExec>() {
            return None;
        }
        // SAFETY: the length is checked above, RawExec is plain old data valid for any bit
        // pattern, and read_unaligned does not need the ring buffer's alignment.
        Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<RawExec>()) })
    }
}
