//! Action records: what a responder planned or did about an alert, kept for audit.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    /// Decided, waiting for approval or for a worker.
    Planned,
    /// Recorded but not carried out, because dry-run is on.
    DryRun,
    /// Carried out.
    Done,
    /// Tried and failed; `error` says why.
    Failed,
    /// Undone by a release.
    Released,
    /// Not carried out because a safeguard (cooldown, circuit breaker, protection) held.
    Suppressed,
}

impl ActionState {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionState::Planned => "planned",
            ActionState::DryRun => "dry_run",
            ActionState::Done => "done",
            ActionState::Failed => "failed",
            ActionState::Released => "released",
            ActionState::Suppressed => "suppressed",
        }
    }
}

impl fmt::Display for ActionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One action taken (or planned) by a responder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// Unique id of this record.
    pub id: String,
    /// The alert that triggered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<String>,
    /// The host that acted.
    pub host: String,
    /// The responder (`container_guard`, `xdp_block`, ...).
    pub module: String,
    /// The action (`network_isolate`, `pause`, `block`, ...).
    pub action: String,
    /// What it acted on (container id, address or prefix).
    pub target: String,
    /// Where it stands.
    pub state: ActionState,
    /// The policy that chose it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Action-specific details (saved networks, snapshot image, TTL, ...).
    #[serde(default)]
    pub details: serde_json::Value,
    /// When the record was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed state.
    pub updated_at: DateTime<Utc>,
}
