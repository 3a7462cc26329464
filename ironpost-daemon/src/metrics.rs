//! The Prometheus endpoint: `GET /metrics` in the text exposition format on `[metrics] listen`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use ironpost_core::module::{Module, ModuleContext, ModuleError, ModuleFuture};

use crate::state::DaemonState;

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Renders every metric.
pub fn render(state: &DaemonState) -> String {
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "ironpost_build_info",
        "gauge",
        "Always 1; the version label names the build.",
    );
    let _ = writeln!(
        out,
        "ironpost_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    family(
        &mut out,
        "ironpost_uptime_seconds",
        "gauge",
        "Seconds since the daemon started.",
    );
    let _ = writeln!(out, "ironpost_uptime_seconds {}", state.uptime_secs());

    family(
        &mut out,
        "ironpost_config_generation",
        "gauge",
        "The loaded configuration's generation: 1 at start, one more per successful reload.",
    );
    let _ = writeln!(
        out,
        "ironpost_config_generation {}",
        state.reload.generation()
    );
    family(
        &mut out,
        "ironpost_config_reloads_total",
        "counter",
        "Reloads (SIGHUP, ironpost reload, watched files) by result.",
    );
    let _ = writeln!(
        out,
        "ironpost_config_reloads_total{{result=\"success\"}} {}\nironpost_config_reloads_total{{result=\"failure\"}} {}",
        state.reload.succeeded(),
        state.reload.failed()
    );
    let modules = state.modules();
    family(
        &mut out,
        "ironpost_module_healthy",
        "gauge",
        "1 when the module is healthy, else 0.",
    );
    for m in &modules {
        let up = u8::from(matches!(
            m.health.get(),
            ironpost_core::module::Health::Healthy
        ));
        let _ = writeln!(out, "ironpost_module_healthy{{module=\"{}\"}} {up}", m.name);
    }
    family(
        &mut out,
        "ironpost_module_restarts_total",
        "counter",
        "Restarts of the module by the supervisor.",
    );
    for m in &modules {
        let _ = writeln!(
            out,
            "ironpost_module_restarts_total{{module=\"{}\"}} {}",
            m.name,
            m.restarts.load(Ordering::Relaxed)
        );
    }
    family(
        &mut out,
        "ironpost_module_events_total",
        "counter",
        "Per-module counters; the counter label names what was counted (see docs/metrics.md).",
    );
    for m in &modules {
        for (counter, v) in m.counters.snapshot() {
            let _ = writeln!(
                out,
                "ironpost_module_events_total{{module=\"{}\",counter=\"{counter}\"}} {v}",
                m.name
            );
        }
    }
    let buses = [state.events.snapshot(), state.alerts.snapshot()];
    family(
        &mut out,
        "ironpost_bus_sent_total",
        "counter",
        "Items accepted onto the bus.",
    );
    for b in &buses {
        let _ = writeln!(
            out,
            "ironpost_bus_sent_total{{bus=\"{}\"}} {}",
            b.name, b.sent
        );
    }
    family(
        &mut out,
        "ironpost_bus_dropped_total",
        "counter",
        "Items dropped because the bus was full or closed.",
    );
    for b in &buses {
        let _ = writeln!(
            out,
            "ironpost_bus_dropped_total{{bus=\"{}\"}} {}",
            b.name, b.dropped
        );
    }
    family(
        &mut out,
        "ironpost_bus_queued",
        "gauge",
        "Items waiting on the bus.",
    );
    for b in &buses {
        let _ = writeln!(
            out,
            "ironpost_bus_queued{{bus=\"{}\"}} {}",
            b.name, b.queued
        );
    }
    family(
        &mut out,
        "ironpost_bus_capacity",
        "gauge",
        "Capacity of the bus.",
    );
    for b in &buses {
        let _ = writeln!(
            out,
            "ironpost_bus_capacity{{bus=\"{}\"}} {}",
            b.name, b.capacity
        );
    }
    let spool = state.spool.as_ref();
    let value = |f: fn(&ironpost_store::SpoolStats) -> u64| spool.map(|s| f(s)).unwrap_or(0);
    family(
        &mut out,
        "ironpost_store_spool_bytes",
        "gauge",
        "Bytes of writes waiting in the spool for an unreachable database.",
    );
    let _ = writeln!(out, "ironpost_store_spool_bytes {}", value(|s| s.bytes()));
    family(
        &mut out,
        "ironpost_store_spooled_total",
        "counter",
        "Records (alerts, actions, findings, checkpoints) written to the spool.",
    );
    let _ = writeln!(
        out,
        "ironpost_store_spooled_total {}",
        value(|s| s.spooled())
    );
    family(
        &mut out,
        "ironpost_store_spool_replayed_total",
        "counter",
        "Records replayed from the spool into the database.",
    );
    let _ = writeln!(
        out,
        "ironpost_store_spool_replayed_total {}",
        value(|s| s.replayed())
    );
    family(
        &mut out,
        "ironpost_store_spool_dropped_total",
        "counter",
        "Records dropped because the spool was full.",
    );
    let _ = writeln!(
        out,
        "ironpost_store_spool_dropped_total {}",
        value(|s| s.dropped())
    );
    crate::modules::sinks::render_metrics(&mut out);
    out
}

/// The metrics endpoint, supervised like a module so a busy port shows in status.
pub struct MetricsEndpoint {
    state: Arc<DaemonState>,
    listen: String,
}

impl MetricsEndpoint {
    /// Serves `state` on `listen`.
    pub fn new(state: Arc<DaemonState>, listen: String) -> Self {
        MetricsEndpoint { state, listen }
    }
}

impl Module for MetricsEndpoint {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn run(self: Arc<Self>, ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind(&self.listen)
                .await
                .map_err(|e| ModuleError::new(format!("cannot listen on {}: {e}", self.listen)))?;
            let state = self.state.clone();
            let app = Router::new().route(
                "/metrics",
                get(move || {
                    let state = state.clone();
                    async move {
                        (
                            [(
                                header::CONTENT_TYPE,
                                "text/plain; version=0.0.4; charset=utf-8",
                            )],
                            render(&state),
                        )
                            .into_response()
                    }
                }),
            );
            ctx.health.healthy();
            let mut stop = ctx.shutdown.clone();
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.wait().await })
                .await
                .map_err(|e| ModuleError::new(format!("metrics endpoint failed: {e}")))?;
            Ok(())
        })
    }
}
