//! The daemon's modules, each built from its config section, and the stage each runs in.

pub mod selftest;
pub mod store_writer;
pub mod unrouted;

use std::sync::Arc;

use ironpost_core::bus::BusReceiver;
use ironpost_core::config::Config;
use ironpost_core::module::Module;
use ironpost_core::{Alert, Event};
use ironpost_store::Store;

/// Stage of sensors and sources: stopped first.
pub const STAGE_SENSORS: usize = 0;
/// Stage of detection: stopped once sensors have stopped.
pub const STAGE_DETECTION: usize = 1;
/// Stage of writers and responders: stopped last, after draining the alert bus.
pub const STAGE_OUTPUT: usize = 2;
/// How many stages there are.
pub const STAGES: usize = 3;

/// Everything module builders may take from.
pub struct BuildContext<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The reading end of the event bus; the first builder that consumes events takes it.
    pub events: Option<BusReceiver<Event>>,
    /// The reading end of the alert bus.
    pub alerts: Option<BusReceiver<Alert>>,
}

/// Builds every enabled module with its stage.
pub fn build(mut ctx: BuildContext<'_>) -> Vec<(usize, Arc<dyn Module>)> {
    let mut modules: Vec<(usize, Arc<dyn Module>)> = Vec::new();
    if ctx.config.selftest.enabled {
        modules.push((
            STAGE_SENSORS,
            Arc::new(selftest::Selftest::new(ctx.config.selftest.clone())),
        ));
    }
    if let Some(events) = ctx.events.take() {
        modules.push((STAGE_DETECTION, Arc::new(unrouted::Unrouted::new(events))));
    }
    if let Some(alerts) = ctx.alerts.take() {
        modules.push((
            STAGE_OUTPUT,
            Arc::new(store_writer::StoreWriter::new(
                alerts,
                ctx.store.clone(),
                ctx.config.store.batch_size,
            )),
        ));
    }
    modules
}
