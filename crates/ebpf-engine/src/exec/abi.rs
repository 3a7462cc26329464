//! The record shared with `bpf/exec_abi.h`, mirrored field for field (checked by
//! `tests/layout.rs` against the object's BTF).

/// `EXEC_FILENAME_MAX`.
pub const EXEC_FILENAME_MAX: usize = 256;
/// `EXEC_ARGS_MAX`: bytes of the argument vector kept per exec.
pub const EXEC_ARGS_MAX: usize = 1024;

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
