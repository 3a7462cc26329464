//! The shared vocabulary of Ironpost.
//!
//! Every sensor produces an [`Event`](event::Event): a log record, a process execution, a network
//! observation or a container state change. Detection reads events through one field-access
//! interface, [`FieldSource`](event::FieldSource), so a Sigma rule can be evaluated on any kind of
//! event without copying it into a map. A detection yields an [`Alert`](alert::Alert) whose id is
//! deterministic; a responder answers with [`ActionRecord`](action::ActionRecord)s; the scanner
//! yields [`ScanFinding`](finding::ScanFinding)s.
//!
//! Between the stages, events and alerts travel on a [`bus`](bus) that is always bounded and
//! counts every item it has to drop. Long-running parts of the daemon implement
//! [`Module`](module::Module) and report their [`Health`](module::Health) to the supervisor.
//! The whole configuration schema lives in [`config`], so the daemon and the CLI read the same
//! file the same way.

pub mod action;
pub mod alert;
pub mod bus;
pub mod config;
pub mod event;
pub mod finding;
pub mod module;
pub mod time;

pub use action::{ActionRecord, ActionState};
pub use alert::{Alert, AlertId, Attribution, Severity};
pub use event::{Event, FieldSource, FieldValue};
pub use finding::{ScanFinding, SourceCheckpoint};
