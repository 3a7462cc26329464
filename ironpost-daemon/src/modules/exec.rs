//! `[exec]`: the exec tracer. Every exec on the host becomes a `process_creation` event on the
//! event bus, for the Sigma rules. Without the privilege or a kernel with BTF the module reports
//! degraded with the reason and waits for shutdown: the daemon keeps running.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::Utc;
use ironpost_core::Event;
use ironpost_core::config::modules::ExecConfig;
use ironpost_core::event::ProcessEvent;
use ironpost_core::module::{Module, ModuleContext, ModuleError, ModuleFuture};
use ironpost_ebpf_engine::exec::process::ProcessResolver;
use ironpost_ebpf_engine::exec::{ExecCounts, ExecTracer, KernelFilters};

/// The exec tracer module.
pub struct ExecModule {
    config: ExecConfig,
}

impl ExecModule {
    /// Builds the module from its section.
    pub fn new(config: ExecConfig) -> Self {
        ExecModule { config }
    }
}

/// True when the config's filters exclude `ev`.
fn excluded(config: &ExecConfig, ev: &ProcessEvent) -> bool {
    config.exclude_uids.contains(&ev.uid)
        || config
            .exclude_path_prefixes
            .iter()
            .any(|p| !p.is_empty() && ev.image.starts_with(p.as_str()))
        || ev.container.as_ref().is_some_and(|c| {
            config
                .exclude_containers
                .iter()
                .any(|x| !x.is_empty() && c.id.starts_with(x.as_str()))
        })
}

impl Module for ExecModule {
    fn name(&self) -> &'static str {
        "exec"
    }

    fn run(self: Arc<Self>, mut ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            let filters = KernelFilters {
                uids: self.config.exclude_uids.clone(),
                path_prefixes: self.config.exclude_path_prefixes.clone(),
            };
            let tracer =
                match tokio::task::spawn_blocking(move || ExecTracer::attach_with(&filters))
                    .await
                    .map_err(|e| ModuleError::new(format!("exec: {e}")))?
                {
                    Ok(t) => t,
                    Err(e) => {
                        let reason =
                            format!("{e} (the daemon needs root, or CAP_BPF and CAP_PERFMON)");
                        tracing::warn!(reason = %reason, "exec tracer not running");
                        ctx.health.degraded(reason);
                        ctx.shutdown.wait().await;
                        return Ok(());
                    }
                };
            ctx.health.healthy();
            tracing::info!("exec tracer attached to sched_process_exec");
            let mut resolver = ProcessResolver::default();
            let (execs, filtered, dropped, kernel_filtered) = (
                ctx.counters.counter("execs"),
                ctx.counters.counter("execs_filtered"),
                ctx.counters.counter("execs_lost_ringbuf"),
                ctx.counters.counter("execs_filtered_in_kernel"),
            );
            let events = ctx.events.clone();
            let config = self.config.clone();
            let mut on_exec = move |exec| {
                let ev = resolver.resolve(&exec, Utc::now());
                if excluded(&config, &ev) {
                    filtered.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                execs.fetch_add(1, Ordering::Relaxed);
                // The reader must never wait: a full bus drops (and counts) the event.
                let _ = events.try_send(Event::Process(ev));
            };
            let mut on_counts = move |c: ExecCounts| {
                dropped.store(c.lost, Ordering::Relaxed);
                kernel_filtered.store(c.filtered, Ordering::Relaxed);
            };
            let mut shutdown = ctx.shutdown.clone();
            tracer
                .run(shutdown.wait(), &mut on_exec, &mut on_counts)
                .await
                .map_err(|e| ModuleError::new(format!("exec: {e}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironpost_core::event::ContainerRef;

    fn event(image: &str, uid: u32, container: Option<&str>) -> ProcessEvent {
        ProcessEvent {
            timestamp: Utc::now(),
            pid: 2,
            ppid: 1,
            uid,
            gid: 0,
            user: None,
            image: image.into(),
            argv: vec![image.into()],
            argv_truncated: false,
            command_line: image.into(),
            cwd: None,
            parent_image: None,
            parent_command_line: None,
            cgroup_id: 0,
            container: container.map(|id| ContainerRef {
                id: id.into(),
                name: None,
                image: None,
            }),
        }
    }

    #[test]
    fn filters_exclude_by_path_uid_and_container() {
        let c = ExecConfig {
            enabled: true,
            exclude_path_prefixes: vec!["/usr/lib/".into()],
            exclude_uids: vec![33],
            exclude_containers: vec!["4a3f1c8e9b2d".into()],
        };
        assert!(excluded(&c, &event("/usr/lib/x/helper", 0, None)));
        assert!(excluded(&c, &event("/bin/sh", 33, None)));
        assert!(excluded(&c, &event("/bin/sh", 0, Some("4a3f1c8e9b2d7f6a"))));
        assert!(!excluded(&c, &event("/bin/sh", 0, Some("ffff"))));
        assert!(!excluded(&c, &event("/usr/bin/id", 1000, None)));
    }
}
