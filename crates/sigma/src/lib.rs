//! Sigma detection for Ironpost: rule loading, compilation, evaluation and correlation.
//!
//! Events reach this crate after parsing and normalization, and alerts leave it for the alert
//! bus. The work is split in three stages kept apart:
//!
//! 1. **Loading** ([`Loader`]): rule YAML is parsed and validated; every refused file is named
//!    with a precise reason, as invalid (not Sigma) or unsupported (Sigma this engine does not
//!    evaluate). The result is a [`ValidationReport`].
//! 2. **Compilation**: each detection is compiled once per field naming of the log sources it
//!    routes to ([`LogSourceMap`], a documented YAML file a user can extend), into matchers that
//!    evaluate any [`ironpost_core::FieldSource`] without copying the event.
//! 3. **Evaluation** ([`Engine`]): an event is routed by its log source to the rules that name
//!    it; matches feed correlation windows (event_count, value_count, temporal,
//!    temporal_ordered, value_sum, value_avg) kept under a memory cap with counted LRU eviction;
//!    alerts get deterministic ids and are suppressed per (rule, group key) for a window.
//!
//! The crate does no I/O and uses no async runtime, so the daemon, the CLI and the benchmarks
//! drive it alike: callers read files and hand their text to [`Loader::add_file`].

mod condition;
mod correlation;
mod engine;
pub mod error;
pub mod examples;
mod load;
pub mod logsource;
mod matcher;
mod prefilter;
pub mod rule;

pub use engine::{Engine, EngineConfig, EngineStats, SigmaAlert};
pub use error::{LoadError, MappingError, RefusalKind};
pub use load::{FileReport, FileStatus, Loader, ValidationReport};
pub use logsource::{DEFAULT_MAPPING, LogSource, LogSourceMap};
