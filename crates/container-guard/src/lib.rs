//! Container response for Ironpost: Docker inventory, attribution, policies and actions.
//!
//! In the daemon's data flow the guard is a responder behind the alert bus: the store writer
//! forwards every alert batch to the guard's own bounded queue, so nothing on the detection
//! path ever waits on Docker. For each alert the guard
//!
//! 1. attributes it to one container of the live [`inventory`] (kept current from the
//!    Engine's events stream) by cgroup, container reference or address ([`attribution`]);
//!    an alert that names no container, or several, triggers nothing;
//! 2. finds the first matching [`policy`] (one TOML file each; the format is documented there);
//! 3. applies the [`safeguards`]: never the daemon's own container nor one labelled
//!    `ironpost.protect=true`, a cooldown per (container, policy), a circuit breaker, global
//!    and per-policy dry run, and approval (`ironpost guard approve ID`);
//! 4. hands the ladder to a worker that carries out the [`actions`] (network isolate, pause,
//!    snapshot, stop, kill) with a timeout per Docker call; "already in that state" answers
//!    (304, 409, "not connected") count as done;
//! 5. records every step as an `ActionRecord` in the store through the [`audit`] writer:
//!    planned, dry run, done, failed, suppressed, and released when
//!    [`Guard::release`](guard::Guard::release) reconnects the saved networks and unpauses.
//!
//! Beside responding, the guard is also a log source: [`logs`] follows the output of selected
//! containers onto the event bus with the container attached, so detection's alerts on it come
//! back attributed.

pub mod actions;
pub mod attribution;
pub mod audit;
pub mod cgroup;
pub mod docker;
pub mod error;
pub mod guard;
pub mod inventory;
pub mod logs;
pub mod module;
pub mod policy;
pub mod safeguards;

pub use error::GuardError;
pub use guard::{Decision, Guard, GuardSettings, Plan, Release};
pub use inventory::{ContainerInfo, Inventory};
pub use module::{ContainerGuardModule, GuardSlot};
pub use policy::Policy;
