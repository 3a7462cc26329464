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

/// One built module: its stage, and whether a reload may replace it with a new instance.
pub struct Built {
    /// The stage it runs in.
    pub stage: usize,
    /// The module.
    pub module: Arc<dyn Module>,
    /// True for modules a reload restarts with their new section.
    pub replaceable: bool,
}

/// What [`build`] returns: the modules, and the handles a reload changes them through.
pub struct BuildOutput {
    /// Every module to run.
    pub modules: Vec<Built>,
    /// Where the detection module takes new engines.
    pub sigma_updates: Option<tokio::sync::mpsc::Sender<detection::EngineUpdate>>,
    /// The rule files the detection module refused.
    pub sigma_refused: detection::RefusedRules,
    /// The store as modules see it (with the sinks' tee).
    pub store: Arc<dyn Store>,
}

/// The modules a reload builds again from their section when it changed, by name, with their
/// stage. Every other section is either applied in place (rules, policies, XDP lists) or
/// needs a restart.
pub const REPLACEABLE: &[(&str, usize)] = &[
    ("selftest", STAGE_SENSORS),
    ("log_pipeline", STAGE_SENSORS),
    ("exec", STAGE_SENSORS),
    ("xdp", STAGE_SENSORS),
    ("sbom", STAGE_SENSORS),
    ("retention", STAGE_OUTPUT),
];

/// Builds the replaceable module `name` from `config`, or `None` when the section leaves it
/// off. `blocklist` is the XDP blocklist, shared by every instance of the XDP module.
pub fn build_replaceable(
    name: &str,
    config: &Config,
    store: &Arc<dyn Store>,
    blocklist: &Arc<ironpost_ebpf_engine::xdp::Blocklist>,
) -> Option<Arc<dyn Module>> {
    match name {
        "selftest" => config
            .selftest
            .enabled
            .then(|| Arc::new(selftest::Selftest::new(config.selftest.clone())) as Arc<dyn Module>),
        "log_pipeline" => (config.log_pipeline.enabled && !config.log_pipeline.sources.is_empty())
            .then(|| {
                Arc::new(log_pipeline::LogPipeline::new(
                    config.log_pipeline.clone(),
                    store.clone(),
                )) as Arc<dyn Module>
            }),
        "exec" => config
            .exec
            .enabled
            .then(|| Arc::new(exec::ExecModule::new(config.exec.clone())) as Arc<dyn Module>),
        "xdp" => config.xdp.enabled.then(|| {
            Arc::new(xdp::Xdp::new(config.xdp.clone(), blocklist.clone())) as Arc<dyn Module>
        }),
        "sbom" => (!config.sbom.scan_paths.is_empty() || config.sbom.scan_containers).then(|| {
            let db_dir = if config.sbom.db_dir.as_os_str().is_empty() {
                config.general.data_dir.join("vulndb")
            } else {
                config.sbom.db_dir.clone()
            };
            Arc::new(sbom::SbomScan::new(
                config.sbom.clone(),
                db_dir,
                store.clone(),
            )) as Arc<dyn Module>
        }),
        "retention" => (config.store.retention_days > 0).then(|| {
            Arc::new(retention::Retention::new(
                store.clone(),
                config.store.retention_days,
            )) as Arc<dyn Module>
        }),
        _ => None,
    }
}

/// Builds every enabled module with its stage.
pub fn build(
    mut ctx: BuildContext<'_>,
    blocklist: &Arc<ironpost_ebpf_engine::xdp::Blocklist>,
) -> BuildOutput {
    let mut modules: Vec<Built> = Vec::new();
    let fixed = |stage, module| Built {
        stage,
        module,
        replaceable: false,
    };
    // Sinks see what the store accepted, whichever module wrote it.
    if let Some(built) = sinks::build(ctx.config) {
        if let Some(set) = built.set {
            ctx.store = sinks::tee(set, ctx.store.clone());
        }
        modules.push(fixed(STAGE_DELIVERY, built.module));
    }
    for (name, stage) in REPLACEABLE {
        if let Some(module) = build_replaceable(name, ctx.config, &ctx.store, blocklist) {
            modules.push(Built {
                stage: *stage,
                module,
                replaceable: true,
            });
        }
    }
    let mut sigma_updates = None;
    let mut sigma_refused = detection::RefusedRules::default();
    if ctx.config.sigma.enabled
        && let Some(events) = ctx.events.take()
    {
        let module = detection::Detection::new(ctx.config.sigma.clone(), events);
        sigma_updates = Some(module.updates());
        sigma_refused = module.refused();
        modules.push(fixed(STAGE_DETECTION, Arc::new(module)));
    }
    if let Some(events) = ctx.events.take() {
        modules.push(fixed(
            STAGE_DETECTION,
            Arc::new(unrouted::Unrouted::new(events)),
        ));
    }
    let mut responders = Vec::new();
    if ctx.config.container_guard.enabled {
        let (tx, module) = container_guard::build(&ctx.config.container_guard, ctx.store.clone());
        responders.push(tx);
        modules.push(fixed(STAGE_OUTPUT, module));
    }
    if let Some(alerts) = ctx.alerts.take() {
        modules.push(fixed(
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
    BuildOutput {
        modules,
        sigma_updates,
        sigma_refused,
        store: ctx.store,
    }
}
