//! Log collection for Ironpost: sources, parsers, normalization and checkpoints.
//!
//! This crate will own everything between a log's bytes and an [`ironpost_core::event::LogRecord`]
//! on the event bus: `sources/` (file tail with rotation and checkpoints, syslog over UDP and TCP,
//! JSON lines), `parsers/` (one file per format: RFC 5424, RFC 3164, auditd, JSON, vendor
//! headers) and `normalize/` (the fields detection needs from sshd, sudo, PAM and friends).
