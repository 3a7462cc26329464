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
use ironpost_ebpf_engine::exec::process::{CwdSource, ProcessResolver};
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
        || ev
            .container
            .as_ref()
            .is_some_and(|c| container_excluded(config, &c.id))
}

/// True when `exclude_containers` names container `id` (a full id or a prefix of it).
fn container_excluded(config: &ExecConfig, id: &str) -> bool {
    config
        .exclude_containers
        .iter()
        .any(|x| !x.is_empty() && id.starts_with(x.as_str()))
}

/// The cgroup the kernel may drop the execs of, learnt from `ev` (which the filters exclude):
/// its cgroup when that cgroup's unified path names an excluded container. All three filters
/// run in the kernel: uids and path prefixes as configured; containers by their cgroups, each
/// learnt here from its first exec, since only userspace maps cgroups to containers.
fn cgroup_to_filter(
    config: &ExecConfig,
    resolver: &ProcessResolver,
    ev: &ProcessEvent,
) -> Option<u64> {
    let container = resolver.unified_container(ev.cgroup_id)?;
    container_excluded(config, container).then_some(ev.cgroup_id)
}

impl Module for ExecModule {
    fn name(&self) -> &'static str {
        "exec"
    }

    fn counters(&self) -> &'static [&'static str] {
        &[
            "execs",
            "execs_filtered",
            "execs_lost_ringbuf",
            "execs_undecodable",
            "execs_filtered_in_kernel",
            "execs_cwd_from_proc",
            "execs_cwd_unknown",
        ]
    }

    fn run(self: Arc<Self>, mut ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            let filters = KernelFilters {
                uids: self.config.exclude_uids.clone(),
                path_prefixes: self.config.exclude_path_prefixes.clone(),
                max_args_bytes: self.config.max_args_bytes,
            };
            let mut tracer =
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
            let mut cgroup_filter = tracer.cgroup_filter();
            let (execs, filtered, dropped, kernel_filtered, undecodable) = (
                ctx.counters.counter("execs"),
                ctx.counters.counter("execs_filtered"),
                ctx.counters.counter("execs_lost_ringbuf"),
                ctx.counters.counter("execs_filtered_in_kernel"),
                ctx.counters.counter("execs_undecodable"),
            );
            // Where working directories came from: the kernel's record normally; /proc when the
            // kernel's was cut or unreadable; neither when the process was gone by then.
            let (cwd_proc, cwd_unknown) = (
                ctx.counters.counter("execs_cwd_from_proc"),
                ctx.counters.counter("execs_cwd_unknown"),
            );
            let events = ctx.events.clone();
            let config = self.config.clone();
            let mut on_exec = move |exec| {
                let (ev, cwd_source) = resolver.resolve_with_source(&exec, Utc::now());
                match cwd_source {
                    CwdSource::Kernel => {}
                    CwdSource::Proc => {
                        cwd_proc.fetch_add(1, Ordering::Relaxed);
                    }
                    CwdSource::None => {
                        cwd_unknown.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if excluded(&config, &ev) {
                    filtered.fetch_add(1, Ordering::Relaxed);
                    if let (Some(f), Some(cgroup)) = (
                        cgroup_filter.as_mut(),
                        cgroup_to_filter(&config, &resolver, &ev),
                    ) && let Err(e) = f.exclude(cgroup)
                    {
                        tracing::debug!(error = %e, cgroup, "exec: cgroup not filtered in the kernel");
                    }
                    return;
                }
                execs.fetch_add(1, Ordering::Relaxed);
                // The reader must never wait: a full bus drops (and counts) the event.
                let _ = events.try_send(Event::Process(ev));
            };
            let mut on_counts = move |c: ExecCounts| {
                dropped.store(c.lost, Ordering::Relaxed);
                kernel_filtered.store(c.filtered, Ordering::Relaxed);
                undecodable.store(c.undecodable, Ordering::Relaxed);
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
    fn only_cgroups_whose_unified_path_names_an_excluded_container_go_to_the_kernel() {
        use ironpost_ebpf_engine::exec::{Exec, KernelCwd};
        let id = "4a3f1c8e9b2d7f6a5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f";
        let other = "0000000000000000000000000000000000000000000000000000000000000001";
        let proc_root =
            std::env::temp_dir().join(format!("ironpost-exec-module-{}", std::process::id()));
        for (pid, text) in [
            (50, format!("0::/system.slice/docker-{id}.scope\n")),
            (
                51,
                format!("4:memory:/docker/{id}\n0::/system.slice/docker.service\n"),
            ),
            (52, format!("0::/system.slice/docker-{other}.scope\n")),
        ] {
            std::fs::create_dir_all(proc_root.join(pid.to_string())).unwrap();
            std::fs::write(proc_root.join(format!("{pid}/cgroup")), text).unwrap();
        }
        let config = ExecConfig {
            enabled: true,
            exclude_path_prefixes: vec![],
            exclude_uids: vec![],
            exclude_containers: vec!["4a3f1c8e9b2d".into()],
            ..ExecConfig::default()
        };
        let mut resolver = ProcessResolver::new(&proc_root, proc_root.join("passwd"));
        let mut verdict = |pid: u32, cgroup_id: u64| {
            let exec = Exec {
                pid,
                ppid: 1,
                uid: 0,
                gid: 0,
                cgroup_id,
                filename: "/bin/true".into(),
                argv: vec!["/bin/true".into()],
                argv_truncated: false,
                cwd: KernelCwd::Path("/".into()),
                start_ns: 0,
                parent_start_ns: 0,
            };
            let ev = resolver.resolve(&exec, Utc::now());
            (
                excluded(&config, &ev),
                cgroup_to_filter(&config, &resolver, &ev),
            )
        };
        assert_eq!(verdict(50, 900), (true, Some(900)));
        // Excluded, but through a v1 hierarchy: its v2 cgroup is docker.service's, kept.
        assert_eq!(verdict(51, 901), (true, None));
        assert_eq!(verdict(52, 902), (false, None));
        let _ = std::fs::remove_dir_all(&proc_root);
    }

    #[test]
    fn filters_exclude_by_path_uid_and_container() {
        let c = ExecConfig {
            enabled: true,
            exclude_path_prefixes: vec!["/usr/lib/".into()],
            exclude_uids: vec![33],
            exclude_containers: vec!["4a3f1c8e9b2d".into()],
            ..ExecConfig::default()
        };
        assert!(excluded(&c, &event("/usr/lib/x/helper", 0, None)));
        assert!(excluded(&c, &event("/bin/sh", 33, None)));
        assert!(excluded(&c, &event("/bin/sh", 0, Some("4a3f1c8e9b2d7f6a"))));
        assert!(!excluded(&c, &event("/bin/sh", 0, Some("ffff"))));
        assert!(!excluded(&c, &event("/usr/bin/id", 1000, None)));
    }
}
