//! The kernel sensors of Ironpost: the XDP network program and the exec tracer.
//!
//! This crate will own the C programs under `bpf/` (compiled by `build.rs` with clang and
//! embedded in the binary), their loading with aya, the typed maps that carry blocklists and
//! thresholds into the kernel, and the ring-buffer readers that turn kernel records into
//! [`ironpost_core::event::NetworkEvent`]s and [`ironpost_core::event::ProcessEvent`]s.
