//! Sigma detection for Ironpost: rule loading, compilation, evaluation and correlation.
//!
//! This crate will own the whole Sigma path, in three stages kept apart: loading and validating
//! rule YAML (every refusal names the file and the reason), compiling detections into matchers,
//! and evaluating them against any [`ironpost_core::FieldSource`] — a log record, a process event
//! or a network event — plus correlation windows with bounded state. It does no I/O and uses no
//! async runtime, so the daemon, the CLI and the benchmarks drive it alike.
