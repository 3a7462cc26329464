//! Container response for Ironpost: Docker inventory, attribution, policies and actions.
//!
//! This crate will own the Docker client, the live container inventory (from the API and its
//! events stream), the attribution of alerts to containers, the response policies and their
//! action ladder (network isolate, pause, snapshot, stop, kill) with safeguards and release, and
//! the audit records of every action.
