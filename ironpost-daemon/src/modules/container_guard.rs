//! `[container_guard]`: the container guard as a daemon module.
//!
//! The guard reads its own bounded alert bus, fed by the store writer (see store_writer.rs),
//! and publishes itself to the control API's guard routes once Docker has answered.

use std::sync::{Arc, RwLock};

use ironpost_container_guard::{ContainerGuardModule, Guard, GuardSlot};
use ironpost_core::Alert;
use ironpost_core::bus::{BusSender, bus};
use ironpost_core::config::modules::ContainerGuardConfig;
use ironpost_core::module::Module;
use ironpost_store::Store;

/// The guard of this daemon; one daemon per process, so one slot.
static SLOT: RwLock<Option<GuardSlot>> = RwLock::new(None);

/// Builds the module; returns the sender of its alert bus and the module.
pub fn build(
    config: &ContainerGuardConfig,
    store: Arc<dyn Store>,
) -> (BusSender<Alert>, Arc<dyn Module>) {
    let (tx, rx) = bus("container_guard", config.queue.max(1));
    let slot = GuardSlot::default();
    *SLOT.write().unwrap_or_else(|e| e.into_inner()) = Some(slot.clone());
    (
        tx,
        Arc::new(ContainerGuardModule::new(config.clone(), store, rx, slot)),
    )
}

/// Whether the guard is enabled, and the running guard once Docker has answered.
pub fn current() -> Option<Option<Arc<Guard>>> {
    SLOT.read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|slot| slot.read().unwrap_or_else(|e| e.into_inner()).clone())
}
