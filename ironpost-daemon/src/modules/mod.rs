//! The daemon's modules, each built from its config section, and the stage each runs in.

pub mod container_guard;
pub mod detection;
pub mod exec;
pub mod log_pipeline;
pub mod retention;
pub mod sbom;
pub mod selftest;
pub mod sinks;
pub mod store_writer;
pub mod unrouted;
pub mod xdp;

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
/// Stage of the sinks: stopped once the writers have stored (and so offered) their last records.
pub const STAGE_DELIVERY: usize = 3;
/// How many stages there are.
pub const STAGES: usize = 4;

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
    // Sinks see what the store accepted, whichever module wrote it.
    if let Some(built) = sinks::build(ctx.config) {
        if let Some(set) = built.set {
            ctx.store = sinks::tee(set, ctx.store.clone());
        }
        modules.push((STAGE_DELIVERY, built.module));
    }
    if ctx.config.selftest.enabled {
        modules.push((
            STAGE_SENSORS,
            Arc::new(selftest::Selftest::new(ctx.config.selftest.clone())),
        ));
    }
    if ctx.config.log_pipeline.enabled && !ctx.config.log_pipeline.sources.is_empty() {
        modules.push((
            STAGE_SENSORS,
            Arc::new(log_pipeline::LogPipeline::new(
                ctx.config.log_pipeline.clone(),
                ctx.store.clone(),
            )),
        ));
    }
    if ctx.config.sigma.enabled
        && let Some(events) = ctx.events.take()
    {
        modules.push((
            STAGE_DETECTION,
            Arc::new(detection::Detection::new(ctx.config.sigma.clone(), events)),
        ));
    }
    if ctx.config.exec.enabled {
        modules.push((
            STAGE_SENSORS,
            Arc::new(exec::ExecModule::new(ctx.config.exec.clone())),
        ));
    }
    if ctx.config.xdp.enabled {
        let module = xdp::Xdp::new(ctx.config.xdp.clone());
        crate::control_block::register(module.blocklist());
        modules.push((STAGE_SENSORS, Arc::new(module)));
    }
    if let Some(events) = ctx.events.take() {
        modules.push((STAGE_DETECTION, Arc::new(unrouted::Unrouted::new(events))));
    }
    if !ctx.config.sbom.scan_paths.is_empty() || ctx.config.sbom.scan_containers {
        let db_dir = if ctx.config.sbom.db_dir.as_os_str().is_empty() {
            ctx.config.general.data_dir.join("vulndb")
        } else {
            ctx.config.sbom.db_dir.clone()
        };
        modules.push((
            STAGE_SENSORS,
            Arc::new(sbom::SbomScan::new(
                ctx.config.sbom.clone(),
                db_dir,
                ctx.store.clone(),
            )),
        ));
    }
    if ctx.config.store.retention_days > 0 {
        modules.push((
            STAGE_OUTPUT,
            Arc::new(retention::Retention::new(
                ctx.store.clone(),
                ctx.config.store.retention_days,
            )),
        ));
    }
    let mut responders = Vec::new();
    if ctx.config.container_guard.enabled {
        let (tx, module) = container_guard::build(&ctx.config.container_guard, ctx.store.clone());
        responders.push(tx);
        modules.push((STAGE_OUTPUT, module));
    }
    if let Some(alerts) = ctx.alerts.take() {
        modules.push((
            STAGE_OUTPUT,
            Arc::new(
                store_writer::StoreWriter::new(
                    alerts,
                    ctx.store.clone(),
                    ctx.config.store.batch_size,
                )
                .with_downstream(responders),
            ),
        ));
    }
    modules
}
