//! `[xdp]`: the XDP network sensor on one interface.
//!
//! Loads and attaches the program (native, then generic in `auto` mode), keeps the blocklist
//! installed (from the config file, `ironpost block` and the auto-block responder), and turns
//! kernel reports into network events and alerts. Without the privilege or kernel support the
//! module reports degraded with the reason and waits for shutdown: the daemon keeps running.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ironpost_core::config::modules::{XdpAttachMode, XdpConfig};
use ironpost_core::module::{Counters, Module, ModuleContext, ModuleFuture};
use ironpost_core::{Alert, Event};
use ironpost_ebpf_engine::xdp::abi::Stat;
use ironpost_ebpf_engine::xdp::{
    AttachMode, BlockAction, BlockEntry, Blocklist, Capacities, Detection, IpNet, Origin,
    SensorOutput, SensorSettings, Stats, XdpSensor,
};

/// The XDP sensor module.
pub struct Xdp {
    config: XdpConfig,
    blocklist: Arc<Blocklist>,
}

/// Parses config entries; the config check has already refused bad ones.
fn nets(list: &[String]) -> Vec<IpNet> {
    list.iter()
        .filter_map(|t| match t.trim().parse::<IpNet>() {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(entry = %t, error = %e, "xdp: skipping an unusable entry");
                None
            }
        })
        .collect()
}

/// The block, monitor and allow lists of the section: its own keys plus its list files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct XdpLists {
    /// Dropped.
    pub block: Vec<IpNet>,
    /// Reported, passed.
    pub monitor: Vec<IpNet>,
    /// Never blocked.
    pub allow: Vec<IpNet>,
}

/// Reads one list file: an address or prefix per line, `#` starting a comment. The error
/// names the file and the line.
pub fn read_list_file(path: &Path) -> Result<Vec<IpNet>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        let net = entry.parse::<IpNet>().map_err(|e| {
            format!(
                "{}:{}: `{entry}` is not an IPv4 or IPv6 address or CIDR prefix: {e}",
                path.display(),
                i + 1
            )
        })?;
        out.push(net);
    }
    Ok(out)
}

/// The lists of `config`, reading its list files.
pub fn read_lists(config: &XdpConfig) -> Result<XdpLists, String> {
    let mut lists = XdpLists {
        block: nets(&config.blocklist),
        monitor: nets(&config.monitorlist),
        allow: nets(&config.allowlist),
    };
    for (file, list) in [
        (&config.blocklist_file, &mut lists.block),
        (&config.monitorlist_file, &mut lists.monitor),
        (&config.allowlist_file, &mut lists.allow),
    ] {
        if !file.as_os_str().is_empty() {
            list.extend(read_list_file(file).map_err(|e| format!("xdp: {e}"))?);
        }
    }
    Ok(lists)
}

/// Makes the blocklist's allowlist and its configured entries those of `lists`; entries added
/// at run time (`ironpost block`, the auto-block responder) stay.
pub fn apply_lists(blocklist: &Blocklist, lists: &XdpLists) {
    blocklist.set_allowlist(lists.allow.clone());
    let mut wanted = Vec::new();
    for (list, action) in [
        (&lists.block, BlockAction::Drop),
        (&lists.monitor, BlockAction::Monitor),
    ] {
        for target in list {
            wanted.push(BlockEntry::new(
                *target,
                action,
                "xdp config",
                Origin::Config,
                None,
            ));
        }
    }
    for refused in blocklist.sync_origin(Origin::Config, wanted) {
        tracing::warn!(error = %refused, "xdp: config entry not installed");
    }
}

impl Xdp {
    /// Builds the module enforcing `blocklist`, which already holds the section's lists.
    pub fn new(config: XdpConfig, blocklist: Arc<Blocklist>) -> Self {
        Xdp { config, blocklist }
    }

    fn settings(&self, host: &str) -> SensorSettings {
        SensorSettings {
            interface: self.config.interface.clone(),
            mode: match self.config.attach_mode {
                XdpAttachMode::Auto => None,
                XdpAttachMode::Native => Some(AttachMode::Native),
                XdpAttachMode::Generic => Some(AttachMode::Generic),
            },
            window: Duration::from_secs(self.config.window_secs),
            cooldown: Duration::from_secs(self.config.cooldown_secs),
            syn_threshold: self.config.syn_threshold,
            port_threshold: self.config.port_threshold,
            auto_block_ttl: (self.config.auto_block_ttl_secs > 0)
                .then(|| Duration::from_secs(self.config.auto_block_ttl_secs)),
            host: host.to_owned(),
            capacities: Capacities::default(),
        }
    }
}

/// Hands detections to the buses and mirrors the kernel's statistics into the counters.
struct Output {
    events: ironpost_core::bus::BusSender<Event>,
    alerts: ironpost_core::bus::BusSender<Alert>,
    counters: Counters,
    last: Stats,
}

impl SensorOutput for Output {
    fn detection(&mut self, d: Detection) {
        tracing::info!(rule = %d.alert.rule_id, src = %d.event.src_ip, count = d.event.count, "xdp detection");
        // The ring-buffer reader must never wait: a full bus drops (and counts) the item.
        if self.events.try_send(Event::Network(d.event)).is_ok() {
            self.counters.add("events_sent", 1);
        }
        if self.alerts.try_send(d.alert).is_ok() {
            self.counters.add("alerts_raised", 1);
        }
    }

    fn auto_blocked(&mut self, entry: &BlockEntry) {
        tracing::warn!(target = %entry.target, reason = %entry.reason, expires_at = ?entry.expires_at, "xdp auto-block");
        self.counters.add("auto_blocks", 1);
    }

    fn stats(&mut self, stats: &Stats) {
        for (stat, value) in stats.iter() {
            let delta = value.saturating_sub(self.last.get(stat));
            self.counters.add(stat.name(), delta);
        }
        self.last = stats.clone();
    }
}

impl Module for Xdp {
    fn name(&self) -> &'static str {
        "xdp"
    }

    fn counters(&self) -> &'static [&'static str] {
        static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        NAMES.get_or_init(|| {
            let mut names: Vec<&'static str> = Stat::ALL.iter().map(|s| s.name()).collect();
            names.extend([
                "events_sent",
                "alerts_raised",
                "auto_blocks",
                "attach_mode_native",
                "attach_mode_generic",
            ]);
            names
        })
    }

    fn run(self: Arc<Self>, mut ctx: ModuleContext) -> ModuleFuture {
        Box::pin(async move {
            let settings = self.settings(&ctx.host);
            let blocklist = self.blocklist.clone();
            let started =
                tokio::task::spawn_blocking(move || XdpSensor::start(settings, blocklist))
                    .await
                    .map_err(|e| ironpost_core::module::ModuleError::new(format!("xdp: {e}")))?;
            let sensor = match started {
                Ok(s) => s,
                Err(e) => {
                    let hint = if e.is_permission() {
                        " (the daemon needs CAP_BPF and CAP_NET_ADMIN, or root)"
                    } else {
                        ""
                    };
                    let reason = format!("{e}{hint}");
                    tracing::warn!(interface = %self.config.interface, reason = %reason, "xdp sensor not running");
                    ctx.health.degraded(reason);
                    ctx.shutdown.wait().await;
                    return Ok(());
                }
            };
            let mode = sensor.mode();
            tracing::info!(interface = %self.config.interface, mode = mode.as_str(), "xdp sensor attached");
            // The attach mode is shown by `ironpost status` as a counter set to 1.
            ctx.counters
                .counter(match mode {
                    AttachMode::Native => "attach_mode_native",
                    AttachMode::Generic => "attach_mode_generic",
                })
                .store(1, Ordering::Relaxed);
            ctx.health.healthy();
            let mut output = Output {
                events: ctx.events.clone(),
                alerts: ctx.alerts.clone(),
                counters: ctx.counters.clone(),
                last: Stats::default(),
            };
            let mut shutdown = ctx.shutdown.clone();
            let result = sensor.run(shutdown.wait(), &mut output).await;
            result.map_err(|e| ironpost_core::module::ModuleError::new(format!("xdp: {e}")))
        })
    }
}
