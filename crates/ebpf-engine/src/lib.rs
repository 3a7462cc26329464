//! The kernel sensors of Ironpost: the XDP network program and the exec tracer.
//!
//! The C programs under `bpf/` are compiled by `build.rs` with clang and embedded in the binary;
//! aya loads them. [`xdp`] is the network sensor: parsing, per-protocol counters, the allow and
//! block lists, in-kernel port-scan and SYN-flood detection, and the ring-buffer reader that
//! turns kernel reports into [`ironpost_core::event::NetworkEvent`]s and alerts. [`exec`] is the
//! exec tracer's kernel side and loader (its [`ironpost_core::event::ProcessEvent`] mapping and
//! daemon module are still to come).

pub mod exec;
pub mod xdp;
